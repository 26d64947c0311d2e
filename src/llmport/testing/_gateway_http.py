"""The local gateway's small HTTP/1.1 layer: read requests, send answers and streams."""

from __future__ import annotations

import asyncio
import http
import json
from dataclasses import dataclass
from typing import Any

from llmport.testing._gateway_models import (
    _Completion,
    _Raw,
)

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


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Clients hanging up mid-response are normal here: do not log their tracebacks."""
    if isinstance(context.get("exception"), (ConnectionError, asyncio.CancelledError)):
        return
    loop.default_exception_handler(context)
