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
import hmac
import logging
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from llmport.testing._gateway_http import (
    _BadRequestError,
    _drip_stream,
    _parse_object,
    _quiet_exception_handler,
    _read_request,
    _Request,
    _send,
    _send_stream,
)
from llmport.testing._gateway_models import (
    _CHAT_PATHS,
    _EXACT,
    _LISTED_MODELS,
    FIXED_TEXT,
    MODELS,
    _behaviour,
    _Call,
    _Delay,
    _error,
    _json_raw,
    _Raw,
    _status_error,
)
from llmport.testing._gateway_render import _completion_body, _stream_frames
from llmport.testing.network import is_loopback
from llmport.testing.stream_shapes import STREAM_SHAPES, stream_shape_frames

__all__ = ["FIXED_TEXT", "MODELS", "LocalGateway", "RecordedRequest"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the gateway received it.

    Attributes:
        method: The HTTP method, e.g. "POST".
        path: The request target as sent, e.g. "/v1/chat/completions".
        headers: The request headers, keys in lower case.
        body: The parsed JSON object of the body; `{}` when there was no body or it was
            not a JSON object, so `gateway.requests[-1].body["model"]` reads directly.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


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
        if not is_loopback(host):
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
            recorded = RecordedRequest(request.method, request.target, request.headers, body or {})
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
            cut = call.model.endswith("midframe")  # the connection dies inside a frame
            return await _send_stream(writer, shape, request, cut=cut)
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
        if outcome.truncated:
            whole = _completion_body(call, outcome)
            return await _send(writer, _Raw(200, whole[: len(whole) // 2]), request.keep_alive)
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
