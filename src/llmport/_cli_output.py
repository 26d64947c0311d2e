"""What the command line prints: response summaries and one-line errors with a next step."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, TextIO

from llmport.errors import ErrorKind
from llmport.response import LLMError, LLMResponse

if TYPE_CHECKING:
    from llmport.config import BaseLLMConfig

__all__ = [
    "describe_calls",
    "error_line",
    "next_step",
    "one_line",
    "print_response",
    "summary",
]

_NO_PROVIDER = "llm provider not provided"


def error_line(error: LLMError, config: BaseLLMConfig | None = None) -> str:
    """`llmport: <kind>: <reason>. Next step: <what to do>.` on one line, for stderr."""
    line = f"llmport: {error.kind.value}: {_reason(error).rstrip('.')}."
    step = next_step(error, config)
    return f"{line} Next step: {step}." if step else line


def next_step(error: LLMError, config: BaseLLMConfig | None) -> str:
    """What the user should do about `error`, naming the variable to set where there is one."""
    var = type(config).env_name if config is not None else _generic_env_name
    model = config.chat_model if config is not None else ""
    # The direct provider names its endpoint `base_url`; the others `api_base`.
    endpoint = (
        "base_url" if config is not None and "base_url" in type(config).model_fields else "api_base"
    )
    base = getattr(config, endpoint, None)
    if error.kind is ErrorKind.INVALID_REQUEST and _NO_PROVIDER in error.message.lower():
        prefix, slash, name = model.partition("/")
        if slash and prefix and name:
            return (
                f"{prefix + '/'!r} is not a provider prefix litellm knows: "
                f"set {var('chat_model')} to one it does, such as openai/{name}"
            )
        example = f"openai/{model}" if model and "/" not in model else "openai/gpt-4o-mini"
        return f"add a provider prefix to the model: set {var('chat_model')}={example}"
    steps: dict[ErrorKind, str] = {
        ErrorKind.AUTH: f"set {var('api_key')} to a valid key (or the backend's own key variable)",
        ErrorKind.PERMISSION: f"check that the key may use the model in {var('chat_model')}",
        ErrorKind.NOT_FOUND: f"check the model name in {var('chat_model')}"
        + (f" (now {model!r})" if model else ""),
        ErrorKind.INVALID_REQUEST: f"check the model name in {var('chat_model')} "
        "and the call's parameters",
        ErrorKind.CONTEXT_LENGTH: "shorten the prompt or choose a model with a longer context",
        ErrorKind.CONTENT_FILTER: "the provider refused the content; rephrase the prompt",
        ErrorKind.RATE_LIMIT: "wait and try again, or raise "
        f"{var('retry')}__MAX_ATTEMPTS to retry for longer",
        ErrorKind.QUOTA: "check the account's plan and billing with the provider",
        ErrorKind.SERVER: "the provider failed; try again later",
        ErrorKind.BAD_RESPONSE: f"check that {var(endpoint)} points at an "
        "OpenAI-compatible endpoint",
        ErrorKind.TIMEOUT: f"raise {var('timeout')}"
        + (f" (now {config.timeout:g} s)" if config is not None else ""),
        ErrorKind.CONNECTION: f"check that {var(endpoint)} is right and the server is up"
        + (f" (now {base})" if base else ""),
        ErrorKind.BUDGET: "wait for the budget period to reset, or raise the tenant's limit",
        ErrorKind.BUDGET_UNAVAILABLE: "check that the budget store (Redis) is reachable",
    }
    return steps.get(error.kind, "")


def _generic_env_name(field: str) -> str:
    return f"<PROVIDER>_{field.upper()}"


def _reason(error: LLMError) -> str:
    """The message without its leading `<kind>: ` and folded onto one line."""
    message = error.message
    prefix = f"{error.kind.value}:"
    if message.startswith(prefix):
        message = message[len(prefix) :]
    return one_line(message) or error.kind.value


def one_line(text: str) -> str:
    """`text` with every run of whitespace, newlines included, folded to one space."""
    return re.sub(r"\s+", " ", text).strip()


def describe_calls(response: LLMResponse) -> str:
    """Tool calls as `name({...arguments...})`, separated by `; `."""
    return "; ".join(f"{c.name}({json.dumps(c.arguments)})" for c in response.tool_calls)


def summary(response: LLMResponse) -> dict[str, Any]:
    """A JSON-able view of a response (what `--json` prints)."""
    return {
        "status": response.status.value,
        "content": response.content,
        "tool_calls": [
            {"id": call.id, "name": call.name, "arguments": call.arguments}
            for call in response.tool_calls
        ],
        "finish_reason": response.finish_reason,
        "usage": {
            "prompt_tokens": response.usage.prompt_tokens,
            "completion_tokens": response.usage.completion_tokens,
            "total_tokens": response.usage.total_tokens,
        },
        "latency_ms": round(response.latency_ms, 1),
        "attempts": response.attempts,
        "error": None
        if response.error is None
        else {"kind": response.error.kind.value, "message": _reason(response.error)},
    }


def print_response(out: TextIO, response: LLMResponse) -> None:
    """The demo's human-readable lines for one step, below its title."""
    view = summary(response)
    out.write(f"   status:      {view['status'].upper()}\n")
    if response.content:
        out.write(f"   content:     {response.content}\n")
    for call in view["tool_calls"]:
        out.write(
            f"   tool call:   {call['name']}({json.dumps(call['arguments'])}) id={call['id']}\n"
        )
    usage = view["usage"]
    out.write(
        f"   usage:       prompt={usage['prompt_tokens']} completion={usage['completion_tokens']}"
        f" total={usage['total_tokens']}\n"
    )
    out.write(f"   latency:     {view['latency_ms']} ms over {response.attempts} attempt(s)\n")
    if response.error is not None:
        out.write(f"   error:       {response.error.kind.value}: {_reason(response.error)}\n")
    out.write("\n")
