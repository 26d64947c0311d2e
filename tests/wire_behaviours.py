"""Generated server behaviours for the boundary property test (rendered by `wire_render`).

A `Behaviour` says what the server does: status, headers, which payload it sends (a
chat answer, an error object, a bare JSON value, raw text, a deeply nested body), how it
frames it (JSON or SSE, honest or not), how the bytes are split and paced, where they
are cut, and what happens after the last byte. Values are symbolic ("huge-int",
"deep") so that a shrunk failing example reads as a reproducer. `KEY` in any string is
replaced by the credential the client sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from hypothesis import strategies as st

__all__ = [
    "BODIES",
    "COUNTS",
    "DEEP",
    "HUGE_INT",
    "KEY",
    "TOOL_ARGUMENTS",
    "Answer",
    "Behaviour",
    "Deep",
    "ErrorObject",
    "Payload",
    "Raw",
    "Sse",
    "Tool",
    "Value",
    "behaviours",
]

KEY = "{{KEY}}"
DEEP = 100_000
HUGE_INT = "9" * 5000

TOOL_ARGUMENTS: dict[str, str | dict[str, Any]] = {
    "valid": '{"city": "Paris"}',
    "empty": "",
    "null": "null",
    "truncated": '{"city": "Par',
    "huge-int": '{"n": ' + HUGE_INT + "}",
    "deep": "[" * DEEP + "]" * DEEP,
    "double-encoded": json.dumps('{"city": "Paris"}'),
    "key": '{"token": "' + KEY + '"}',
    "number": "42",
    "list": "[1, 2]",
    "nan": '{"x": NaN}',
    "object": {"city": "Paris"},
}
COUNTS: dict[str, Any] = {
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
BODIES = {
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
    """One tool call in an answer; `arguments` names an entry of `TOOL_ARGUMENTS`."""

    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True)
class Answer:
    """A chat answer. `usage` maps count names to `COUNTS` names, or is "absent"/"null"."""

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
    """A non-JSON body, named in `BODIES`."""

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


# --- strategies --------------------------------------------------------------------------

_text = st.one_of(st.sampled_from(_TEXTS), st.text(max_size=12))
_count_name = st.sampled_from(sorted(COUNTS))
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
    arguments=st.sampled_from(sorted(TOOL_ARGUMENTS)),
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
    st.builds(Raw, st.sampled_from(sorted(BODIES))),
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
