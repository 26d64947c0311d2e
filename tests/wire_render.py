"""Render a `Behaviour` for one request: the exact bytes to send, and how to judge them."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any

from hostile_server import Script, SeenRequest, Write
from wire_behaviours import (
    BODIES,
    COUNTS,
    DEEP,
    HUGE_INT,
    KEY,
    TOOL_ARGUMENTS,
    Answer,
    Behaviour,
    ErrorObject,
    Payload,
    Raw,
    Sse,
    Value,
)

__all__ = ["Rendered", "render"]

ABSENT = "<absent>"


@dataclass(frozen=True)
class Rendered:
    """A behaviour rendered for one request, with what a test needs to judge the outcome."""

    script: Script
    streamed: bool  # the body is SSE
    may_succeed: bool  # False: the client did not get a whole answer, so SUCCESS is wrong
    endless: bool  # the server never ends the response on its own
    whole: bool  # head and body arrived as announced: no cut, no length lie, no stall


def _expand(value: Any, key: str) -> Any:
    """Replace `KEY` in every string of a (shallow) JSON value."""
    if isinstance(value, str):
        return value.replace(KEY, key)
    if isinstance(value, list):
        return [_expand(v, key) for v in value]
    if isinstance(value, dict):
        return {_expand(k, key): _expand(v, key) for k, v in value.items()}
    return value


def _usage_value(usage: tuple[tuple[str, str], ...] | str) -> Any:
    if usage == "null":
        return None
    if isinstance(usage, str):
        return ABSENT
    counts: dict[str, Any] = {}
    for name, count in usage:
        value = COUNTS[count]
        if name == "cached_tokens":
            counts["prompt_tokens_details"] = {"cached_tokens": value}
        else:
            counts[name] = value
    return counts


def _pieces(text: str, count: int) -> list[str]:
    if count <= 1 or len(text) < 2:
        return [text]
    step = max(1, -(-len(text) // count))
    return [text[i : i + step] for i in range(0, len(text), step)]


def _message(answer: Answer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.reasoning is not None:
        message["reasoning_content"] = answer.reasoning
    if answer.refusal is not None:
        message["refusal"] = answer.refusal
    if answer.tools:
        message["tool_calls"] = [
            {
                **({"id": t.id} if t.id is not None else {}),
                "type": "function",
                "function": {
                    **({"name": t.name} if t.name is not None else {}),
                    "arguments": TOOL_ARGUMENTS[t.arguments],
                },
            }
            for t in answer.tools
        ]
    return message


def _completion(answer: Answer) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": answer.id,
        "object": "chat.completion",
        "created": 1,
        "model": answer.model,
        "choices": [{"index": 0, "message": _message(answer), "finish_reason": answer.finish}],
    }
    usage = _usage_value(answer.usage)
    if usage != ABSENT:
        body["usage"] = usage
    return body


def _chunks(answer: Answer, key: str) -> tuple[list[dict[str, Any]], int]:
    """Stream chunks for an answer, and how many of them end with the finish reason.

    `KEY` is replaced before texts are split into deltas, so an echoed key can arrive
    split across chunks, as a real echo would.
    """
    head = {"id": answer.id, "object": "chat.completion.chunk", "created": 1, "model": answer.model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    if answer.reasoning:
        reasoning = answer.reasoning.replace(KEY, key)
        chunks += [chunk({"reasoning_content": p}) for p in _pieces(reasoning, 2)]
    if answer.content:
        content = answer.content.replace(KEY, key)
        chunks += [chunk({"content": p}) for p in _pieces(content, answer.pieces)]
    if answer.refusal is not None:
        chunks.append(chunk({"refusal": answer.refusal}))
    for index, tool in enumerate(answer.tools):
        arguments = TOOL_ARGUMENTS[tool.arguments]
        first: dict[str, Any] = {"index": index, "type": "function", "function": {}}
        if tool.id is not None:
            first["id"] = tool.id
        if tool.name is not None:
            first["function"]["name"] = tool.name
        if isinstance(arguments, dict):
            first["function"]["arguments"] = arguments
            chunks.append(chunk({"tool_calls": [first]}))
            continue
        parts = _pieces(arguments.replace(KEY, key), answer.pieces)
        first["function"]["arguments"] = parts[0]
        chunks.append(chunk({"tool_calls": [first]}))
        chunks += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]})
            for p in parts[1:]
        ]
    chunks.append(chunk({}, answer.finish))
    finished = len(chunks) if answer.finish is not None else None
    usage = _usage_value(answer.usage)
    if usage != ABSENT:
        chunks.append({**head, "choices": [], "usage": usage})
    return chunks, finished or 0


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json_bytes(value: Any, key: str) -> bytes:
    text = _ENCODE(_expand(value, key))
    return text.replace('"{{HUGE}}"', HUGE_INT).encode("utf-8", "surrogateescape")


def _deep_bytes(place: str) -> bytes:
    nest = b"[" * DEEP + b"]" * DEEP
    choice = b'{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}'
    if place == "body":
        return nest
    if place in ("error", "choices"):
        return b'{"' + place.encode() + b'":' + nest + b"}"
    if place == "usage":
        return b'{"choices":[' + choice + b'],"usage":' + nest + b"}"
    return b'{"choices":[{"index":0,"message":{"role":"assistant","content":' + nest + b"}}]}"


def _buffered_body(payload: Payload, key: str) -> bytes:
    if isinstance(payload, Answer):
        return _json_bytes(_completion(payload), key)
    if isinstance(payload, ErrorObject):
        return _json_bytes({"error": _error_dict(payload)}, key)
    if isinstance(payload, Value):
        return _json_bytes(payload.value, key)
    if isinstance(payload, Raw):
        return BODIES[payload.name].replace(KEY, key).encode("utf-8", "surrogateescape")
    return _deep_bytes(payload.place)


def _error_dict(error: ErrorObject) -> dict[str, Any]:
    return {"message": error.message, "type": error.type, "code": error.code}


def _sse_body(payload: Payload, sse: Sse, key: str) -> tuple[bytes, int]:
    """The SSE body and the offset at which the stream is complete (0 when never)."""
    newline = b"\r\n" if sse.crlf else b"\n"
    prefix = b"data: " if sse.space else b"data:"
    events: list[bytes]
    finished = 0
    if isinstance(payload, Answer):
        chunks, finished = _chunks(payload, key)
        events = [_json_bytes(c, key) for c in chunks]
    elif isinstance(payload, Raw):
        body = _buffered_body(payload, key)
        return body, len(body) if payload.name == "sse-text" else 0
    else:
        events = [_buffered_body(payload, key)]
    if sse.error_after is not None and isinstance(payload, Answer):
        error = {"error": {"message": f"upstream failed {KEY}", "type": "server_error"}}
        events = [*events[: sse.error_after], _json_bytes(error, key)]
        finished = 0
    out = b""
    complete_at = 0
    for number, event in enumerate(events, start=1):
        if sse.keepalives:
            out += b": keep-alive" + newline + newline
        out += prefix + event + newline + newline
        if number == finished:
            complete_at = len(out)
    if sse.done:
        out += prefix + b"[DONE]" + newline + newline
        complete_at = complete_at or len(out)
    return out, complete_at


def _encoded(body: bytes, encoding: str) -> tuple[bytes, str | None]:
    if encoding == "gzip":
        return gzip.compress(body), "gzip"
    names = {"gzip-lie": "gzip", "deflate-lie": "deflate", "br-lie": "br", "junk": "x-rot13"}
    return body, names.get(encoding)


def render(behaviour: Behaviour, request: SeenRequest, origin: str) -> Rendered:
    """The bytes to send for `request`, and how to judge what the client makes of them."""
    key = request.key or "no-key-sent"
    streamed = behaviour.form == "sse" or (behaviour.form == "honest" and request.stream)
    if streamed:
        body, complete_at = _sse_body(behaviour.payload, behaviour.sse, key)
    else:
        body = _buffered_body(behaviour.payload, key)
        complete_at = len(body)
    body, encoding = _encoded(body, behaviour.encoding)
    if behaviour.encoding == "gzip" and complete_at:
        complete_at = len(body)  # a gzip body is whole only at its last byte
    head = _head(behaviour, streamed, encoding, len(body), key, origin)
    wire_body = body
    if behaviour.transfer == "chunked":
        size_line = b"%x\r\n" % len(body)
        wire_body = (size_line + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
        complete_at += len(size_line) if complete_at else 0
    data = head + wire_body
    cut_at = len(data) if behaviour.cut is None else int(len(data) * behaviour.cut)
    delivered = bool(complete_at) and cut_at >= len(head) + complete_at
    if behaviour.transfer == "length-lie" and not streamed:
        delivered = False  # the announced length never arrives
    # A stream request may get a JSON answer (a server that cannot stream); a buffered
    # request that gets SSE text did not get an answer.
    payload = behaviour.payload
    an_answer = isinstance(payload, Answer) or (
        streamed and isinstance(payload, Raw) and payload.name == "sse-text"
    )
    may_succeed = (
        delivered
        and 200 <= behaviour.status < 300
        and behaviour.status != 204
        and an_answer
        and (request.stream or not streamed)
        and behaviour.encoding not in ("gzip-lie", "deflate-lie")
    )
    whole_body_known = behaviour.transfer in ("length", "chunked") and behaviour.cut is None
    endless = behaviour.drip is not None or (behaviour.then == "stall" and not whole_body_known)
    whole = whole_body_known and not endless and behaviour.encoding in ("none", "gzip")
    writes = _paced(data[:cut_at], behaviour, len(head))
    return Rendered(Script(writes, behaviour.then), streamed, may_succeed, endless, whole)


def _head(
    behaviour: Behaviour, streamed: bool, encoding: str | None, size: int, key: str, origin: str
) -> bytes:
    content_type = behaviour.content_type
    if content_type == "honest":
        content_type = "text/event-stream" if streamed else "application/json"
    lines = [f"HTTP/1.1 {behaviour.status} Whatever", "Connection: close"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if encoding is not None:
        lines.append(f"Content-Encoding: {encoding}")
    for name, value in behaviour.headers:
        lines.append(f"{name}: {value.replace(KEY, key).replace('{{ORIGIN}}', origin)}")
    if behaviour.transfer == "length":
        lines.append(f"Content-Length: {size}")
    elif behaviour.transfer == "length-lie":
        lines.append(f"Content-Length: {size + 10}")
    elif behaviour.transfer == "chunked":
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def _paced(data: bytes, behaviour: Behaviour, head_size: int) -> tuple[Write, ...]:
    if behaviour.drip is not None:
        return (
            Write(data[:head_size]),
            *(Write(data[i : i + 1], behaviour.drip) for i in range(head_size, len(data))),
        )
    writes = []
    start = 0
    for where, pause in sorted(behaviour.splits):
        at = int(len(data) * where)
        if at > start:
            writes.append(Write(data[start:at]))
            start = at
        writes.append(Write(b"", pause))
    writes.append(Write(data[start:]))
    return tuple(w for w in writes if w.data or w.pause)
