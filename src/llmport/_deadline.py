"""The one deadline: `total_timeout` bounds a whole call, the attempt in flight included.

`timeout` bounds each read; a body that drips, or a stream that never ends, outlives
it. `BaseLLM` and the stream objects run each attempt through these helpers when the
call has a deadline: async attempts and stream reads are awaited with what time is
left; sync attempts and stream reads run in a worker thread that the caller stops
waiting for at the deadline. Reaching it raises `TotalTimeoutError`, a
`TimeoutError`, which classifies as kind `timeout`; a stream keeps what it received.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import queue
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Protocol, TypeVar

__all__ = [
    "TotalTimeoutError",
    "acall_before",
    "acomplete_in_time",
    "aiterate_before",
    "call_before",
    "complete_in_time",
    "iterate_before",
    "read_timeout",
    "start_deadline",
]

T = TypeVar("T")


class _Timed(Protocol):
    """What these helpers read from a `ChatRequest`."""

    @property
    def total_timeout(self) -> float | None: ...

    @property
    def deadline(self) -> float | None: ...


R = TypeVar("R", bound=_Timed)
_POLL = 0.05  # how often a worker blocked on a full queue looks for a stop


class TotalTimeoutError(TimeoutError):
    """The call's `total_timeout` was reached before the attempt in flight finished."""

    def __init__(self, total_timeout: float | None) -> None:
        limit = f" ({total_timeout:g} s)" if total_timeout is not None else ""
        super().__init__(f"the call did not finish within total_timeout{limit}")


def start_deadline(request: R, now: float) -> R:
    """`request` with its deadline set, if it has a `total_timeout` and no deadline yet."""
    if request.total_timeout is None or request.deadline is not None:
        return request
    return dataclasses.replace(request, deadline=now + request.total_timeout)  # type: ignore[type-var]


def complete_in_time(complete: Callable[[R], T], request: R) -> T:
    """`complete(request)`, given up at the request's deadline (if it has one)."""
    if request.deadline is None:
        return complete(request)
    return call_before(request.deadline, request.total_timeout, lambda: complete(request))


async def acomplete_in_time(complete: Callable[[R], Awaitable[T]], request: R) -> T:
    """`await complete(request)`, cancelled at the request's deadline (if it has one)."""
    if request.deadline is None:
        return await complete(request)
    return await acall_before(request.deadline, request.total_timeout, complete(request))


def read_timeout(timeout: float, deadline: float | None) -> float:
    """The per-read timeout to give a transport: `timeout`, but never past the deadline."""
    if deadline is None:
        return timeout
    return max(min(timeout, deadline - time.monotonic()), 0.001)


def start_thread(target: Callable[[], None], name: str) -> None:
    """Run `target` in a daemon thread, in a copy of this context (as `asyncio.to_thread`
    does), so context variables such as the current span reach the provider."""
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(target,), name=name, daemon=True).start()


def call_before(deadline: float, total: float | None, function: Callable[[], T]) -> T:
    """Run `function` in a worker thread and wait for it until `deadline` (monotonic).

    Raises:
        TotalTimeoutError: the deadline came first; the worker is abandoned and its
            result, when it comes, is dropped.
    """
    done = threading.Event()
    outcome: list[Any] = []

    def work() -> None:
        try:
            outcome.append((True, function()))
        except BaseException as exc:  # handed to the caller below
            outcome.append((False, exc))
        done.set()

    start_thread(work, "llmport-call")
    if not done.wait(max(deadline - time.monotonic(), 0)):
        raise TotalTimeoutError(total)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


async def acall_before(deadline: float, total: float | None, awaitable: Awaitable[T]) -> T:
    """Await `awaitable` until `deadline`; at the deadline it is cancelled."""
    try:
        return await asyncio.wait_for(awaitable, max(deadline - time.monotonic(), 0))
    except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
        raise TotalTimeoutError(total) from None


def iterate_before(
    deadline: float, total: float | None, open_stream: Callable[[], Iterator[T]]
) -> Iterator[T]:
    """Iterate `open_stream()` in a worker thread, yielding its items until `deadline`.

    The worker reads ahead into a bounded queue. Closing this iterator, or reaching the
    deadline, tells the worker to close the provider stream at its next item.

    Raises:
        TotalTimeoutError: the deadline came before the stream ended.
    """
    items: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=64)
    stop = threading.Event()
    end = object()

    def put(item: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=_POLL)
            except queue.Full:
                continue
            return True
        return False

    def pump() -> None:
        try:
            stream = open_stream()
            try:
                for item in stream:
                    if not put((True, item)):
                        return
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed to the caller's thread
            put((False, exc))
            return
        put((False, end))

    start_thread(pump, "llmport-stream")
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TotalTimeoutError(total)
            try:
                ok, value = items.get(timeout=remaining)
            except queue.Empty:
                raise TotalTimeoutError(total) from None
            if ok:
                yield value
            elif value is end:
                return
            else:
                raise value
    finally:
        stop.set()


async def aiterate_before(
    deadline: float, total: float | None, stream: AsyncIterator[T]
) -> AsyncIterator[T]:
    """Yield from `stream`, waiting for each item only until `deadline`.

    At the deadline the pending read is cancelled, which closes the provider stream.
    """
    try:
        while True:
            try:
                item = await acall_before(deadline, total, stream.__anext__())
            except StopAsyncIteration:
                return
            yield item
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
