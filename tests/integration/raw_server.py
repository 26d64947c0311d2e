"""A loopback HTTP server that answers every request with scripted raw bytes.

For wire-level cases `LocalGateway` does not model: a body nested 100,000 deep, an SSE
stream cut in the middle of a frame, a Content-Encoding that lies. Each answer is a list
of byte pieces written in order; the connection is closed after the last one, so a body
without Content-Length ends where the script ends.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

__all__ = ["RawServer", "http_answer", "raw_server", "sse_answer"]


def http_answer(
    body: bytes,
    *,
    status: str = "200 OK",
    content_type: str = "application/json",
    headers: Sequence[tuple[str, str]] = (),
) -> list[bytes]:
    """A complete HTTP/1.1 response with a Content-Length."""
    head = [f"HTTP/1.1 {status}", f"content-type: {content_type}", f"content-length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in headers]
    head += ["connection: close", "", ""]
    return ["\r\n".join(head).encode() + body]


def sse_answer(*pieces: bytes) -> list[bytes]:
    """An SSE response whose body is `pieces`, ended by closing the connection."""
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
    return [head, *pieces]


class RawServer:
    """Answers every request on 127.0.0.1 with `answer`; counts the requests it read."""

    def __init__(self, answer: Sequence[bytes]) -> None:
        self.answer = list(answer)
        self.requests = 0
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._socket.settimeout(0.05)  # how often the accept loop checks for stop()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        """The URL to point a provider at (`/chat/completions` is appended)."""
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(5)
                try:
                    if self._read_request(connection):
                        self.requests += 1
                        for piece in self.answer:
                            connection.sendall(piece)
                except OSError:
                    pass

    @staticmethod
    def _read_request(connection: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            piece = connection.recv(65536)
            if not piece:
                return False
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            piece = connection.recv(65536)
            if not piece:
                return False
            body += piece
        return True

    def start(self) -> RawServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._socket.close()


@contextmanager
def raw_server(answer: Sequence[bytes]) -> Iterator[RawServer]:
    """Run a `RawServer` for the duration of the block."""
    server = RawServer(answer).start()
    try:
        yield server
    finally:
        server.stop()
