"""A local, deterministic OpenAI-compatible HTTP server for tests, demos and benchmarks.

`LocalGateway` serves `POST /v1/chat/completions` on 127.0.0.1 from an asyncio event
loop in a background daemon thread, so many slow or streaming requests cost no threads.
HTTP/1.1 is parsed by hand (keep-alive by default, chunked streaming). The behaviour is
chosen by the request's `model` (a provider prefix such as `openai/` is ignored); see
`MODELS`. Only the standard library is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import http
import ipaddress
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, TypeAlias

from llmport.testing.stream_shapes import STREAM_SHAPES, stream_shape_frames

__all__ = ["FIXED_TEXT", "MODELS", "LocalGateway", "RecordedRequest"]

_log = logging.getLogger(__name__)

FIXED_TEXT = "Hello from the llmport local gateway."
"""The answer of the `fixed` model and of every model that "answers like fixed"."""

MODELS: dict[str, str] = {
    "fixed": f"always answers {FIXED_TEXT!r}",
    "echo": "answers with the last user message",
    "tool-call": "calls the first tool (or tool_choice) with arguments made from its schema",
    "parallel-tool-calls": "calls every offered tool at once",
    "malformed-tool-call": "one tool call with truncated JSON arguments, finish_reason length",
    "empty-args-tool-call": "one tool call with empty arguments and an empty id",
    "usage-null": 'fixed text with "usage": null',
    "no-usage": "fixed text without any usage key",
    "error-in-200": "HTTP 200 whose body is an OpenAI error object",
    "error-<status>": "that HTTP status with an OpenAI error body (429: Retry-After 1)",
    "error-400-context": "400 context_length_exceeded",
    "error-429-retry-<s>": "429 with Retry-After: <s>",
    "error-429-quota": "429 insufficient_quota",
    "html-502": "502 with an nginx HTML page",
    "truncated-json": "HTTP 200 with a JSON body cut in half",
    "slow-<ms>": "waits <ms> milliseconds, then answers like fixed",
    "flaky-<n>-<status>": "the first n requests get <status>, later ones answer like fixed",
    "flaky-<n>-reset": "the first n requests get the connection closed, then like fixed",
    "reset": "closes the connection without answering",
    "stall": "never answers (until the client or the gateway gives up)",
    "chunks-<n>": "answers 'tok0 tok1 ...' in exactly n stream chunks",
    "stream-error-midway": "streamed: a few chunks, then an error event and no [DONE]",
    "stream-cut": "streamed: a few chunks, then the connection drops without [DONE]",
    "stream-stall": "streamed: a few chunks, then silence until the client gives up",
    "drip-<ms>": "streamed: 20 chunks ('tok0 tok1 ...'), <ms> milliseconds apart",
    "chaos-<seed>": "20% faults (429 Retry-After 0, 503, reset, stall) drawn from the seed and "
    "the request number; the rest answer like echo",
    "no-stream": "answers like fixed, but rejects stream=true with a 400",
    "stream-<shape>": "stream only: canned odd shapes (see llmport.testing.stream_shapes)",
}

_LISTED_MODELS = (
    *(name for name in MODELS if "<" not in name),
    *("error-400", "error-400-context", "error-401", "error-403", "error-404", "error-429"),
    *("error-429-quota", "error-429-retry-3", "error-500", "error-503", "slow-200"),
    *("flaky-2-503", "flaky-1-reset", "chunks-16"),
)
_CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
_WORD = re.compile(r"\S+\s*|\s+")
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_BROKEN_TEXT = "This answer never finishes because the stream breaks."


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the gateway received it.

    Attributes:
        method: The HTTP method, e.g. "POST".
        path: The request target as sent, e.g. "/v1/chat/completions".
        headers: The request headers, keys in lower case.
        body: The parsed JSON object of the body, or None (no body, or not a JSON object).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


# --- what a model answers ---------------------------------------------------------------


@dataclass
class _Completion:
    """A successful chat completion, rendered as JSON or as an SSE stream.

    A `stream_fault` only breaks streamed answers; a plain request gets the whole text.
    """

    content: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    usage: Literal["normal", "null", "absent"] = "normal"
    stream_fault: Literal["", "error", "cut", "stall"] = ""
    frame_delay: float = 0.0


@dataclass
class _Raw:
    """A literal HTTP response, the same for streaming and non-streaming requests."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _Delay:
    """Wait (without blocking the loop), then give `then`."""

    seconds: float
    then: _Outcome


_Outcome: TypeAlias = "_Completion | _Raw | _Delay | Literal['reset', 'stall']"


@dataclass
class _Call:
    """One chat completion request for a known model."""

    model: str  # as requested
    body: dict[str, Any]
    number: int  # gateway-wide response counter
    attempt: int  # requests for this model name since the last clear(), this one included
    behaviour: Callable[[_Call], _Outcome]


def _json_raw(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> _Raw:
    return _Raw(status, _ENCODER.encode(payload).encode(), headers=headers)


def _error(status: int, message: str, kind: str, code: str | int | None, **headers: str) -> _Raw:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return _json_raw(
        status, body, tuple((k.replace("_", "-").title(), v) for k, v in headers.items())
    )


_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("Invalid value for a request parameter.", "invalid_request_error", "invalid_request"),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to use this model.", "permission_error", "permission_denied"),
    404: ("The requested resource does not exist.", "invalid_request_error", "not_found"),
    429: ("Rate limit reached for requests. Please retry shortly.", "requests", "rate_limit"),
    500: ("The server had an error while processing your request.", "server_error", "internal"),
    502: ("Bad gateway.", "server_error", "bad_gateway"),
    503: ("The server is overloaded, please try again later.", "server_error", "unavailable"),
}


def _status_error(status: int, model: str, variant: str | None = None, **headers: str) -> _Raw:
    if variant == "context":
        message = (
            "This model's maximum context length is 8192 tokens. However, your messages"
            " resulted in 12000 tokens. Please reduce the length of the messages."
        )
        return _error(status, message, "invalid_request_error", "context_length_exceeded")
    if variant == "quota":
        message = "You exceeded your current quota, please check your plan and billing details."
        return _error(status, message, "insufficient_quota", "insufficient_quota")
    if status == 404:
        message = f"The model `{model}` does not exist"
        return _error(404, message, "invalid_request_error", "model_not_found", **headers)
    kind = "server_error" if status >= 500 else "invalid_request_error"
    message, kind, code = _ERRORS.get(status, (f"HTTP {status} from the local gateway.", kind, ""))
    return _error(status, message, kind, code or str(status), **headers)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


_EXAMPLE_BY_TYPE: dict[str, Callable[[], Any]] = {
    "integer": lambda: 1,
    "number": lambda: 1.5,
    "boolean": lambda: True,
    "array": list,
    "object": dict,
}


def _example_value(name: str, schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "example"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if isinstance(kind, str) and kind in _EXAMPLE_BY_TYPE:
        return _EXAMPLE_BY_TYPE[kind]()
    return "Paris" if name in ("city", "location") else "example"


def _example_arguments(parameters: Any) -> str:
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    if not isinstance(properties, dict):
        return "{}"
    return json.dumps({name: _example_value(name, spec) for name, spec in properties.items()})


def _offered_functions(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    functions = [t.get("function") for t in tools if isinstance(t, dict)] if tools else []
    return [f for f in functions if isinstance(f, dict) and isinstance(f.get("name"), str)]


def _tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _tool_answer(call: _Call, *, every: bool) -> _Outcome:
    last = call.body["messages"][-1]
    if isinstance(last, dict) and last.get("role") == "tool":
        return _Completion("The tool said: " + _text_of(last.get("content")))
    functions = _offered_functions(call.body)
    if not functions:
        return _Completion("No tools were offered.")
    if every:
        calls = [
            _tool_call(
                f"call_{call.number}_{i}", f["name"], _example_arguments(f.get("parameters"))
            )
            for i, f in enumerate(functions)
        ]
        return _Completion(None, calls, "tool_calls")
    chosen = functions[0]
    choice = call.body.get("tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        wanted = choice["function"].get("name")
        chosen = next((f for f in functions if f["name"] == wanted), chosen)
    arguments = _example_arguments(chosen.get("parameters"))
    return _Completion(
        None, [_tool_call(f"call_{call.number}", chosen["name"], arguments)], "tool_calls"
    )


def _first_tool_name(call: _Call) -> str:
    functions = _offered_functions(call.body)
    return str(functions[0]["name"]) if functions else "get_weather"


def _echo(call: _Call) -> _Outcome:
    users = [m for m in call.body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
    return _Completion(_text_of(users[-1].get("content")) if users else "")


def _truncated_json(call: _Call) -> _Outcome:
    whole = _completion_body(call, _Completion(FIXED_TEXT))
    return _Raw(200, whole[: len(whole) // 2])


_HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    b"</h1></center><hr><center>nginx</center></body></html>\n"
)

_EXACT: dict[str, Callable[[_Call], _Outcome]] = {
    "fixed": lambda call: _Completion(FIXED_TEXT),
    "echo": _echo,
    "tool-call": functools.partial(_tool_answer, every=False),
    "parallel-tool-calls": functools.partial(_tool_answer, every=True),
    "malformed-tool-call": lambda call: _Completion(
        None, [_tool_call(f"call_{call.number}", _first_tool_name(call), '{"city": "Par')], "length"
    ),
    "empty-args-tool-call": lambda call: _Completion(
        None, [_tool_call("", _first_tool_name(call), "")], "tool_calls"
    ),
    "usage-null": lambda call: _Completion(FIXED_TEXT, usage="null"),
    "no-usage": lambda call: _Completion(FIXED_TEXT, usage="absent"),
    "error-in-200": lambda call: _error(200, "upstream failure", "server_error", 500),
    "html-502": lambda call: _Raw(502, _HTML_502, "text/html"),
    "truncated-json": _truncated_json,
    "reset": lambda call: "reset",
    "stall": lambda call: "stall",
    "stream-error-midway": lambda call: _Completion(_BROKEN_TEXT, stream_fault="error"),
    "stream-cut": lambda call: _Completion(_BROKEN_TEXT, stream_fault="cut"),
    "stream-stall": lambda call: _Completion(_BROKEN_TEXT, stream_fault="stall"),
    "no-stream": lambda call: (
        _error(400, "Streaming is not supported for this model.", "invalid_request_error", None)
        if call.body.get("stream") is True
        else _Completion(FIXED_TEXT)
    ),
}


def _error_model(call: _Call, match: re.Match[str]) -> _Outcome:
    status, variant, retry = int(match[1]), match[2], match[3]
    if status == 429 and variant != "quota":
        return _status_error(status, call.model, variant, retry_after=retry or "1")
    return _status_error(status, call.model, variant)


def _flaky_model(call: _Call, match: re.Match[str]) -> _Outcome:
    if call.attempt > int(match[1]):
        return _Completion(FIXED_TEXT)
    if match[2] == "reset":
        return "reset"
    status = int(match[2])
    if status in (429, 503):
        return _status_error(status, call.model, retry_after="0")
    return _status_error(status, call.model)


def _chaos_model(call: _Call, match: re.Match[str]) -> _Outcome:
    """Fault or echo, drawn from the seed and this model's request number (so repeatable)."""
    draw = random.Random(f"{match[1]}:{call.attempt}").random()
    if draw >= 0.2:
        return _echo(call)
    fault = int(draw / 0.05)  # four faults, 5% each
    if fault == 0:
        return _status_error(429, call.model, retry_after="0")
    if fault == 1:
        return _status_error(503, call.model)
    return "reset" if fault == 2 else "stall"


_PATTERNS: list[tuple[re.Pattern[str], Callable[[_Call, re.Match[str]], _Outcome]]] = [
    (re.compile(r"chaos-(\d{1,9})"), _chaos_model),
    (re.compile(r"error-([45]\d\d)(?:-(context|quota|retry-(\d+(?:\.\d+)?)))?"), _error_model),
    (re.compile(r"slow-(\d{1,7})"), lambda c, m: _Delay(int(m[1]) / 1000, _Completion(FIXED_TEXT))),
    (re.compile(r"flaky-(\d{1,6})-(reset|[45]\d\d)"), _flaky_model),
    (
        re.compile(r"drip-(\d{1,6})"),
        lambda c, m: _Completion(
            "".join(f"tok{i} " for i in range(20)), frame_delay=int(m[1]) / 1000
        ),
    ),
    (
        re.compile(r"chunks-(\d{1,6})"),
        lambda c, m: _Completion("".join(f"tok{i} " for i in range(int(m[1])))),
    ),
]


def _behaviour(name: str) -> Callable[[_Call], _Outcome] | None:
    """The behaviour of a model name (provider prefix already stripped), or None if unknown."""
    exact = _EXACT.get(name)
    if exact is not None:
        return exact
    for pattern, behaviour in _PATTERNS:
        match = pattern.fullmatch(name)
        if match is not None:
            return _bound(behaviour, match)
    return None


def _bound(
    behaviour: Callable[[_Call, re.Match[str]], _Outcome], match: re.Match[str]
) -> Callable[[_Call], _Outcome]:
    return lambda call: behaviour(call, match)


# --- rendering ----------------------------------------------------------------------------


def _usage(call: _Call, answer: _Completion) -> dict[str, int] | None:
    """Deterministic token counts: one per message (its role) plus one per word."""
    if answer.usage == "null":
        return None
    messages = [m for m in call.body["messages"] if isinstance(m, dict)]
    prompt = max(1, sum(1 + len(_text_of(m.get("content")).split()) for m in messages))
    if answer.tool_calls:
        completion = 10 * len(answer.tool_calls)
    else:
        completion = max(1, len((answer.content or "").split()))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion_body(call: _Call, answer: _Completion) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    payload: dict[str, Any] = {
        "id": f"chatcmpl-{call.number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model,
        "choices": [{"index": 0, "message": message, "finish_reason": answer.finish_reason}],
    }
    if answer.usage != "absent":
        payload["usage"] = _usage(call, answer)
    return _ENCODER.encode(payload).encode()


def _sse(payload: Any) -> bytes:
    return b"data: " + _ENCODER.encode(payload).encode() + b"\n\n"


def _stream_frames(call: _Call, answer: _Completion) -> list[bytes]:
    """The SSE frames of a streamed answer (`data: [DONE]` last, unless the stream breaks)."""
    head = {
        "id": f"chatcmpl-{call.number}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": call.model,
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return _sse({**head, "choices": [choice]})

    frames = [chunk({"role": "assistant", "content": ""})]
    words = _WORD.findall(answer.content or "")
    if answer.stream_fault:
        frames += [chunk({"content": word}) for word in words[:3]]
        if answer.stream_fault == "error":
            frames.append(_sse({"error": {"message": "overloaded", "type": "server_error"}}))
        return frames
    frames += [chunk({"content": word}) for word in words]
    for index, tool_call in enumerate(answer.tool_calls):
        name, arguments = tool_call["function"]["name"], tool_call["function"]["arguments"]
        opening = {"index": index, "id": tool_call["id"], "type": "function"}
        frames.append(
            chunk({"tool_calls": [{**opening, "function": {"name": name, "arguments": ""}}]})
        )
        frames += [
            chunk(
                {"tool_calls": [{"index": index, "function": {"arguments": arguments[i : i + 8]}}]}
            )
            for i in range(0, len(arguments), 8)
        ]
    frames.append(chunk({}, answer.finish_reason))
    options = call.body.get("stream_options")
    wants_usage = isinstance(options, dict) and options.get("include_usage") is True
    if wants_usage and answer.usage != "absent":
        frames.append(_sse({**head, "choices": [], "usage": _usage(call, answer)}))
    frames.append(b"data: [DONE]\n\n")
    return frames


# --- HTTP/1.1 -----------------------------------------------------------------------------

_PHRASES = {status.value: status.phrase for status in http.HTTPStatus}


class _BadRequestError(Exception):
    """The bytes on the wire are not an HTTP/1.x request this server understands."""


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


async def _read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> _Request | None:
    """The next request on the connection, or None when the client closed it cleanly."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _BadRequestError from None
        return None
    except asyncio.LimitOverrunError:
        raise _BadRequestError from None
    request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequestError
    headers: dict[str, str] = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise _BadRequestError
        headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    try:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader)
        else:
            length = int(headers.get("content-length") or 0)
            body = await reader.readexactly(length) if length > 0 else b""
    except (ValueError, asyncio.LimitOverrunError):
        raise _BadRequestError from None
    return _Request(parts[0], parts[1], parts[2], headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16):
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields, ignored
        pass
    return b"".join(parts)


async def _send(writer: asyncio.StreamWriter, raw: _Raw, keep_alive: bool) -> bool:
    lines = [
        f"HTTP/1.1 {raw.status} {_PHRASES.get(raw.status, 'Unknown')}",
        f"Content-Type: {raw.content_type}",
        f"Content-Length: {len(raw.body)}",
        *(f"{name}: {value}" for name, value in raw.headers),
    ]
    if not keep_alive:
        lines.append("Connection: close")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + raw.body)
    await writer.drain()
    return keep_alive


async def _send_stream(
    writer: asyncio.StreamWriter, frames: list[bytes], request: _Request, cut: bool
) -> bool:
    """Chunked SSE for HTTP/1.1 (keep-alive allowed), close-delimited for HTTP/1.0."""
    chunked = request.version != "HTTP/1.0"
    keep_alive = chunked and request.keep_alive
    head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else ""
    head += "\r\n" if keep_alive else "Connection: close\r\n\r\n"
    if chunked:
        body = b"".join(b"%x\r\n%s\r\n" % (len(frame), frame) for frame in frames)
        body += b"" if cut else b"0\r\n\r\n"
    else:
        body = b"".join(frames)
    writer.write(head.encode("latin-1") + body)
    await writer.drain()
    return keep_alive and not cut


async def _drip_stream(
    writer: asyncio.StreamWriter,
    reader: asyncio.StreamReader,
    frames: list[bytes],
    answer: _Completion,
) -> bool:
    """Send frames one at a time (`frame_delay` apart); on "stall", then wait for a hang-up."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    writer.write(head)
    for frame in frames:
        writer.write(frame)
        await writer.drain()
        if answer.frame_delay:
            await asyncio.sleep(answer.frame_delay)
    if answer.stream_fault == "stall":
        while await reader.read(65536):
            pass
    return False


def _parse_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Clients hanging up mid-response are normal here: do not log their tracebacks."""
    if isinstance(context.get("exception"), (ConnectionError, asyncio.CancelledError)):
        return
    loop.default_exception_handler(context)


# --- the server ---------------------------------------------------------------------------


class LocalGateway:
    """A deterministic OpenAI-compatible chat completions server on the loopback interface.

    It runs an asyncio event loop in a daemon thread; use it as a (sync or async) context
    manager, or call `start()` / `stop()`. Point any OpenAI-compatible client at `base_url`
    and pick a behaviour with the model name (see `MODELS`), e.g. `openai/tool-call`.

    Args:
        host: A loopback address to bind (never a public interface).
        port: The port; 0 (the default) lets the OS pick a free one, see `port`.
        api_key: When set, chat completions without `Authorization: Bearer <api_key>`
            get HTTP 401.
        record: Keep every request in `requests`.

    Raises:
        ValueError: `host` is not a loopback address.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        record: bool = True,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"LocalGateway binds loopback addresses only, not {host!r}")
        self._host = host
        self._port = port
        self._api_key = api_key
        self._record = record
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._attempts: dict[str, int] = {}
        self._counter = 0
        self._connections_opened = 0
        self._bound_port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle

    def start(self) -> LocalGateway:
        """Start serving in a background thread; return once the socket is listening.

        Returns:
            The gateway itself, so that `gateway = LocalGateway().start()` works.

        Raises:
            RuntimeError: The gateway is already running.
            OSError: The address could not be bound (e.g. the port is in use).
        """
        if self._thread is not None:
            raise RuntimeError("LocalGateway is already running")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(ready, failure), name="llmport-local-gateway", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close the listening socket and every open connection, then join the thread.

        Requests in flight (slow, stalled or streaming) are abandoned. Waits at most about
        five seconds. Calling it on a gateway that is not running does nothing.
        """
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(timeout=5)
        self._thread = self._loop = self._stop_event = None

    def serve_forever(self) -> None:
        """Start (unless running) and block until Ctrl-C (KeyboardInterrupt), then stop."""
        if self._thread is None:
            self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> LocalGateway:
        """Start the gateway; see `start()`."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the gateway; see `stop()`."""
        self.stop()

    async def __aenter__(self) -> LocalGateway:
        """Start the gateway without blocking the caller's event loop."""
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the gateway without blocking the caller's event loop."""
        await asyncio.to_thread(self.stop)

    # -- introspection

    @property
    def port(self) -> int:
        """The TCP port: the one actually bound once started, else the one configured."""
        return self._bound_port if self._bound_port is not None else self._port

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, e.g. `http://127.0.0.1:54321/v1`."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far (oldest first), when `record` is on."""
        with self._lock:
            return list(self._requests)

    @property
    def open_connections(self) -> int:
        """How many client connections are open right now."""
        return len(self._tasks)

    @property
    def connections_opened(self) -> int:
        """How many TCP connections were accepted since start (shows connection pooling)."""
        return self._connections_opened

    def clear(self) -> None:
        """Forget the recorded requests and restart the per-model counters (`flaky-*`)."""
        with self._lock:
            self._requests.clear()
            self._attempts.clear()

    # -- the event loop thread

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_quiet_exception_handler)
        try:
            loop.run_until_complete(self._main(ready, loop))
        except BaseException as exc:
            if ready.is_set():
                _log.exception("llmport local gateway stopped unexpectedly")
            else:
                failure.append(exc)
        finally:
            ready.set()
            loop.close()

    async def _main(self, ready: threading.Event, loop: asyncio.AbstractEventLoop) -> None:
        stop_event = asyncio.Event()
        server = await asyncio.start_server(self._connection, self._host, self._port, backlog=1024)
        self._bound_port = int(server.sockets[0].getsockname()[1])
        self._loop, self._stop_event = loop, stop_event
        ready.set()
        try:
            await stop_event.wait()
        finally:
            server.close()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=2)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._connections_opened += 1
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away
        except _BadRequestError:
            bad = _error(400, "Malformed HTTP request.", "invalid_request_error", "bad_request")
            with contextlib.suppress(ConnectionError):
                await _send(writer, bad, keep_alive=False)
        except Exception:
            _log.exception("llmport local gateway: unexpected error while serving a request")
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; True when the connection stays open for the next one."""
        request = await _read_request(reader, writer)
        if request is None:
            return False
        body = _parse_object(request.body)
        if self._record:
            recorded = RecordedRequest(request.method, request.target, request.headers, body)
            with self._lock:
                self._requests.append(recorded)
        call = self._route(request, body)
        if isinstance(call, _Raw):
            return await _send(writer, call, request.keep_alive)
        shape = stream_shape_frames(call.model.rsplit("/", 1)[-1])
        if shape is not None:
            if call.body.get("stream") is not True:
                bad = _error(400, "This model only streams.", "invalid_request_error", None)
                return await _send(writer, bad, request.keep_alive)
            return await _send_stream(writer, shape, request, cut=False)
        outcome = call.behaviour(call)
        while isinstance(outcome, _Delay):
            await asyncio.sleep(outcome.seconds)
            outcome = outcome.then
        if isinstance(outcome, _Raw):
            return await _send(writer, outcome, request.keep_alive)
        if outcome == "stall":
            while await reader.read(65536):  # until the client hangs up (or stop() cancels)
                pass
        if isinstance(outcome, str):
            return False  # "reset" and "stall": close without an answer
        if call.body.get("stream") is True:
            frames = _stream_frames(call, outcome)
            if outcome.frame_delay or outcome.stream_fault == "stall":
                return await _drip_stream(writer, reader, frames, outcome)
            return await _send_stream(writer, frames, request, outcome.stream_fault == "cut")
        return await _send(writer, _Raw(200, _completion_body(call, outcome)), request.keep_alive)

    def _route(self, request: _Request, body: dict[str, Any] | None) -> _Raw | _Call:
        """An immediate reply (health, models, errors) or the chat completion call to run."""
        path = request.target.split("?", 1)[0]
        if request.method == "GET" and path == "/health":
            return _json_raw(200, {"status": "ok"})
        if request.method == "GET" and path in ("/v1/models", "/models"):
            data = [
                {"id": n, "object": "model", "created": 0, "owned_by": "llmport"}
                for n in _LISTED_MODELS
            ]
            return _json_raw(200, {"object": "list", "data": data})
        if request.method != "POST" or path not in _CHAT_PATHS:
            message = f"Unknown request URL: {request.method} {path}."
            return _error(404, message, "invalid_request_error", "unknown_url")
        if self._api_key is not None:
            expected = f"Bearer {self._api_key}".encode()
            if not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
                return _status_error(401, "")
        if body is None:
            message = "We could not parse the JSON body of your request."
            return _error(400, message, "invalid_request_error", "invalid_json")
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not model:
            return _error(400, "You must provide a model parameter.", "invalid_request_error", None)
        if not isinstance(messages, list) or not messages:
            message = "'messages' must be a non-empty array."
            return _error(400, message, "invalid_request_error", "invalid_messages")
        name = model.rsplit("/", 1)[-1]
        behaviour = _behaviour(name)
        if behaviour is None and name in STREAM_SHAPES:
            behaviour = _EXACT["fixed"]
        if behaviour is None:
            return _status_error(404, model)
        with self._lock:
            self._counter += 1
            self._attempts[name] = attempt = self._attempts.get(name, 0) + 1
            number = self._counter
        return _Call(model, body, number, attempt, behaviour)
