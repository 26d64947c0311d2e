"""Defensive parsing of OpenAI-shaped chat completion payloads.

Nothing in this module raises on a strange payload. Payloads may be dicts (JSON
from an HTTP body) or objects with attributes (litellm's `ModelResponse`); both
are read through `_field`. Decisions a caller may want to know about:

- Only the first choice is used when a provider sends several.
- A refusal with no other content becomes `content` (and is kept in `refusal`).
- Tool calls under `finish_reason: stop` normalise the finish reason to `tool_calls`.
- `finish_reason: content_filter` with no text and no tool calls is an ERROR.
- An `{"error": ...}` object, even inside an HTTP 200 body, is an ERROR.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from llmport._json import load_json
from llmport.errors import ErrorKind, kind_for_status
from llmport.redaction import redact, short_message
from llmport.response import LLMError, LLMResponse, LLMResponseStatus, ToolCall, Usage

__all__ = [
    "normalise_finish_reason",
    "parse_completion",
    "parse_content",
    "parse_tool_arguments",
    "parse_tool_calls",
    "parse_usage",
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


def _field(obj: Any, name: str) -> Any:
    """`obj[name]` for mappings, `obj.name` for objects, None when absent.

    Objects are read through their `__dict__` (and pydantic's extras) first: a missing
    attribute on a pydantic model goes through a slow `__getattr__`, and stream
    parsing asks for several missing attributes on every chunk.
    """
    cls = type(obj)
    if cls is dict:
        return obj.get(name)
    if obj is None:
        return None
    is_mapping = _mapping_types.get(cls)
    if is_mapping is None:
        is_mapping = _mapping_types[cls] = issubclass(cls, Mapping)
    if is_mapping:
        return obj.get(name)
    values = getattr(obj, "__dict__", None)
    if values is not None:
        if name in values:
            return values[name]
        extra = getattr(obj, "__pydantic_extra__", None)
        if extra and name in extra:
            return extra[name]
        if not _class_defines(cls, name):
            return None
    try:
        return getattr(obj, name, None)
    except Exception:  # a property that raises is as good as absent
        return None


_mapping_types: dict[type, bool] = {}
_class_attributes: dict[tuple[type, str], bool] = {}


def _class_defines(cls: type, name: str) -> bool:
    """Whether `cls` (or a base) defines `name`, e.g. as a property; cached per class."""
    key = (cls, name)
    known = _class_attributes.get(key)
    if known is None:
        known = _class_attributes[key] = any(name in vars(k) for k in cls.__mro__)
    return known


#: Larger counts are not token counts; they are garbage (and a long digit string cannot
#: even be converted to an int).
_MAX_COUNT = 2**63 - 1


def _as_count(value: Any) -> int | None:
    """A token count, or None when the value is missing or not a sensible count."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str):
        text = value.strip()
        # isdigit() alone accepts "²" and "٣", which int() refuses or misreads.
        if not (text.isascii() and text.isdigit() and len(text) <= 19):
            return None
        value = int(text)
    if isinstance(value, int) and 0 <= value <= _MAX_COUNT:
        return value
    return None


def parse_usage(raw: Any) -> Usage:
    """Read token usage; unknown counts stay None. Accepts OpenAI and Anthropic-style names."""
    if raw is None or isinstance(raw, (str, bytes, int, float, Sequence)):
        return Usage()
    prompt = _as_count(_field(raw, "prompt_tokens"))
    anthropic = prompt is None  # `input_tokens` of Anthropic's API leaves out cache reads
    if anthropic:
        prompt = _as_count(_field(raw, "input_tokens"))
    completion = _as_count(_field(raw, "completion_tokens"))
    if completion is None:
        completion = _as_count(_field(raw, "output_tokens"))
    prompt_details = _field(raw, "prompt_tokens_details") or _field(raw, "input_tokens_details")
    cached = _as_count(_field(prompt_details, "cached_tokens"))
    if cached is None:
        cached = _as_count(_field(raw, "cache_read_input_tokens"))
        if anthropic and prompt is not None:  # make the prompt hold its cached part
            written = _as_count(_field(raw, "cache_creation_input_tokens"))
            prompt += (cached or 0) + (written or 0)
    total = _as_count(_field(raw, "total_tokens"))
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    completion_details = _field(raw, "completion_tokens_details") or _field(
        raw, "output_tokens_details"
    )
    reasoning = _as_count(_field(completion_details, "reasoning_tokens"))
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
            if _field(part, "type") in (None, "text", "output_text"):
                text = _field(part, "text")
                if isinstance(text, str):
                    texts.append(text)
        return "".join(texts)
    return ""


def normalise_finish_reason(raw: Any) -> str:
    """One of stop, length, tool_calls, content_filter, error, unknown."""
    if not isinstance(raw, str):
        return "unknown"
    return _FINISH_REASONS.get(raw.strip().lower(), "unknown")


def parse_tool_arguments(
    raw: Any, finish_reason: str | None = None
) -> tuple[dict[str, Any], str | None, str | None]:
    """Parse tool-call arguments into `(arguments, raw_arguments, arguments_error)`.

    "", null and whitespace mean no arguments (an empty string keeps no raw text, as a
    stream that sent no argument text does). A JSON string that decodes to another
    JSON string (double encoding) is decoded twice. Anything unparseable is kept raw
    with the reason stated; truncation by `finish_reason: length` is named as such.
    """
    if raw is None:
        return {}, None, None
    if isinstance(raw, Mapping):  # an object instead of JSON text: keep its text too
        return dict(raw), _safe_repr(raw), None
    if not isinstance(raw, str):
        return {}, _safe_repr(raw), f"arguments must be a JSON object, got {type(raw).__name__}"
    if not raw.strip():  # "" is no text at all, as when a stream sent no fragment
        return {}, raw or None, None
    value: Any = raw
    for _ in range(2):  # at most one level of double encoding
        try:
            value = load_json(value)
        except json.JSONDecodeError as exc:
            if finish_reason == "length":
                return {}, raw, "arguments truncated: the model hit its output token limit"
            return {}, raw, f"arguments are not valid JSON: {exc.msg} at position {exc.pos}"
        except ValueError as exc:  # too deep, or a number too long to convert
            return {}, raw, f"arguments cannot be decoded: {str(exc).split(':')[0]}"
        if not isinstance(value, str):
            break
    if isinstance(value, Mapping):
        return dict(value), raw, None
    if value is None:
        return {}, raw, None
    return {}, raw, f"arguments must be a JSON object, got {type(value).__name__}"


def _safe_repr(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)[:200]


def synthesise_tool_call_id() -> str:
    """A fresh tool-call id for providers that sent none."""
    return f"call_{uuid.uuid4().hex[:24]}"


def parse_tool_calls(raw: Any, finish_reason: str | None = None) -> list[ToolCall]:
    """Tool calls from a message's `tool_calls` list; never raises."""
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        return []
    calls: list[ToolCall] = []
    for entry in raw:
        function = _field(entry, "function") or entry
        name = _field(function, "name")
        arguments, raw_arguments, error = parse_tool_arguments(
            _field(function, "arguments"), finish_reason
        )
        if not isinstance(name, str) or not name:
            name = ""
            error = error or "tool call has no function name"
        call_id = _field(entry, "id")
        calls.append(
            ToolCall(
                id=call_id if isinstance(call_id, str) and call_id else synthesise_tool_call_id(),
                name=name,
                arguments=arguments,
                raw_arguments=raw_arguments,
                arguments_error=error,
            )
        )
    return calls


#: An answer whose finish reason is `content_filter` and that holds no text and no tool
#: calls: the filter withheld it (buffered or streamed).
WITHHELD = LLMError(
    kind=ErrorKind.CONTENT_FILTER,
    message="content_filter: the provider's content filter withheld the answer",
)


def error_from_payload(error: Any, status_code: int | None = None) -> LLMError:
    """An `LLMError` from an OpenAI-style `{"error": ...}` object."""
    message = error if isinstance(error, str) else _field(error, "message")
    message = short_message(message) if isinstance(message, str) else ""
    message = message or "provider returned an error"
    code = _field(error, "code")
    error_type = _field(error, "type")
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
    error = _field(payload, "error")
    if error:
        return _error_response(
            error_from_payload(error), provider=provider, model=model, raw=payload
        )
    response_model = _field(payload, "model")
    model = response_model if isinstance(response_model, str) and response_model else model
    response_id = _field(payload, "id")
    response_id = response_id if isinstance(response_id, str) else ""
    usage = parse_usage(_field(payload, "usage"))
    choices = _field(payload, "choices")
    if not isinstance(choices, Sequence) or isinstance(choices, (str, bytes)) or not choices:
        response = bad_response(
            "the response has no choices", provider=provider, model=model, raw=payload
        )
        return _with(response, usage=usage, id=response_id)
    choice = choices[0]
    message = _field(choice, "message") or {}
    raw_finish = _field(choice, "finish_reason")
    raw_finish = raw_finish if isinstance(raw_finish, str) else None
    finish = normalise_finish_reason(raw_finish)
    choice_error = _field(choice, "error")
    if choice_error:
        failed = _error_response(
            error_from_payload(choice_error), provider=provider, model=model, raw=payload
        )
        return _with(failed, usage=usage, id=response_id)
    tool_calls = parse_tool_calls(_field(message, "tool_calls"), finish)
    if not tool_calls:
        tool_calls = parse_tool_calls(_legacy_function_call(message), finish)
    content = parse_content(_field(message, "content"))
    # litellm moves a refusal into `provider_specific_fields`.
    refusal = _field(message, "refusal") or _field(
        _field(message, "provider_specific_fields"), "refusal"
    )
    refusal = refusal if isinstance(refusal, str) and refusal else None
    if not content and refusal:
        content = refusal
    reasoning = _field(message, "reasoning_content") or _field(message, "reasoning")
    if tool_calls and finish in ("stop", "unknown"):
        finish = "tool_calls"
    if finish == "content_filter" and not content and not tool_calls:
        blocked = _error_response(WITHHELD, provider=provider, model=model, raw=payload)
        return _with(blocked, usage=usage, id=response_id, raw_finish_reason=raw_finish)
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
        reasoning=reasoning if isinstance(reasoning, str) and reasoning else None,
        raw=payload,
    )


def _legacy_function_call(message: Any) -> list[Any] | None:
    function_call = _field(message, "function_call")
    if function_call is None:
        return None
    return [{"id": None, "function": function_call}]


def _with(response: LLMResponse, **changes: Any) -> LLMResponse:
    from dataclasses import replace

    return replace(response, **changes)
