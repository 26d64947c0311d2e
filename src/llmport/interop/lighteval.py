"""One profile to a LightEval LiteLLM model config (`lighteval endpoint litellm FILE`).

LightEval reads the `model_parameters` mapping of the file into its `LiteLLMModelConfig`:
`model_name` (a LiteLLM model string), `provider`, `base_url`, `api_key`, `timeout`,
its retry settings and `generation_parameters`. LightEval hands `api_key` to litellm as
written, so a key reference cannot go there: the exported file names the variable in a
top-level `llmport` mapping (LightEval reads only `model_parameters` and
`metric_options`), and leaves `api_key` out, so litellm reads the provider's own
variable (`OPENAI_API_KEY` for `openai/...`). Export it from the profile's variable.
"""

from __future__ import annotations

from typing import Any

from llmport.errors import ConfigurationError
from llmport.interop._common import Converted, Note, dump_yaml
from llmport.interop.proxy_export import deployment_params
from llmport.profiles import Profiles

__all__ = ["export_lighteval"]

#: litellm_params -> the generation_parameters LightEval's LiteLLM client sends (each >= 0).
_GENERATION = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "max_new_tokens",
    "seed": "seed",
    "stop": "stop_tokens",
    "frequency_penalty": "frequency_penalty",
    "repetition_penalty": "repetition_penalty",
}
#: generation_parameters LightEval reads but its LiteLLM client never sends.
_NOT_SENT = frozenset({"top_k", "min_p", "presence_penalty"})
#: llmport's retry policy -> LightEval's own retry settings.
_RETRY = {
    "max_attempts": "api_max_retry",
    "initial_backoff": "api_retry_sleep",
    "multiplier": "api_retry_multiplier",
}


def export_lighteval(profiles: Profiles, name: str) -> Converted:
    """The LightEval LiteLLM model config for single profile `name`, with what it loses.

    Raises:
        ConfigurationError: `name` is not a single profile, or it cannot be exported
            (a literal key, a provider LiteLLM cannot call; see `export_litellm_proxy`).
    """
    where = str(profiles.path)
    profile = profiles.get(name)
    if profile is None or profile.is_group:
        what = "a group" if profile is not None else "not a profile"
        raise ConfigurationError(
            f"{where}: profiles.{name}: {what}; LightEval evaluates one single profile"
        )
    params, others = deployment_params(profiles, name)
    model = params.pop("model")
    model_parameters: dict[str, Any] = {"model_name": model}
    if "/" in model:
        model_parameters["provider"] = model.split("/", 1)[0]
    if params.get("api_base"):
        model_parameters["base_url"] = params.pop("api_base")
    params.pop("api_key", None)  # a reference LightEval would send as the key itself
    if "timeout" in params:
        model_parameters["timeout"] = params.pop("timeout")
    retry = dict(others.pop("retry", {}))
    for ours, theirs in _RETRY.items():
        if ours in retry:
            model_parameters[theirs] = retry.pop(ours)
    others.update({f"retry.{key}": value for key, value in retry.items()})
    generation, negative = _generation(params)
    notes = [
        Note(where, f"profiles.{name}.{k}", "LightEval accepts no negative value here")
        for k in negative
    ]
    if generation:
        model_parameters["generation_parameters"] = generation
    if "temperature" not in generation and "temperature" not in negative:
        reason = "not set: LightEval sends temperature 0 (greedy decoding)"
        notes.append(Note(where, f"profiles.{name}.temperature", reason))
    notes += [
        Note(where, f"profiles.{name}.{k}", _reason(k))
        for k in [*params, *others]
        if others.get(k) != {}  # an empty extra_params says nothing
    ]
    if profile.budget is not None:
        notes.append(Note(where, f"profiles.{name}.budget", "LightEval has no spending limit"))
    data: dict[str, Any] = {"model_parameters": model_parameters}
    header = [f"LightEval LiteLLM model config exported by llmport from {where}, profile {name!r}."]
    if profile.api_key_env:
        data["llmport"] = {"profile": name, "api_key_env": profile.api_key_env}
        header.append(
            f"The key is read from ${profile.api_key_env}: export it as the provider's key "
            "variable (e.g. OPENAI_API_KEY) before running lighteval."
        )
    header += [f"Not carried over: {note.key}: {note.reason}" for note in notes]
    return Converted(data, dump_yaml(data, header), tuple(notes))


def _generation(params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Take from `params` LightEval's generation_parameters, and the keys of negative values."""
    generation: dict[str, Any] = {}
    negative: list[str] = []
    for ours, theirs in _GENERATION.items():
        if ours not in params:
            continue
        value = params.pop(ours)
        if ours == "stop" and isinstance(value, str):
            value = [value]
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            negative.append(ours)
            continue
        generation[theirs] = value
    return generation, negative


def _reason(key: str) -> str:
    if key in _NOT_SENT:
        return "LightEval reads it but its LiteLLM client does not send it"
    return "LightEval's config has no such setting"
