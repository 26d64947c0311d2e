"""`total_timeout` bounds the whole call, the attempt in flight included.

`timeout` bounds each read, so a body that drips a byte at a time, or an SSE stream
that never ends, outlives it. With `total_timeout` set, every provider on every path
ends such a call with kind `timeout` and keeps what had arrived. The tests use small
limits and assert the outcome, never how long the test took.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hostile import (
    PATHS,
    PROVIDERS,
    HostileServer,
    Reply,
    Request,
    call_path,
    chunk,
    completion,
    make_llm,
)

from llmport import ErrorKind, RetryPolicy
from llmport.streaming import TextDelta

pytestmark = pytest.mark.integration

LIMIT = 0.3
#: Long enough for the first frames to arrive even on a loaded machine.
PARTIAL_LIMIT = 2.0
#: The per-read timeout: far longer than the limit, so only the limit can end the call.
READ = 30.0


def dripping(request: Request) -> Reply:
    """A whole answer, one byte every 20 ms (buffered) or an endless stream of text."""
    if request.body.get("stream"):

        def frame(number: int) -> bytes:
            return f"data: {json.dumps(chunk(f'tok{number} '))}\n\n".encode()

        def frames() -> Iterator[bytes]:
            yield frame(0) + frame(1)  # at once, then one at a time
            number = 2
            while True:
                yield frame(number)
                number += 1

        return Reply(200, {"content-type": "text/event-stream"}, frames(), pause=0.02)
    body = json.dumps(completion("x" * 200)).encode()
    pieces = [body[i : i + 1] for i in range(len(body))]
    return Reply(200, {"content-type": "application/json"}, pieces, pause=0.02, length=len(body))


@pytest.fixture(scope="module")
def drip() -> Iterator[HostileServer]:
    with HostileServer(dripping) as server:
        yield server


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", PATHS)
def test_total_timeout_ends_a_dripping_call_as_a_timeout(
    provider: str, path: str, drip: HostileServer
) -> None:
    llm = make_llm(provider, drip, api_key="sk-drip-0001", timeout=READ, total_timeout=LIMIT)
    response, _ = call_path(llm, path)
    assert response.error is not None
    assert response.error.kind is ErrorKind.TIMEOUT
    assert "total_timeout" in response.error.message


def quick(request: Request) -> Reply:
    """A prompt, complete answer."""
    if request.body.get("stream"):
        frames = [chunk("hello"), chunk(finish="stop")]
        data = [f"data: {json.dumps(f)}\n\n".encode() for f in frames]
        return Reply(200, {"content-type": "text/event-stream"}, [*data, b"data: [DONE]\n\n"])
    body = json.dumps(completion("hello")).encode()
    return Reply(200, {"content-type": "application/json"}, [body], length=len(body))


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", ["stream", "astream"])
def test_a_stream_cut_by_total_timeout_keeps_its_partial_content(
    provider: str, path: str, drip: HostileServer
) -> None:
    # The first litellm call in a process imports its HTTP handlers: do that untimed.
    with HostileServer(quick) as server:
        assert call_path(make_llm(provider, server, api_key="sk-warm-0001"), path)[0].ok
    llm = make_llm(
        provider, drip, api_key="sk-drip-0001", timeout=READ, total_timeout=PARTIAL_LIMIT
    )
    response, events = call_path(llm, path)
    shown = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert response.content.startswith("tok0 tok1 ")
    assert response.content == shown
    assert response.finish_reason == "error"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", PATHS)
def test_total_timeout_per_call_overrides_the_config(
    provider: str, path: str, drip: HostileServer
) -> None:
    llm = make_llm(provider, drip, api_key="sk-drip-0001", timeout=READ)
    response, _ = call_path(llm, path, total_timeout=LIMIT)
    assert response.error is not None
    assert response.error.kind is ErrorKind.TIMEOUT


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", PATHS)
def test_no_retry_starts_once_total_timeout_is_reached(
    provider: str, path: str, drip: HostileServer
) -> None:
    retry = RetryPolicy(max_attempts=5, initial_backoff=0, jitter=False)
    llm = make_llm(
        provider, drip, api_key="sk-drip-0001", timeout=READ, total_timeout=LIMIT, retry=retry
    )
    response, _ = call_path(llm, path)
    assert response.error is not None
    assert response.error.kind is ErrorKind.TIMEOUT
    assert response.attempts == 1


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", PATHS)
def test_a_call_that_finishes_in_time_is_untouched(provider: str, path: str) -> None:
    with HostileServer(quick) as server:
        llm = make_llm(provider, server, api_key="sk-quick-0001", total_timeout=30)
        response, _ = call_path(llm, path)
    assert response.ok
    assert response.content == "hello"


def stalling(request: Request) -> Reply:
    """Headers, then silence for far longer than any limit in these tests."""
    kind = "text/event-stream" if request.body.get("stream") else "application/json"
    return Reply(200, {"content-type": kind}, [b""], pause=60, length=None)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", PATHS)
def test_total_timeout_ends_a_stalled_call_before_the_read_timeout(
    provider: str, path: str
) -> None:
    with HostileServer(stalling) as server:
        llm = make_llm(provider, server, api_key="sk-stall-0001", timeout=READ, total_timeout=LIMIT)
        response, _ = call_path(llm, path)
    assert response.error is not None
    assert response.error.kind is ErrorKind.TIMEOUT


@pytest.mark.parametrize(
    ("provider", "path"),
    [("openai_compatible", "sync"), ("openai_compatible", "stream"), ("litellm", "stream")],
)
def test_a_sync_call_cut_by_total_timeout_lets_go_of_the_connection(
    provider: str, path: str
) -> None:
    # The worker thread the caller stopped waiting for stops reading too, rather than
    # taking the whole dripping body (or an endless stream) in the background.
    with HostileServer(dripping) as server:
        llm = make_llm(provider, server, api_key="sk-drip-0001", timeout=READ, total_timeout=LIMIT)
        response, _ = call_path(llm, path)
        outcome = server.outcomes.get(timeout=60)
    assert response.error is not None
    assert response.error.kind is ErrorKind.TIMEOUT
    assert outcome == "abandoned"
