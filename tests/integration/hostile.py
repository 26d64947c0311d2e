"""A scripted loopback HTTP server for attack tests, and one way to call every path.

`HostileServer(script)` answers each request on 127.0.0.1 with whatever `script(request)`
returns: any status, headers and body, written in pieces with a pause between them
(a body that drips), or an endless generator of pieces. `call_path` runs one of the
four entry points (`sync`, `async`, `stream`, `astream`) and returns the final response
with every event the caller saw.
"""

from __future__ import annotations

import asyncio
import json
import queue
import socketserver
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from llmport import BaseLLM, LiteLLM, LLMResponse, OpenAICompatible, RetryPolicy
from llmport.streaming import StreamEvent

PATHS = ("sync", "async", "stream", "astream")
PROVIDERS = ("litellm", "openai_compatible")
USER = [{"role": "user", "content": "Hello"}]


@dataclass
class Request:
    """What the server received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Reply:
    """What the server sends: `pieces` are written one by one, `pause` seconds apart.

    With `length=None` the body is delimited by closing the connection.
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    pieces: Iterable[bytes] = ()
    pause: float = 0.0
    length: int | None = None


Script = Callable[[Request], Reply]


def json_reply(payload: Any, status: int = 200) -> Reply:
    """A whole JSON answer in one piece."""
    body = json.dumps(payload).encode()
    return Reply(status, {"content-type": "application/json"}, [body], length=len(body))


def sse_reply(chunks: Iterable[Any], done: bool = True) -> Reply:
    """An SSE answer: one `data:` frame per chunk, then `[DONE]`."""
    frames = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks]
    if done:
        frames.append(b"data: [DONE]\n\n")
    return Reply(200, {"content-type": "text/event-stream"}, frames)


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    """One `chat.completion.chunk` with a text delta."""
    delta: dict[str, Any] = {} if content is None else {"content": content}
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    body.update(extra)
    return body


def completion(content: str = "ok", **extra: Any) -> dict[str, Any]:
    """A whole `chat.completion` with usage."""
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    body.update(extra)
    return body


class HostileServer:
    """Serve `script` on 127.0.0.1 until `stop()`; endless replies end when it stops."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        #: Set when a reply ends: "finished" (all sent) or "abandoned" (the client left).
        self.outcomes: queue.Queue[str] = queue.Queue()
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                server._handle(self.rfile, self.wfile)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, rfile: Any, wfile: Any) -> None:
        line = rfile.readline().decode("latin-1").split()
        if len(line) < 2:
            return
        headers: dict[str, str] = {}
        while (raw := rfile.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        size = int(headers.get("content-length", "0"))
        data = rfile.read(size) if size else b""
        try:
            body = json.loads(data) if data else {}
        except ValueError:
            body = {}
        request = Request(line[1], headers, body)
        self.requests.append(request)
        reply = self.script(request)
        head = [f"HTTP/1.1 {reply.status} Status", "connection: close"]
        head += [f"{name}: {value}" for name, value in reply.headers.items()]
        if reply.length is not None:
            head.append(f"content-length: {reply.length}")
        try:
            wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            wfile.flush()
            for piece in reply.pieces:
                if self.stopping.is_set():
                    return
                wfile.write(piece)
                wfile.flush()
                if reply.pause and self.stopping.wait(reply.pause):
                    return
        except OSError:  # the client gave up: that is what these tests provoke
            self.outcomes.put("abandoned")
            return
        self.outcomes.put("finished")


def make_llm(provider: str, server: HostileServer, **settings: Any) -> BaseLLM:
    """A provider pointed at `server`, with no retries unless `settings` says otherwise."""
    settings.setdefault("retry", RetryPolicy.never())
    if provider == "litellm":
        return LiteLLM(chat_model="openai/m", api_base=server.base_url, **settings)
    return OpenAICompatible(chat_model="m", base_url=server.base_url, **settings)


def call_path(llm: BaseLLM, path: str, **options: Any) -> tuple[LLMResponse, list[StreamEvent]]:
    """Run one entry point to its end: the final response and the events seen."""
    if path == "sync":
        return llm.chat_completions(USER, **options), []
    if path == "async":
        return asyncio.run(llm.achat_completions(USER, **options)), []
    if path == "stream":
        with llm.stream(USER, **options) as stream:
            events = list(stream)
        return stream.response, events

    async def consume() -> tuple[LLMResponse, list[StreamEvent]]:
        async with llm.astream(USER, **options) as stream:
            events = [event async for event in stream]
        return stream.response, events

    return asyncio.run(consume())


def strings_in(value: Any, seen: set[int] | None = None) -> Iterator[str]:
    """Every string reachable from `value`, through dataclasses, mappings and sequences."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings_in(key, seen)
            yield from strings_in(item, seen)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item, seen)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            if name != "raw":  # documented as the provider payload, kept as sent
                yield from strings_in(getattr(value, name), seen)
