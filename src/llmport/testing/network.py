"""A guard that refuses every connection that does not go to the loopback interface."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["NetworkBlockedError", "block_non_loopback", "is_loopback"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NetworkBlockedError(OSError):
    """A test tried to reach a non-loopback address."""


def is_loopback(host: Any) -> bool:
    """True for 127.0.0.0/8, ::1, "localhost" and Unix socket paths."""
    if not isinstance(host, str):
        return isinstance(host, bytes)  # AF_UNIX abstract/path addresses
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@contextmanager
def block_non_loopback(violations: list[str] | None = None) -> Iterator[list[str]]:
    """Within the block, connecting or resolving a non-loopback host raises
    `NetworkBlockedError`; each attempt is also appended to the yielded list so a
    caller can fail a test even when library code swallowed the exception."""
    seen = violations if violations is not None else []
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def check(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if not is_loopback(host):
            seen.append(str(host))
            raise NetworkBlockedError(f"llmport network guard: connection to {host!r} blocked")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return original_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None:
            check((host.decode() if isinstance(host, bytes) else host, 0))
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo
    try:
        yield seen
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = original_getaddrinfo
