"""Streaming through a `FallbackLLM`: each member streams in turn until one starts answering.

A member whose stream ends before its first event (its only event is the final
`FinishEvent`, an ERROR) counts as a failed call: if its error kind is in the
group's `fallback_on`, the next member streams instead. Once a member has sent an
event, its stream is the answer, failures included: text already shown cannot be
taken back.

The group's budget is charged what every member spent (`llmport.cost.collect_spends`),
also when the caller closes the stream early: a member's usage seen by then counts,
as it does for the member's own budget.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

from llmport._deadline import start_deadline
from llmport.cost import Spend, collect_spends
from llmport.response_stream import AsyncResponseStream, ResponseStream
from llmport.streaming import FinishEvent, StreamEvent

if TYPE_CHECKING:
    from llmport.base import BaseLLM, ChatRequest
    from llmport.fallback import FallbackLLM
    from llmport.response import LLMResponse

__all__ = ["AsyncFallbackStream", "FallbackStream"]


class FallbackStream(ResponseStream):
    """The sync stream `FallbackLLM.stream()` returns."""

    def __init__(
        self,
        group: FallbackLLM,
        request: ChatRequest,
        open_stream: Callable[[BaseLLM, ChatRequest], ResponseStream],
    ) -> None:
        super().__init__(group, request)
        self._group = group
        self._open = open_stream

    def _run(self) -> Iterator[StreamEvent]:
        group, started = self._group, time.monotonic()
        group._announce(self._request)
        self._request = request = start_deadline(self._request, started)
        budget = group.budget
        refused = budget.refuse(request, group.provider_name) if budget else None
        answers: list[LLMResponse] = [] if refused is None else [refused]
        spends: list[Spend] = []
        try:
            for member in group.members if refused is None else ():
                with self._open(member, request) as stream:
                    events = _Collected(iter(stream), spends)
                    first = next(events)
                    if isinstance(first, FinishEvent):
                        answers.append(first.response)
                        if group._moves_on(member, answers, request):
                            continue
                    else:
                        yield first
                        for event in events:
                            if isinstance(event, FinishEvent):
                                answers.append(event.response)
                                break
                            yield event
                break
            self._response = group._end(self._request, answers, started, Spend.total(spends))
        finally:  # also when the caller closes the stream early
            if budget is not None and refused is None:
                budget.charge(self._request, Spend.total(spends))
        yield FinishEvent(self._response)


class AsyncFallbackStream(AsyncResponseStream):
    """The async stream `FallbackLLM.astream()` returns."""

    def __init__(
        self,
        group: FallbackLLM,
        request: ChatRequest,
        open_stream: Callable[[BaseLLM, ChatRequest], AsyncResponseStream],
    ) -> None:
        super().__init__(group, request)
        self._group = group
        self._open = open_stream

    async def _run(self) -> AsyncIterator[StreamEvent]:
        group, started = self._group, time.monotonic()
        group._announce(self._request)
        self._request = request = start_deadline(self._request, started)
        budget = group.budget
        refused = await budget.arefuse(request, group.provider_name) if budget else None
        answers: list[LLMResponse] = [] if refused is None else [refused]
        spends: list[Spend] = []
        try:
            for member in group.members if refused is None else ():
                async with self._open(member, request) as stream:
                    events = _ACollected(aiter(stream), spends)
                    first = await anext(events)
                    if isinstance(first, FinishEvent):
                        answers.append(first.response)
                        if group._moves_on(member, answers, request):
                            continue
                    else:
                        yield first
                        async for event in events:
                            if isinstance(event, FinishEvent):
                                answers.append(event.response)
                                break
                            yield event
                break
            self._response = group._end(self._request, answers, started, Spend.total(spends))
        finally:  # also when the caller closes the stream early
            if budget is not None and refused is None:
                await budget.acharge(self._request, Spend.total(spends))
        yield FinishEvent(self._response)


class _Collected:
    """A member's events, each read with the calls it starts collected into `spends`.

    The collector is open only while the member runs, never while the caller holds an
    event, so the caller's own calls between two events are not collected.
    """

    def __init__(self, events: Iterator[StreamEvent], spends: list[Spend]) -> None:
        self._events = events
        self._spends = spends

    def __iter__(self) -> Iterator[StreamEvent]:
        return self

    def __next__(self) -> StreamEvent:
        with collect_spends(self._spends):
            return next(self._events)


class _ACollected:
    """Async twin of `_Collected`."""

    def __init__(self, events: AsyncIterator[StreamEvent], spends: list[Spend]) -> None:
        self._events = events
        self._spends = spends

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self

    async def __anext__(self) -> StreamEvent:
        with collect_spends(self._spends):
            return await anext(self._events)
