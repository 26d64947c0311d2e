"""A loopback server for `sse_scaling.py`: streams whose one content delta is huge.

`POST /v1/chat/completions` with model `delta-<bytes>` answers a text/event-stream of
a role chunk, one content delta of `<bytes>` ASCII characters, a finish chunk and
`[DONE]`, with a Content-Length so the connection is reused. Bodies are built once
per size. `GET /health` answers 200. Prints its port on the first line, like the
gateway, so `_common.gateway_process` can run it.

    python benchmarks/_sse_server.py
"""

from __future__ import annotations

import asyncio
import functools
import json
import re

_MODEL = re.compile(rb'"model"\s*:\s*"delta-(\d{1,9})"')


def frame(delta: dict[str, object], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    chunk = {"id": "big", "object": "chat.completion.chunk", "model": "big", "choices": [choice]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


@functools.lru_cache(maxsize=8)
def stream_body(size: int) -> bytes:
    """The SSE body of a stream whose one content delta holds `size` characters."""
    return b"".join(
        [
            frame({"role": "assistant", "content": ""}),
            frame({"content": "x" * size}),
            frame({}, "stop"),
            b"data: [DONE]\n\n",
        ]
    )


def response(status: str, content_type: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while head := await reader.readuntil(b"\r\n\r\n"):
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            body = await reader.readexactly(int(length[1])) if length else b""
            model = _MODEL.search(body)
            if head.startswith(b"GET /health"):
                writer.write(response("200 OK", "text/plain", b"ok"))
            elif model is None:
                writer.write(response("404 Not Found", "text/plain", b"unknown model"))
            else:
                writer.write(response("200 OK", "text/event-stream", stream_body(int(model[1]))))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
