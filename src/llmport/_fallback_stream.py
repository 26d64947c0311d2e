"""Streaming through a `FallbackLLM`: each member streams in turn until one starts answering.

A member whose stream ends before its first event (its only event is the final
`FinishEvent`, an ERROR) counts as a failed call: if its error kind is in the
group's `fallback_on`, the next member streams instead. Once a member has sent an
event, its stream is the answer, failures included: text already shown cannot be
taken back.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

from llmport._deadline import start_deadline
from llmport.cost import spend_of
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
        for member in group.members if refused is None else ():
            with self._open(member, request) as stream:
                events = iter(stream)
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
        self._response = group._end(self._request, answers, started)
        if budget is not None and refused is None:
            budget.charge(self._request, spend_of(answers))
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
        for member in group.members if refused is None else ():
            async with self._open(member, request) as stream:
                events = aiter(stream)
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
        self._response = group._end(self._request, answers, started)
        if budget is not None and refused is None:
            await budget.acharge(self._request, spend_of(answers))
        yield FinishEvent(self._response)
