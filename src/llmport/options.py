"""`CallOptions`: the per-call options every entry point takes, typed once.

`chat_completions`, `achat_completions`, `stream`, `astream`, `FallbackLLM` and the
tool loop all take `**options: Unpack[CallOptions]`, so a type checker flags a
misspelt option, and at run time an unknown keyword raises `TypeError` with the
closest known name before any I/O. Options the list does not name (a backend's own
parameters) go through `extra_params={...}`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from typing_extensions import TypedDict

from llmport._validation import OptionTypeError

__all__ = ["CallOptions", "check_call_options"]


class CallOptions(TypedDict, total=False):
    """Per-call options; every key is optional and overrides the config for one call.

    `stop`, `tools` and `response_format` are ordinary parameters of the entry points.
    Sampling options that are left out keep the config's value; the others are not sent.
    """

    model: str
    """The model for this call instead of the configured one."""
    timeout: float
    """Seconds each read may wait (connect, each chunk of the body); not the whole call."""
    total_timeout: float
    """Seconds for the whole call, the attempt in flight and every retry included."""
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    metadata: Mapping[str, Any]
    """Your own fields for logs, hooks and metrics; sent to litellm as its `metadata`."""
    tool_choice: str | Mapping[str, Any]
    """`"auto"`, `"none"`, `"required"` or `{"type": "function", "function": {"name": ...}}`."""
    parallel_tool_calls: bool
    n: int
    user: str
    logprobs: bool
    top_logprobs: int
    presence_penalty: float
    frequency_penalty: float
    logit_bias: Mapping[str, float]
    reasoning_effort: str
    """E.g. `"low"`, `"medium"`, `"high"`, for models that reason."""
    service_tier: str
    extra_headers: Mapping[str, str]
    """HTTP headers for this call, merged over the configured `extra_headers`."""
    extra_body: Mapping[str, Any]
    """Fields merged into the JSON body sent to the backend."""
    extra_params: Mapping[str, Any]
    """Any other backend parameter, passed as it is (merged over the config's)."""


#: Every option name, from the TypedDict itself so the two cannot drift apart.
OPTION_NAMES: frozenset[str] = frozenset(CallOptions.__annotations__)

#: How each option's value is checked: the accepted types and how to say it.
_SHAPES: dict[str, tuple[tuple[type, ...], str]] = {
    "parallel_tool_calls": ((bool,), "true or false"),
    "logprobs": ((bool,), "true or false"),
    "n": ((int,), "an integer"),
    "top_logprobs": ((int,), "an integer"),
    "presence_penalty": ((int, float), "a number"),
    "frequency_penalty": ((int, float), "a number"),
    "user": ((str,), "a string"),
    "reasoning_effort": ((str,), "a string"),
    "service_tier": ((str,), "a string"),
    "tool_choice": ((str, Mapping), "a string or a dict"),
    "logit_bias": ((Mapping,), "a dict"),
    "extra_headers": ((Mapping,), "a dict of header names to values"),
    "extra_body": ((Mapping,), "a dict"),
    "extra_params": ((Mapping,), "a dict"),
}


def check_call_options(options: Mapping[str, Any], *, allowed: Sequence[str] = ()) -> None:
    """Refuse unknown option names and values of the wrong shape, before any I/O.

    `allowed` names extra keywords the caller accepts besides `CallOptions`.

    Raises:
        TypeError: an unknown keyword (with the closest known name), or a value of the
            wrong type for one of the options checked here (that one is also a
            `ValueError`, like every malformed argument).
    """
    for name, value in options.items():
        if name not in OPTION_NAMES and name not in allowed:
            raise TypeError(_unknown(name, [*OPTION_NAMES, *allowed]))
        shape = _SHAPES.get(name)
        if shape is None or value is None:
            continue
        types, description = shape
        is_int_option = int in types and float not in types and bool not in types
        if not isinstance(value, types) or (is_int_option and isinstance(value, bool)):
            raise OptionTypeError(f"{name} must be {description}, got {value!r}")
        if name == "extra_headers":
            _check_headers(options[name])
        elif name in ("extra_params", "extra_body"):
            _check_no_collision(name, options[name])


#: What llmport writes into every request itself, and how to set it instead.
_REQUEST_FIELDS = {
    "messages": "the messages argument",
    "tools": "the tools argument",
    "stop": "the stop argument",
    "response_format": "the response_format argument",
    "stream": "llm.stream() or llm.astream()",
    "stream_options": "llm.stream() or llm.astream()",
}
#: Options that are not body fields: `extra_body` may carry a backend field of that name
#: (OpenAI's own `metadata`, for instance).
_NOT_IN_BODY = frozenset(
    {"timeout", "total_timeout", "metadata", "extra_headers", "extra_params", "extra_body"}
)


def _check_no_collision(name: str, extra: Mapping[Any, Any]) -> None:
    """Refuse an escape-hatch key that would replace a checked option or a request field."""
    for key in extra:
        if key in _REQUEST_FIELDS:
            raise TypeError(
                f"{name}[{key!r}] would replace what llmport sends; use {_REQUEST_FIELDS[key]}"
            )
        if key in OPTION_NAMES and (name == "extra_params" or key not in _NOT_IN_BODY):
            raise TypeError(
                f"{name}[{key!r}] is a call option: pass {key}=... instead, so it is checked"
            )


def _check_headers(headers: Mapping[Any, Any]) -> None:
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise TypeError("extra_headers must map header names to string values")


def _unknown(name: str, known: Sequence[str]) -> str:
    message = f"unexpected keyword argument {name!r}"
    close = difflib.get_close_matches(name, sorted(known), n=1)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    return f"{message}; pass backend-specific parameters as extra_params={{{name!r}: ...}}"
