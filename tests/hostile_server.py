"""A loopback HTTP server that answers with exactly the bytes a test scripts.

`LocalGateway` speaks correct HTTP; this server does not have to. A test hands it a
behaviour (a function from the request to a `Script`); the server sends the script's
writes as given (headers, bodies, cuts, pauses) and then closes the connection or
holds it open until the client hangs up. One server serves many hypothesis examples:
`serve()` swaps the behaviour and drops the connections of the previous one.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["HostileServer", "Script", "SeenRequest", "Write"]

#: How long a held ("stall") connection may stay open at most, whatever the client does.
STALL_LIMIT = 30.0


@dataclass(frozen=True)
class Write:
    """Send `data` after waiting `pause` seconds."""

    data: bytes
    pause: float = 0.0


@dataclass(frozen=True)
class Script:
    """What to send for one request, and what to do after the last write."""

    writes: tuple[Write, ...]
    then: Literal["close", "stall"] = "close"


@dataclass(frozen=True)
class SeenRequest:
    """A request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON body, or None

    @property
    def stream(self) -> bool:
        """True when the client asked for an SSE stream."""
        return isinstance(self.body, dict) and self.body.get("stream") is True

    @property
    def key(self) -> str:
        """The credential the client sent (`Authorization: Bearer <key>`), or ""."""
        value = self.headers.get("authorization", "")
        return value[7:] if value.lower().startswith("bearer ") else value


Behaviour = Callable[[SeenRequest], Script]


def _nothing(request: SeenRequest) -> Script:
    return Script(())


@dataclass
class _Generation:
    """The connections opened under one behaviour; `stop` releases them all."""

    behaviour: Behaviour
    stop: threading.Event = field(default_factory=threading.Event)
    sockets: set[socket.socket] = field(default_factory=set)


class HostileServer:
    """Serve scripted byte streams on 127.0.0.1; use as a context manager."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._generation = _Generation(_nothing)
        self.requests: list[SeenRequest] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="hostile-server", daemon=True)

    @property
    def base_url(self) -> str:
        """The `/v1` URL to give a provider."""
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closed.set()
        self.drop_connections()
        # Closing a listener does not wake a thread blocked in accept(); shutting it down does.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)

    @contextmanager
    def serving(self, behaviour: Behaviour) -> Iterator[list[SeenRequest]]:
        """Answer every request with `behaviour` inside the block; yields the requests seen."""
        with self._lock:
            self._generation = _Generation(behaviour)
            self.requests = []
        try:
            yield self.requests
        finally:
            self.drop_connections()

    def drop_connections(self) -> None:
        """Close every connection of the current behaviour (unblocks stalled clients)."""
        with self._lock:
            generation = self._generation
            generation.stop.set()
            sockets = list(generation.sockets)
            self._generation = _Generation(_nothing)
        for sock in sockets:
            _close(sock)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                generation = self._generation
                generation.sockets.add(sock)
            threading.Thread(
                target=self._handle, args=(sock, generation), name="hostile-conn", daemon=True
            ).start()

    def _handle(self, sock: socket.socket, generation: _Generation) -> None:
        try:
            request = _read_request(sock, generation.stop)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            script = generation.behaviour(request)
            for write in script.writes:
                if write.pause and generation.stop.wait(write.pause):
                    return
                sock.sendall(write.data)
            if script.then == "stall":
                _hold(sock, generation.stop)
        except OSError:
            pass
        finally:
            _close(sock)
            with self._lock:
                generation.sockets.discard(sock)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _hold(sock: socket.socket, stop: threading.Event) -> None:
    """Keep the connection open until the client hangs up, `stop` is set, or a long while."""
    waited = 0.0
    while waited < STALL_LIMIT and not stop.is_set():
        readable, _, _ = select.select([sock], [], [], 0.05)
        waited += 0.05
        if readable and not sock.recv(65536):
            return


def _recv(sock: socket.socket, stop: threading.Event) -> bytes:
    while not stop.is_set():
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable:
            return sock.recv(65536)
    return b""


def _read_request(sock: socket.socket, stop: threading.Event) -> SeenRequest | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = _recv(sock, stop)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, path, *_ = [*request_line.split(" "), "", ""]
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = _recv(sock, stop)
            if not chunk:
                return None
            rest += chunk
        body = _dechunk(rest)
    else:
        length = int(headers.get("content-length") or 0)
        while len(rest) < length:
            chunk = _recv(sock, stop)
            if not chunk:
                return None
            rest += chunk
        body = rest[:length]
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return SeenRequest(method, path, headers, parsed)


def _dechunk(data: bytes) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            return b"".join(parts)
        parts.append(data[:size])
        data = data[size + 2 :]
