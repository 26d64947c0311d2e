"""Generated server behaviours for the boundary property test, and their rendering to bytes.

A `Behaviour` says what the server does: status, headers, which payload it sends (a
chat answer, an error object, a bare JSON value, raw text, a deeply nested body), how it
frames it (JSON or SSE, honest or not), how the bytes are split and paced, where they
are cut, and what happens after the last byte. Values are symbolic ("huge-int",
"deep") so that a shrunk failing example reads as a reproducer; `render` turns a
behaviour plus one request into the exact bytes sent. `KEY` in any string is replaced
by the credential the client sent.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any, Literal

from hypothesis import strategies as st

from hostile_server import Script, SeenRequest, Write

__all__ = ["KEY", "Answer", "Behaviour", "Rendered", "Sse", "Tool", "behaviours", "render"]

KEY = "{{KEY}}"
DEEP = 100_000
_HUGE_INT = "9" * 5000
_ABSENT = "<absent>"

_TOOL_ARGUMENTS: dict[str, str | dict[str, Any]] = {
    "valid": '{"city": "Paris"}',
    "empty": "",
    "null": "null",
    "truncated": '{"city": "Par',
    "huge-int": '{"n": ' + _HUGE_INT + "}",
    "deep": "[" * DEEP + "]" * DEEP,
    "double-encoded": json.dumps('{"city": "Paris"}'),
    "key": '{"token": "' + KEY + '"}',
    "number": "42",
    "list": "[1, 2]",
    "nan": '{"x": NaN}',
    "object": {"city": "Paris"},
}
_COUNTS: dict[str, Any] = {
    "int": 7,
    "zero": 0,
    "negative": -3,
    "float": 2.5,
    "digit-string": "12",
    "superscript": "²",
    "arabic-indic": "٣",
    "5000-digits": "5" * 5000,
    "huge-int": "{{HUGE}}",
    "null": None,
    "bool": True,
    "list": [1],
    "object": {"n": 1},
    "key": KEY,
}
_TEXTS = (
    "",
    "Hello",
    "Bonjour, ça va ? ✓",
    "line\nbreak",
    "[DONE]",
    "data: not an event",
    KEY,
    f"the key is {KEY}.",
    f"Bearer {KEY}",
)
_BODIES = {
    "html": f"<html><head><title>502 {KEY}</title></head><body>bad gateway</body></html>",
    "plain": f"upstream said no ({KEY})",
    "empty": "",
    "sse-text": 'data: {"choices": []}\n\ndata: [DONE]\n\n',
    "binary": "\udcff\udcfe\x00garbage",
}
_VALUES: tuple[Any, ...] = (42, None, [1, 2, 3], "", f"a string {KEY}", True, 1.5)
_DEEP_PLACES = ("body", "error", "choices", "usage", "message")


@dataclass(frozen=True)
class Tool:
    """One tool call in an answer; `arguments` names an entry of `_TOOL_ARGUMENTS`."""

    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True)
class Answer:
    """A chat answer. `usage` maps count names to `_COUNTS` names, or is "absent"/"null"."""

    content: str | None
    reasoning: str | None = None
    refusal: str | None = None
    tools: tuple[Tool, ...] = ()
    finish: str | None = "stop"
    usage: tuple[tuple[str, str], ...] | str = (("prompt_tokens", "int"),)
    model: str = "boundary-model"
    id: str = "chatcmpl-1"
    pieces: int = 1  # content and each argument string are streamed in this many deltas


@dataclass(frozen=True)
class ErrorObject:
    """`{"error": {"message": ..., "type": ..., "code": ...}}`."""

    message: str
    type: str | None = "server_error"
    code: str | int | None = None


@dataclass(frozen=True)
class Value:
    """A bare JSON value (not an object)."""

    value: Any


@dataclass(frozen=True)
class Raw:
    """A non-JSON body, named in `_BODIES`."""

    name: str


@dataclass(frozen=True)
class Deep:
    """JSON nested `DEEP` levels at `place`."""

    place: str


Payload = Answer | ErrorObject | Value | Raw | Deep


@dataclass(frozen=True)
class Sse:
    """How a stream is framed."""

    done: bool = True
    keepalives: bool = False  # a comment and a blank line before every event
    crlf: bool = False
    space: bool = True  # "data: x" or "data:x"
    error_after: int | None = None  # a mid-stream error event after this many events


@dataclass(frozen=True)
class Behaviour:
    """What the server does with any request (the request only picks JSON or SSE)."""

    status: int = 200
    payload: Payload = Answer("Hello")
    form: Literal["honest", "json", "sse"] = "honest"
    content_type: str | None = "honest"
    transfer: Literal["length", "chunked", "close", "length-lie"] = "length"
    encoding: Literal["none", "gzip", "gzip-lie", "deflate-lie", "br-lie", "junk"] = "none"
    headers: tuple[tuple[str, str], ...] = ()
    sse: Sse = Sse()
    splits: tuple[tuple[float, float], ...] = ()  # (where in 0..1, pause before that part)
    cut: float | None = None  # stop sending at this fraction of the response
    then: Literal["close", "stall"] = "close"
    drip: float | None = None  # send the body one byte at a time, this many seconds apart


@dataclass(frozen=True)
class Rendered:
    """A behaviour rendered for one request, with what a test needs to judge the outcome."""

    script: Script
    streamed: bool  # the body is SSE
    may_succeed: bool  # False: the client did not get a whole answer, so SUCCESS is wrong
    endless: bool  # the server never ends the response on its own
    whole: bool  # head and body arrived as announced: no cut, no length lie, no stall


# --- strategies --------------------------------------------------------------------------

_text = st.one_of(st.sampled_from(_TEXTS), st.text(max_size=12))
_count_name = st.sampled_from(sorted(_COUNTS))
_usage = st.one_of(
    st.sampled_from(["absent", "null"]),
    st.lists(
        st.tuples(
            st.sampled_from(
                ["prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens"]
            ),
            _count_name,
        ),
        max_size=4,
    ).map(tuple),
)
_tool = st.builds(
    Tool,
    id=st.one_of(st.none(), st.sampled_from(["call_1", "", KEY])),
    name=st.one_of(st.none(), st.sampled_from(["get_weather", "", KEY])),
    arguments=st.sampled_from(sorted(_TOOL_ARGUMENTS)),
)
_answer = st.builds(
    Answer,
    content=st.one_of(st.none(), _text),
    reasoning=st.one_of(st.none(), _text),
    refusal=st.one_of(st.none(), _text),
    tools=st.lists(_tool, max_size=2).map(tuple),
    finish=st.one_of(
        st.none(), st.sampled_from(["stop", "length", "tool_calls", "content_filter", "weird"])
    ),
    usage=_usage,
    model=st.sampled_from(["boundary-model", KEY, ""]),
    id=st.sampled_from(["chatcmpl-1", KEY, ""]),
    pieces=st.integers(1, 4),
)
_payload: st.SearchStrategy[Payload] = st.one_of(
    _answer,
    _answer,
    _answer,
    st.builds(
        ErrorObject,
        message=_text,
        type=st.one_of(st.none(), st.sampled_from(["server_error", "rate_limit_error", KEY])),
        code=st.one_of(st.none(), st.sampled_from([429, 500, "context_length_exceeded", KEY])),
    ),
    st.builds(Value, st.sampled_from(_VALUES)),
    st.builds(Raw, st.sampled_from(sorted(_BODIES))),
    st.builds(Deep, st.sampled_from(_DEEP_PLACES)),
)
_status = st.one_of(
    st.just(200),
    st.just(200),
    st.just(200),
    st.sampled_from([201, 204, 301, 302, 307, 308, 400, 401, 403, 404, 408, 413, 422, 429]),
    st.sampled_from([500, 502, 503, 504, 529]),
    st.integers(100, 599),
)
_retry_after = st.sampled_from(
    ["0", "0.01", "1", "-5", "1e400", "nan", "inf", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", KEY]
)
_headers = st.lists(
    st.one_of(
        st.tuples(st.just("Retry-After"), _retry_after),
        st.tuples(st.just("retry-after-ms"), _retry_after),
        st.tuples(st.just("Location"), st.sampled_from(["/v1/elsewhere", "{{ORIGIN}}/stolen"])),
        st.tuples(st.sampled_from(["X-Request-Id", "WWW-Authenticate"]), st.just(KEY)),
    ),
    max_size=3,
).map(tuple)
_sse = st.builds(
    Sse,
    done=st.booleans(),
    keepalives=st.booleans(),
    crlf=st.booleans(),
    space=st.booleans(),
    error_after=st.one_of(st.none(), st.integers(0, 3)),
)
_pause = st.sampled_from([0.0, 0.0, 0.001, 0.01, 0.03])
_splits = st.lists(st.tuples(st.floats(0, 1), _pause), max_size=4).map(tuple)


@st.composite
def behaviours(draw: st.DrawFn) -> Behaviour:
    """Any server behaviour; most answer 200 honestly so that the deep paths get exercised."""
    honest = draw(st.integers(0, 9)) < 4
    payload = draw(_payload)
    if honest:
        return Behaviour(
            status=draw(st.sampled_from([200, 200, 200, 200, 400, 401, 404, 429, 500, 503])),
            payload=payload,
            headers=draw(_headers),
            sse=draw(_sse),
            splits=draw(_splits),
        )
    endless = draw(st.integers(0, 19)) == 0
    return Behaviour(
        status=draw(_status),
        payload=payload,
        form=draw(st.sampled_from(["honest", "honest", "json", "sse"])),
        content_type=draw(
            st.sampled_from(
                ["honest", "honest", "application/json", "text/event-stream", "text/html", None]
            )
        ),
        transfer=draw(st.sampled_from(["length", "chunked", "close", "length-lie"])),
        encoding=draw(
            st.sampled_from(
                ["none", "none", "none", "gzip", "gzip-lie", "deflate-lie", "br-lie", "junk"]
            )
        ),
        headers=draw(_headers),
        sse=draw(_sse),
        splits=draw(_splits),
        cut=draw(st.one_of(st.none(), st.none(), st.floats(0, 1))),
        then="stall" if endless else "close",
        drip=draw(st.sampled_from([None, 0.2])) if endless else None,
    )


# --- rendering ---------------------------------------------------------------------------


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
        return _ABSENT
    counts: dict[str, Any] = {}
    for name, count in usage:
        value = _COUNTS[count]
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
                    "arguments": _TOOL_ARGUMENTS[t.arguments],
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
    if usage != _ABSENT:
        body["usage"] = usage
    return body


def _chunks(answer: Answer) -> tuple[list[dict[str, Any]], int]:
    """Stream chunks for an answer, and how many of them end with the finish reason."""
    head = {"id": answer.id, "object": "chat.completion.chunk", "created": 1, "model": answer.model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    if answer.reasoning:
        chunks += [chunk({"reasoning_content": p}) for p in _pieces(answer.reasoning, 2)]
    if answer.content:
        chunks += [chunk({"content": p}) for p in _pieces(answer.content, answer.pieces)]
    if answer.refusal is not None:
        chunks.append(chunk({"refusal": answer.refusal}))
    for index, tool in enumerate(answer.tools):
        arguments = _TOOL_ARGUMENTS[tool.arguments]
        first: dict[str, Any] = {"index": index, "type": "function", "function": {}}
        if tool.id is not None:
            first["id"] = tool.id
        if tool.name is not None:
            first["function"]["name"] = tool.name
        if isinstance(arguments, dict):
            first["function"]["arguments"] = arguments
            chunks.append(chunk({"tool_calls": [first]}))
            continue
        parts = _pieces(arguments, answer.pieces)
        first["function"]["arguments"] = parts[0]
        chunks.append(chunk({"tool_calls": [first]}))
        chunks += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]})
            for p in parts[1:]
        ]
    chunks.append(chunk({}, answer.finish))
    finished = len(chunks) if answer.finish is not None else None
    usage = _usage_value(answer.usage)
    if usage != _ABSENT:
        chunks.append({**head, "choices": [], "usage": usage})
    return chunks, finished or 0


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json_bytes(value: Any, key: str) -> bytes:
    text = _ENCODE(_expand(value, key))
    return text.replace('"{{HUGE}}"', _HUGE_INT).encode("utf-8", "surrogateescape")


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
        return _BODIES[payload.name].replace(KEY, key).encode("utf-8", "surrogateescape")
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
        chunks, finished = _chunks(payload)
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
