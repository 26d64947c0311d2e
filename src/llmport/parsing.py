"""Defensive parsing of OpenAI-shaped chat completion payloads.

Nothing in this module raises on a strange payload. Payloads may be dicts (JSON
from an HTTP body) or objects with attributes (litellm's `ModelResponse`); both
are read through `_fields.read_field`. Decisions a caller may want to know about:

- Only the first choice is used when a provider sends several.
- A refusal with no other content becomes `content` (and is kept in `refusal`).
- Tool calls under `finish_reason: stop` normalise the finish reason to `tool_calls`.
- `finish_reason: content_filter` with no text and no tool calls is an ERROR.
- An `{"error": ...}` object, even inside an HTTP 200 body, is an ERROR.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmport._fields import as_count, read_field
from llmport._tool_call_parsing import (
    parse_tool_arguments,
    parse_tool_calls,
    synthesise_tool_call_id,
)
from llmport.errors import ErrorKind, kind_for_status
from llmport.redaction import redact, short_message
from llmport.response import LLMError, LLMResponse, LLMResponseStatus, Usage

__all__ = [
    "normalise_finish_reason",
    "parse_completion",
    "parse_content",
    "parse_tool_arguments",
    "parse_tool_calls",
    "parse_usage",
    "synthesise_tool_call_id",
]

_FINISH_REASONS = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "eos": "stop",
    "eos_token": "stop",
    "complete": "stop",
    "length": "length",
    "max_tokens": "length",
    "model_length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "safety": "content_filter",
    "recitation": "content_filter",
    "refusal": "content_filter",
    "blocklist": "content_filter",
    "error": "error",
}

_ERROR_KIND_BY_TYPE = {
    "rate_limit_exceeded": ErrorKind.RATE_LIMIT,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "insufficient_quota": ErrorKind.QUOTA,
    "invalid_api_key": ErrorKind.AUTH,
    "authentication_error": ErrorKind.AUTH,
    "permission_error": ErrorKind.PERMISSION,
    "not_found_error": ErrorKind.NOT_FOUND,
    "model_not_found": ErrorKind.NOT_FOUND,
    "context_length_exceeded": ErrorKind.CONTEXT_LENGTH,
    "content_filter": ErrorKind.CONTENT_FILTER,
    "invalid_request_error": ErrorKind.INVALID_REQUEST,
    "overloaded_error": ErrorKind.SERVER,
    "server_error": ErrorKind.SERVER,
    "api_error": ErrorKind.SERVER,
    "timeout": ErrorKind.TIMEOUT,
}


def parse_usage(raw: Any) -> Usage:
    """Read token usage; unknown counts stay None. Accepts OpenAI and Anthropic-style names."""
    if raw is None or isinstance(raw, (str, bytes, int, float, Sequence)):
        return Usage()
    prompt = as_count(read_field(raw, "prompt_tokens"))
    anthropic = prompt is None  # `input_tokens` of Anthropic's API leaves out cache reads
    if anthropic:
        prompt = as_count(read_field(raw, "input_tokens"))
    completion = as_count(read_field(raw, "completion_tokens"))
    if completion is None:
        completion = as_count(read_field(raw, "output_tokens"))
    prompt_details = read_field(raw, "prompt_tokens_details") or read_field(
        raw, "input_tokens_details"
    )
    cached = as_count(read_field(prompt_details, "cached_tokens"))
    if cached is None:
        cached = as_count(read_field(raw, "cache_read_input_tokens"))
        if anthropic and prompt is not None:  # make the prompt hold its cached part
            written = as_count(read_field(raw, "cache_creation_input_tokens"))
            prompt += (cached or 0) + (written or 0)
    total = as_count(read_field(raw, "total_tokens"))
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    completion_details = read_field(raw, "completion_tokens_details") or read_field(
        raw, "output_tokens_details"
    )
    reasoning = as_count(read_field(completion_details, "reasoning_tokens"))
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total,
        cached_tokens=cached,
        reasoning_tokens=reasoning,
    )


def parse_content(raw: Any) -> str:
    """Message content as text: None -> "", a list of parts -> their text joined."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, Sequence) and not isinstance(raw, (bytes, bytearray)):
        texts: list[str] = []
        for part in raw:
            if isinstance(part, str):
                texts.append(part)
                continue
            if read_field(part, "type") in (None, "text", "output_text"):
                text = read_field(part, "text")
                if isinstance(text, str):
                    texts.append(text)
        return "".join(texts)
    return ""


def normalise_finish_reason(raw: Any) -> str:
    """One of stop, length, tool_calls, content_filter, error, unknown."""
    if not isinstance(raw, str):
        return "unknown"
    return _FINISH_REASONS.get(raw.strip().lower(), "unknown")


#: An answer whose finish reason is `content_filter` and that holds no text and no tool
#: calls: the filter withheld it (buffered or streamed).
WITHHELD = LLMError(
    kind=ErrorKind.CONTENT_FILTER,
    message="content_filter: the provider's content filter withheld the answer",
)


def error_from_payload(error: Any, status_code: int | None = None) -> LLMError:
    """An `LLMError` from an OpenAI-style `{"error": ...}` object."""
    message = error if isinstance(error, str) else read_field(error, "message")
    message = short_message(message) if isinstance(message, str) else ""
    message = message or "provider returned an error"
    code = read_field(error, "code")
    error_type = read_field(error, "type")
    kind: ErrorKind | None = None
    for hint in (code, error_type):
        if isinstance(hint, str) and hint.lower() in _ERROR_KIND_BY_TYPE:
            kind = _ERROR_KIND_BY_TYPE[hint.lower()]
            break
    status = status_code
    if status is None and isinstance(code, (int, str)) and str(code).isdigit():
        status = int(code)
    if kind is None:
        kind = kind_for_status(status, message) if status else ErrorKind.SERVER
    elif kind is ErrorKind.INVALID_REQUEST:
        kind = kind_for_status(400, message)
    return LLMError(
        kind=kind,
        message=redact(f"{kind.value}: {message}"),
        retryable=kind.retryable,
        status_code=status,
    )


def _error_response(error: LLMError, *, provider: str, model: str, raw: Any) -> LLMResponse:
    return LLMResponse(
        status=LLMResponseStatus.ERROR,
        finish_reason="error",
        provider=provider,
        model=model,
        error=error,
        raw=raw,
    )


def bad_response(message: str, *, provider: str, model: str, raw: Any = None) -> LLMResponse:
    """An ERROR response of kind bad_response."""
    error = LLMError(kind=ErrorKind.BAD_RESPONSE, message=f"bad_response: {message}")
    return _error_response(error, provider=provider, model=model, raw=raw)


def parse_completion(payload: Any, *, provider: str = "", model: str = "") -> LLMResponse:
    """Turn a chat completion payload into an `LLMResponse`; never raises."""
    try:
        return _parse_completion(payload, provider=provider, model=model)
    except Exception as exc:  # the contract is "never raises"; say what broke
        return bad_response(
            f"could not parse the completion ({type(exc).__name__})",
            provider=provider,
            model=model,
            raw=payload,
        )


def _parse_completion(payload: Any, *, provider: str, model: str) -> LLMResponse:
    if payload is None or isinstance(payload, (str, bytes, int, float, list)):
        return bad_response(
            f"expected a JSON object, got {type(payload).__name__}",
            provider=provider,
            model=model,
            raw=payload,
        )
    error = read_field(payload, "error")
    if error:
        return _error_response(
            error_from_payload(error), provider=provider, model=model, raw=payload
        )
    response_model = read_field(payload, "model")
    model = response_model if isinstance(response_model, str) and response_model else model
    response_id = read_field(payload, "id")
    response_id = response_id if isinstance(response_id, str) else ""
    usage = parse_usage(read_field(payload, "usage"))
    choices = read_field(payload, "choices")
    if not isinstance(choices, Sequence) or isinstance(choices, (str, bytes)) or not choices:
        response = bad_response(
            "the response has no choices", provider=provider, model=model, raw=payload
        )
        return _with(response, usage=usage, id=response_id)
    choice = choices[0]
    message = read_field(choice, "message") or {}
    raw_finish = read_field(choice, "finish_reason")
    raw_finish = raw_finish if isinstance(raw_finish, str) else None
    finish = normalise_finish_reason(raw_finish)
    choice_error = read_field(choice, "error")
    if choice_error:
        failed = _error_response(
            error_from_payload(choice_error), provider=provider, model=model, raw=payload
        )
        return _with(failed, usage=usage, id=response_id)
    tool_calls = parse_tool_calls(read_field(message, "tool_calls"), finish)
    if not tool_calls:
        tool_calls = parse_tool_calls(_legacy_function_call(message), finish)
    content = parse_content(read_field(message, "content"))
    # litellm moves a refusal into `provider_specific_fields`.
    refusal = read_field(message, "refusal") or read_field(
        read_field(message, "provider_specific_fields"), "refusal"
    )
    refusal = refusal if isinstance(refusal, str) and refusal else None
    if not content and refusal:
        content = refusal
    reasoning = read_field(message, "reasoning_content") or read_field(message, "reasoning")
    reasoning = reasoning if isinstance(reasoning, str) and reasoning else None
    if tool_calls and finish in ("stop", "unknown"):
        finish = "tool_calls"
    if finish == "content_filter" and not content and not tool_calls:
        blocked = _error_response(WITHHELD, provider=provider, model=model, raw=payload)
        # the reasoning the model showed before the filter is kept, as a stream keeps it
        return _with(
            blocked, usage=usage, id=response_id, raw_finish_reason=raw_finish, reasoning=reasoning
        )
    return LLMResponse(
        status=LLMResponseStatus.SUCCESS,
        content=content,
        tool_calls=tool_calls,
        finish_reason=finish,
        raw_finish_reason=raw_finish,
        model=model,
        provider=provider,
        id=response_id,
        usage=usage,
        refusal=refusal,
        reasoning=reasoning,
        raw=payload,
    )


def _legacy_function_call(message: Any) -> list[Any] | None:
    function_call = read_field(message, "function_call")
    if function_call is None:
        return None
    return [{"id": None, "function": function_call}]


def _with(response: LLMResponse, **changes: Any) -> LLMResponse:
    from dataclasses import replace

    return replace(response, **changes)
