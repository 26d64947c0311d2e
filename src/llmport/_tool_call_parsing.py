"""Tool calls in a completion: their arguments parsed defensively, never raising.

Arguments arrive as JSON text, as an object, as "" or null, double-encoded, or cut
short by the token limit; each becomes `(arguments, raw_arguments, arguments_error)`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from llmport._fields import read_field
from llmport._json import load_json
from llmport.response import ToolCall

__all__ = ["parse_tool_arguments", "parse_tool_calls", "synthesise_tool_call_id"]


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
        function = read_field(entry, "function") or entry
        name = read_field(function, "name")
        arguments, raw_arguments, error = parse_tool_arguments(
            read_field(function, "arguments"), finish_reason
        )
        if not isinstance(name, str) or not name:
            name = ""
            error = error or "tool call has no function name"
        call_id = read_field(entry, "id")
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
