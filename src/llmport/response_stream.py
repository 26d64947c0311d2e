"""`ResponseStream` / `AsyncResponseStream`: what `BaseLLM.stream()` / `astream()` return.

A stream yields typed events (`TextDelta`, `ReasoningDelta`, `ToolCallDelta`,
`UsageEvent`) and ends with a `FinishEvent` carrying the aggregated
`LLMResponse`, also available as `.response`. It follows the same failure
contract as a buffered call: provider failures, error events, a cut stream or a
stall end in an ERROR response with the partial content kept; nothing raises out
of the iterator. Failures before the first event are retried by the retry policy;
after it, the partial answer is returned as it is. A provider that cannot stream
(or a backend that rejects `stream=true`) gets a buffered call whose answer is
replayed as events; the fallback is logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from llmport._deadline import aiterate_before, iterate_before, start_deadline
from llmport._redact import StreamRedactor
from llmport.cost import Spend, start_spend
from llmport.errors import ErrorKind
from llmport.hooks import LLMHooks, emit
from llmport.response import LLMError, LLMResponse
from llmport.streaming import (
    FinishEvent,
    ReasoningDelta,
    StreamAccumulator,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)

if TYPE_CHECKING:
    from llmport.base import BaseLLM, ChatRequest

__all__ = ["AsyncResponseStream", "ResponseStream", "StreamingUnsupportedError"]

logger = logging.getLogger(__name__)


class StreamingUnsupportedError(Exception):
    """Raised by a provider's `_stream` when it (or the backend) cannot stream."""


_CUT = LLMError(
    kind=ErrorKind.CONNECTION,
    message="connection: the stream ended before the model finished",
    retryable=True,
)


class _StreamBase:
    def __init__(self, llm: BaseLLM, request: ChatRequest) -> None:
        self._llm = llm
        self._request = request
        self._response: LLMResponse | None = None
        self._hooks: tuple[LLMHooks, ...] = ()
        self._started = 0.0

    def _begin(self) -> None:
        self._hooks = self._llm._active_hooks()
        if self._hooks:
            emit(self._hooks, "on_request", self._llm, self._request)
        self._started = time.monotonic()
        self._request = start_deadline(self._request, self._started)

    def _accumulator(self) -> StreamAccumulator:
        return StreamAccumulator(provider=self._llm.provider_name, model=self._request.model)

    def _feed(self, acc: StreamAccumulator, item: Any) -> list[StreamEvent]:
        return acc.add_data(item) if isinstance(item, str) else acc.add(item)

    def _end_of_stream(self, acc: StreamAccumulator) -> None:
        if not acc.finished and not acc.failed:
            acc.fail(_CUT)

    def _retry_delay(self, acc: StreamAccumulator, emitted: bool, attempt: int) -> float | None:
        if emitted or not acc.failed:  # checked first: building a response costs a little
            return None
        response = self._llm._redact(acc.response(), self._request)
        delay = self._llm._retry_delay(response, attempt, self._started, self._request.deadline)
        if delay is not None and self._hooks:
            emit(self._hooks, "on_retry", self._llm, self._request, response, attempt, delay)
        return delay

    def _classify(self, exc: Exception) -> LLMError:
        return self._llm._checked_classify(exc, self._llm._secrets_for(self._request))

    def _should_fall_back(self, exc: Exception, emitted: bool) -> bool:
        if emitted:
            return False
        if isinstance(exc, (StreamingUnsupportedError, NotImplementedError)):
            return True
        error = self._classify(exc)
        return error.kind is ErrorKind.INVALID_REQUEST and "stream" in error.message.lower()

    def _log_fallback(self, exc: Exception) -> None:
        logger.info(
            "streaming unavailable, falling back to a buffered call: %s",
            type(exc).__name__,
            extra={"provider": self._llm.provider_name, "model": self._request.model},
        )

    def _refused(self, refused: LLMResponse) -> LLMResponse:
        """End a stream that the budget stopped before it was sent."""
        response = self._llm._finish(refused, self._request, 0, self._started, self._hooks)
        self._response = response
        return response

    def _price(self, spend: Spend, acc: StreamAccumulator) -> None:
        response = acc.response()
        spend.add(response, self._llm._pricing.cost(response, self._request.model))

    def _finish(self, acc: StreamAccumulator, attempt: int, spend: Spend) -> LLMResponse:
        response = self._llm._finish(
            self._llm._redact(acc.response(), self._request),
            self._request,
            attempt,
            self._started,
            self._hooks,
            spend,
        )
        self._response = response
        return response

    @property
    def done(self) -> bool:
        """True once the stream has ended and `response` is available."""
        return self._response is not None


def replay(response: LLMResponse) -> list[StreamEvent]:
    """The events a stream would have produced for a buffered `response`."""
    events: list[StreamEvent] = []
    if response.reasoning:
        events.append(ReasoningDelta(response.reasoning))
    if response.content:
        events.append(TextDelta(response.content))
    for index, call in enumerate(response.tool_calls):
        arguments = call.to_message()["function"]["arguments"]
        events.append(ToolCallDelta(index, call.id, call.name, arguments))
    if response.usage.is_known:
        events.append(UsageEvent(response.usage))
    events.append(FinishEvent(response))
    return events


class ResponseStream(_StreamBase):
    """A sync stream of events; iterate it once, then read `.response`."""

    def __init__(self, llm: BaseLLM, request: ChatRequest) -> None:
        super().__init__(llm, request)
        self._iterator: Iterator[StreamEvent] | None = None

    def __iter__(self) -> Iterator[StreamEvent]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading and release the connection; safe to call more than once."""
        if self._iterator is not None:
            self._iterator.close()  # type: ignore[attr-defined]

    @property
    def response(self) -> LLMResponse:
        """The aggregated answer; reading it before the end consumes the rest of the stream."""
        if self._response is None:
            for _ in self:
                pass
        if self._response is None:  # closed early: aggregate what arrived
            raise RuntimeError("the stream was closed before it finished")
        return self._response

    def _run(self) -> Iterator[StreamEvent]:
        llm = self._llm
        llm.prepare()
        llm._pricing.prices(self._request.model)  # the first call reads the price map
        self._begin()
        refused = llm.budget.refuse(self._request, llm.provider_name) if llm.budget else None
        if refused is not None:
            yield FinishEvent(self._refused(refused))
            return
        spend = start_spend()
        unpriced: StreamAccumulator | None = None  # an attempt whose usage is not counted yet
        buffered = False
        try:
            attempt = 0
            while True:
                attempt += 1
                acc = unpriced = self._accumulator()
                redactor = StreamRedactor(llm._secrets_for(self._request))
                emitted = False
                chunks: Iterator[Any] | None = None
                try:
                    chunks = self._chunks()
                    for item in chunks:
                        events = self._feed(acc, item)
                        emitted = emitted or bool(events)
                        for event in redactor.events(events):
                            yield event
                        if acc.failed:
                            break
                    else:
                        self._end_of_stream(acc)
                except Exception as exc:
                    if self._should_fall_back(exc, emitted):
                        self._log_fallback(exc)
                        buffered, unpriced = True, None  # the buffered call charges itself
                        yield from self._buffered()
                        return
                    acc.fail(self._classify(exc))
                finally:
                    close = getattr(chunks, "close", None)
                    if close is not None:
                        close()
                self._price(spend, acc)
                unpriced = None
                delay = self._retry_delay(acc, emitted, attempt)
                if delay is None:
                    break
                llm._sleep(delay)
            for event in redactor.flush():
                yield event
            response = self._finish(acc, attempt, spend)
        finally:  # also when the caller closes the stream early: count what was billed
            if unpriced is not None:  # the usage seen so far (a group charges it too)
                self._price(spend, unpriced)
            if not buffered and llm.budget is not None:
                llm.budget.charge(self._request, spend)
        yield FinishEvent(response)

    def _chunks(self) -> Iterator[Any]:
        request = self._request
        if request.deadline is None:
            return self._llm._stream(request)
        return iterate_before(
            request.deadline, request.total_timeout, lambda: self._llm._stream(request)
        )

    def _buffered(self) -> Iterator[StreamEvent]:
        response = self._llm._run(replace(self._request, stream=False), self._hooks)
        self._response = response
        yield from replay(response)


class AsyncResponseStream(_StreamBase):
    """An async stream of events; `async for` it once, then read `.response`."""

    def __init__(self, llm: BaseLLM, request: ChatRequest) -> None:
        super().__init__(llm, request)
        self._iterator: AsyncIterator[StreamEvent] | None = None

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    async def __aenter__(self) -> AsyncResponseStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading and release the connection; safe to call more than once."""
        if self._iterator is not None:
            await self._iterator.aclose()  # type: ignore[attr-defined]

    @property
    def response(self) -> LLMResponse:
        """The aggregated answer, once the stream has been read to the end."""
        if self._response is None:
            raise RuntimeError("read the stream to the end (async for) before .response")
        return self._response

    async def get_response(self) -> LLMResponse:
        """Consume the rest of the stream and return the aggregated answer."""
        async for _ in self:
            pass
        return self.response

    def _chunks(self) -> AsyncIterator[Any]:
        request = self._request
        if request.deadline is None:
            return self._llm._astream(request)
        return aiterate_before(request.deadline, request.total_timeout, self._llm._astream(request))

    async def _run(self) -> AsyncIterator[StreamEvent]:
        llm = self._llm
        await llm.aprepare()
        await llm._pricing.aload()
        self._begin()
        refused = await llm.budget.arefuse(self._request, llm.provider_name) if llm.budget else None
        if refused is not None:
            yield FinishEvent(self._refused(refused))
            return
        spend = start_spend()
        unpriced: StreamAccumulator | None = None  # an attempt whose usage is not counted yet
        buffered = False
        try:
            attempt = 0
            while True:
                attempt += 1
                acc = unpriced = self._accumulator()
                redactor = StreamRedactor(llm._secrets_for(self._request))
                emitted = False
                chunks: AsyncIterator[Any] | None = None
                try:
                    chunks = self._chunks()
                    async for item in chunks:
                        events = self._feed(acc, item)
                        emitted = emitted or bool(events)
                        for event in redactor.events(events):
                            yield event
                        if acc.failed:
                            break
                    else:
                        self._end_of_stream(acc)
                except Exception as exc:
                    if self._should_fall_back(exc, emitted):
                        self._log_fallback(exc)
                        buffered, unpriced = True, None  # the buffered call charges itself
                        request = replace(self._request, stream=False)
                        response = await llm._arun(request, self._hooks)
                        self._response = response
                        for event in replay(response):
                            yield event
                        return
                    acc.fail(self._classify(exc))
                finally:
                    aclose = getattr(chunks, "aclose", None)
                    if aclose is not None:
                        await aclose()
                self._price(spend, acc)
                unpriced = None
                delay = self._retry_delay(acc, emitted, attempt)
                if delay is None:
                    break
                await llm._asleep(delay)
            for event in redactor.flush():
                yield event
            response = self._finish(acc, attempt, spend)
        finally:  # also when the caller closes the stream early: count what was billed
            if unpriced is not None:  # the usage seen so far (a group charges it too)
                self._price(spend, unpriced)
            if not buffered and llm.budget is not None:
                await llm.budget.acharge(self._request, spend)
        yield FinishEvent(response)
