"""Canned SSE streams in the strange shapes real gateways send, served by `LocalGateway`.

Each shape is a model name; a streamed request for it gets exactly these frames.
Every shape aggregates to a known answer, which the tests assert.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["STREAM_SHAPES", "stream_shape_frames"]


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body = {"id": "chatcmpl-shape", "object": "chat.completion.chunk", "model": "shape"}
    return b"data: " + json.dumps({**body, "choices": choices, **extra}).encode() + b"\n\n"


def _call(index: int | None, call_id: str | None, name: str | None, arguments: str) -> Any:
    entry: dict[str, Any] = {"function": {"arguments": arguments}}
    if index is not None:
        entry["index"] = index
    if call_id is not None:
        entry["id"] = call_id
        entry["type"] = "function"
    if name is not None:
        entry["function"]["name"] = name
    return entry


_USAGE = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
_DONE = b"data: [DONE]\n\n"

STREAM_SHAPES: dict[str, list[bytes]] = {
    # Two parallel calls whose argument fragments interleave.
    "stream-interleaved-tools": [
        _chunk({"role": "assistant", "content": None}),
        _chunk({"tool_calls": [_call(0, "call_a", "get_weather", "")]}),
        _chunk({"tool_calls": [_call(1, "call_b", "get_time", "")]}),
        _chunk({"tool_calls": [_call(0, None, None, '{"city": ')]}),
        _chunk({"tool_calls": [_call(1, None, None, '{"zone": "CET"}')]}),
        _chunk({"tool_calls": [_call(0, None, None, '"Paris"}')]}),
        _chunk({}, "tool_calls"),
        _chunk(None, usage=_USAGE),
        _DONE,
    ],
    # Deltas without an index continue the call opened before them.
    "stream-no-index-tools": [
        _chunk({"tool_calls": [_call(None, "call_a", "get_weather", '{"city"')]}),
        _chunk({"tool_calls": [_call(None, None, None, ': "Paris"}')]}),
        _chunk({}, "tool_calls"),
        _DONE,
    ],
    # Several calls sent under index 0, told apart by their ids.
    "stream-index-zero-tools": [
        _chunk({"tool_calls": [_call(0, "call_a", "get_weather", '{"city": "Paris"}')]}),
        _chunk({"tool_calls": [_call(0, "call_b", "get_time", '{"zone": "CET"}')]}),
        _chunk({}, "tool_calls"),
        _DONE,
    ],
    # Empty tool_calls arrays in every delta of a plain text answer.
    "stream-empty-tool-arrays": [
        _chunk({"role": "assistant", "content": "", "tool_calls": []}),
        _chunk({"content": "Hello ", "tool_calls": []}),
        _chunk({"content": "there", "tool_calls": []}),
        _chunk({"tool_calls": []}, "stop"),
        _DONE,
    ],
    # Usage on the finish chunk, then a chunk whose usage is null.
    "stream-usage-on-finish": [
        _chunk({"content": "Counted."}),
        _chunk({}, "stop", usage=_USAGE),
        _chunk(None, usage=None),
        _DONE,
    ],
    # Reasoning deltas under both names, kept apart from the content.
    "stream-reasoning": [
        _chunk({"reasoning_content": "Think. "}),
        _chunk({"reasoning": "Then answer."}),
        _chunk({"content": "42"}, "stop"),
        _DONE,
    ],
    # The connection dies in the middle of a frame (no finish, no [DONE]).
    "stream-cut-midframe": [
        _chunk({"content": "Partial "}),
        _chunk({"content": "answer"}),
        b'data: {"id": "chatcmpl-shape", "choices": [{"index": 0, "delta": {"cont',
    ],
    # SSE comments, blank keep-alives and an empty first chunk.
    "stream-comments": [
        b": keep-alive\n\n",
        b"\n",
        _chunk(None),
        b": still here\n\n",
        _chunk({"content": "Fine"}),
        _chunk({}, "stop"),
        _DONE,
    ],
}


def stream_shape_frames(name: str) -> list[bytes] | None:
    """The frames for a shape name, or None when `name` is not a shape."""
    return STREAM_SHAPES.get(name)
