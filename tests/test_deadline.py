"""The deadline helpers and the base class: `total_timeout` bounds any provider's call.

Slow providers here wait on events that the test never sets (or sets afterwards), so no
assertion depends on how long anything took.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from llmport import ChatRequest, ErrorKind, RetryPolicy
from llmport._deadline import TotalTimeoutError, iterate_before, read_timeout
from llmport.streaming import TextDelta
from llmport.testing import FakeLLM

USER = [{"role": "user", "content": "Hi"}]


class HangingLLM(FakeLLM):
    """Answers "early" then hangs until `release` is set (never, in these tests)."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.release = threading.Event()
        self.arelease: asyncio.Event | None = None

    def _complete(self, request: ChatRequest) -> Any:
        self.release.wait()
        return super()._complete(request)

    async def _acomplete(self, request: ChatRequest) -> Any:
        self.arelease = asyncio.Event()
        await self.arelease.wait()
        return super()._complete(request)

    def _stream(self, request: ChatRequest) -> Iterator[Any]:
        yield {"choices": [{"index": 0, "delta": {"content": "early"}}]}
        self.release.wait()

    async def _astream(self, request: ChatRequest) -> AsyncIterator[Any]:
        yield {"choices": [{"index": 0, "delta": {"content": "early"}}]}
        await asyncio.Event().wait()


def hanging(**settings: Any) -> HangingLLM:
    return HangingLLM(
        total_timeout=0.05, retry=RetryPolicy(max_attempts=3, initial_backoff=0), **settings
    )


def test_a_hanging_sync_call_ends_as_a_timeout() -> None:
    llm = hanging()
    response = llm.chat_completions(USER)
    llm.release.set()
    assert response.error is not None
    assert response.error.kind is ErrorKind.TIMEOUT
    assert response.attempts == 1


async def test_a_hanging_async_call_ends_as_a_timeout() -> None:
    response = await hanging().achat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.TIMEOUT


def test_a_hanging_stream_keeps_what_arrived() -> None:
    llm = hanging()
    with llm.stream(USER) as stream:
        events = list(stream)
    llm.release.set()
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["early"]
    assert stream.response.content == "early"
    assert stream.response.error is not None
    assert stream.response.error.kind is ErrorKind.TIMEOUT


async def test_a_hanging_async_stream_keeps_what_arrived() -> None:
    async with hanging().astream(USER) as stream:
        events = [event async for event in stream]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["early"]
    assert stream.response.error is not None
    assert stream.response.error.kind is ErrorKind.TIMEOUT


def test_total_timeout_is_a_config_setting_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_LLM_TOTAL_TIMEOUT", "2.5")
    assert FakeLLM().build_request(USER).total_timeout == 2.5


def test_per_call_total_timeout_wins_over_the_config() -> None:
    assert (
        FakeLLM(total_timeout=9).build_request(USER, overrides={"total_timeout": 1}).total_timeout
        == 1
    )


@pytest.mark.parametrize("value", [0, -1, "soon", True])
def test_a_bad_per_call_total_timeout_raises_before_any_io(value: Any) -> None:
    with pytest.raises(ValueError, match="total_timeout"):
        FakeLLM().chat_completions(USER, total_timeout=value)


def test_read_timeout_never_reaches_past_the_deadline() -> None:
    assert read_timeout(30.0, None) == 30.0
    assert read_timeout(30.0, 0.0) == 0.001  # a deadline long past
    assert read_timeout(0.5, float("inf")) == 0.5


def test_closing_an_iteration_early_stops_its_worker() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            while True:
                yield 1
        finally:
            closed.set()

    items = iterate_before(float("inf"), None, endless)
    assert next(items) == 1
    items.close()  # type: ignore[attr-defined]
    assert closed.wait(10)


def test_a_worker_error_reaches_the_caller() -> None:
    def broken() -> Iterator[int]:
        yield from ()
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        list(iterate_before(float("inf"), None, broken))


def test_the_deadline_error_is_a_timeout_error_naming_the_setting() -> None:
    error = TotalTimeoutError(0.3)
    assert isinstance(error, TimeoutError)
    assert "total_timeout (0.3 s)" in str(error)


def test_the_worker_thread_sees_the_callers_context_variables() -> None:
    import contextvars

    tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")
    seen: list[str] = []

    class ContextLLM(FakeLLM):
        def _complete(self, request: ChatRequest) -> Any:
            seen.append(tenant.get())
            return super()._complete(request)

    tenant.set("acme")
    assert ContextLLM(total_timeout=30).chat_completions(USER).ok
    assert seen == ["acme"]


def fallback_paths() -> list[str]:
    return ["sync", "async", "stream", "astream"]


def run_group(group: Any, path: str, **options: Any) -> Any:
    if path == "sync":
        return group.chat_completions(USER, **options)
    if path == "async":
        return asyncio.run(group.achat_completions(USER, **options))
    if path == "stream":
        with group.stream(USER, **options) as stream:
            list(stream)
        return stream.response

    async def consume() -> Any:
        async with group.astream(USER, **options) as stream:
            return await stream.get_response()

    return asyncio.run(consume())


@pytest.mark.parametrize("path", fallback_paths())
def test_a_fallback_group_spends_one_total_timeout_across_its_members(path: str) -> None:
    from llmport import FallbackLLM

    first = HangingLLM(retry=RetryPolicy.never())
    second = FakeLLM(["never asked"])
    response = run_group(FallbackLLM([first, second]), path, total_timeout=0.05)
    first.release.set()
    assert response.error is not None
    assert response.error.kind is ErrorKind.TIMEOUT
    assert second.requests == []


@pytest.mark.parametrize("path", fallback_paths())
def test_the_next_member_gets_what_is_left_of_the_groups_total_timeout(path: str) -> None:
    from llmport import FallbackLLM

    first = FakeLLM([ErrorKind.SERVER], retry=RetryPolicy.never())
    second = FakeLLM(["answer"], total_timeout=600)
    response = run_group(FallbackLLM([first, second]), path, total_timeout=300)
    assert response.content == "answer"
    left = second.last_request.total_timeout
    assert left is not None
    assert 0 < left <= 300
