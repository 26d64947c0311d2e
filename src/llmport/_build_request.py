"""Building a `ChatRequest`: every argument checked, config defaults merged with per-call options.

This runs before any I/O, so bad input raises a clear, typed error (`OptionTypeError`,
`ValueError`) and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmport._validation import (
    OptionTypeError,
    check_header,
    check_messages,
    check_metadata,
    check_sampling,
    check_sendable,
    check_stop,
    check_tools,
    positive_number,
)
from llmport.config import BaseLLMConfig
from llmport.options import check_call_options
from llmport.request import ChatRequest
from llmport.structured import (
    check_response_format,
    is_output_type,
    response_format_for,
    schema_instruction,
)

__all__ = ["build_request"]

#: Per-call keyword arguments that map onto config fields.
_SAMPLING_FIELDS = ("temperature", "top_p", "max_tokens", "seed")


def build_request(
    config: BaseLLMConfig,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None,
    stop: str | Sequence[str] | None,
    response_format: Any,
    tool_choice: Any,
    overrides: Mapping[str, Any] | None,
    *,
    supports_response_schema: bool,
) -> ChatRequest:
    """The request for one call to a provider configured by `config` (`BaseLLM.build_request`).

    `supports_response_schema`: whether the provider sends a JSON schema for an output
    type; if not, the schema goes to the model as a system instruction.

    Raises:
        TypeError: an unknown option, or an option of the wrong type.
        ValueError: an argument is malformed; the message says which and why.
    """
    overrides = dict(overrides or {})
    if "stream" in overrides:
        raise OptionTypeError("stream is not a call option: call llm.stream() or llm.astream()")
    check_call_options(overrides)
    tool_choice = overrides.pop("tool_choice", tool_choice)
    headers = dict(overrides.pop("extra_headers", None) or {})
    for name, value in headers.items():
        check_header(name, value)
    extra_params = overrides.pop("extra_params", None) or {}
    metadata = check_metadata(overrides.pop("metadata", None))
    check_response_format(response_format)
    model = overrides.pop("model", None) or config.chat_model
    if not isinstance(model, str):
        raise OptionTypeError(f"model must be a string, got {type(model).__name__}")
    timeout = overrides.pop("timeout", None)
    timeout = config.timeout if timeout is None else positive_number("timeout", timeout)
    total_timeout = overrides.pop("total_timeout", None)
    if total_timeout is None:
        total_timeout = config.total_timeout
    else:
        total_timeout = positive_number("total_timeout", total_timeout)
    params: dict[str, Any] = dict(config.extra_params)
    for name in _SAMPLING_FIELDS:
        value = overrides.pop(name, getattr(config, name))
        if value is not None:
            params[name] = check_sampling(name, value)
    params.update((name, value) for name, value in overrides.items() if value is not None)
    params.update(extra_params)
    checked_messages = check_messages(messages)
    output_type = None
    if is_output_type(response_format):
        output_type = response_format
        if supports_response_schema:
            response_format = response_format_for(output_type)
        else:
            response_format = None
            instruction = {"role": "system", "content": schema_instruction(output_type)}
            checked_messages = [instruction, *checked_messages]
    request = ChatRequest(
        model=model,
        messages=checked_messages,
        tools=check_tools(tools),
        tool_choice=tool_choice,
        stop=check_stop(stop),
        response_format=response_format,
        timeout=timeout,
        total_timeout=total_timeout,
        params=params,
        metadata=metadata,
        headers=headers,
        output_type=output_type,
    )
    check_sendable(
        messages=request.messages,
        tools=request.tools,
        tool_choice=request.tool_choice,
        response_format=request.response_format,
        params=request.params,
    )
    return request
