"""A fallback group's budget: charged what every member spent, by the single provider's rule."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmport import (
    Budget,
    ConfigurationError,
    ErrorKind,
    FallbackLLM,
    LLMResponse,
    RetryPolicy,
    Usage,
)
from llmport.base import BaseLLM, ChatRequest
from llmport.hooks import LLMHooks
from llmport.streaming import StreamEvent, TextDelta, UsageEvent
from llmport.testing import FakeLLM, FunctionLLM, ScriptItem

USER = [{"role": "user", "content": "hi"}]
PRICED: dict[str, Any] = {"input_cost_per_token": 1e-3, "output_cost_per_token": 2e-3}
#: FakeLLM's default usage (10 prompt, 5 completion tokens) at PRICED prices.
ANSWER = (10 * 1e-3 + 5 * 2e-3, 15)
#: An attempt the provider billed (it reported usage) but that failed: kind bad_response.
BILLED_FAILURE = {"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 0}}
BILLED = (100 * 1e-3, 100)
RETRY = RetryPolicy(
    retry_on=frozenset({ErrorKind.BAD_RESPONSE}), max_attempts=3, initial_backoff=0, jitter=False
)


def scripted(*items: ScriptItem, **settings: Any) -> FunctionLLM:
    """A member that answers `items` in turn; it cannot stream, so a stream is a buffered call."""
    script: Iterator[ScriptItem] = iter(items)
    return FunctionLLM(lambda request: next(script), retry=RETRY, **{**PRICED, **settings})


def drain(stream: Iterable[StreamEvent]) -> None:
    for _ in stream:
        pass


def call_sync(group: BaseLLM) -> LLMResponse:
    return group.chat_completions(USER)


def call_async(group: BaseLLM) -> LLMResponse:
    return asyncio.run(group.achat_completions(USER))


def call_stream(group: BaseLLM) -> LLMResponse:
    with group.stream(USER) as stream:
        return stream.response


def call_astream(group: BaseLLM) -> LLMResponse:
    async def run() -> LLMResponse:
        async with group.astream(USER) as stream:
            return await stream.get_response()

    return asyncio.run(run())


PATHS: dict[str, Callable[[BaseLLM], LLMResponse]] = {
    "sync": call_sync,
    "async": call_async,
    "stream": call_stream,
    "astream": call_astream,
}
paths = pytest.mark.parametrize("call", PATHS.values(), ids=PATHS.keys())


def total(*spends: tuple[float, int]) -> tuple[float, int]:
    return sum(usd for usd, _ in spends), sum(tokens for _, tokens in spends)


@paths
def test_a_group_budget_is_charged_every_retried_attempt(
    call: Callable[[BaseLLM], LLMResponse],
) -> None:
    budget = Budget(usd=10)
    group = FallbackLLM([scripted(BILLED_FAILURE, "ok")], budget=budget)
    assert call(group).ok
    assert budget.spent() == pytest.approx(total(BILLED, ANSWER))


@paths
def test_a_group_budget_is_charged_every_attempt_of_every_member_tried(
    call: Callable[[BaseLLM], LLMResponse],
) -> None:
    budget = Budget(usd=10)
    first = scripted(BILLED_FAILURE, BILLED_FAILURE, ErrorKind.SERVER)
    group = FallbackLLM([first, scripted("ok")], budget=budget)
    assert call(group).ok
    assert budget.spent() == pytest.approx(total(BILLED, BILLED, ANSWER))


@paths
def test_a_group_budget_charges_the_known_part_of_a_cost_that_is_unknown(
    call: Callable[[BaseLLM], LLMResponse],
) -> None:
    # The answer carries no usage, so the call's cost is None; the billed retry is known.
    budget = Budget(usd=10)
    member = scripted(BILLED_FAILURE, "ok", usage=None)
    response = call(FallbackLLM([member], budget=budget))
    assert response.cost is None
    assert budget.spent() == pytest.approx(BILLED)


@paths
def test_a_group_budget_charges_like_the_members_own_budget(
    call: Callable[[BaseLLM], LLMResponse],
) -> None:
    own, group_budget = Budget(usd=10), Budget(usd=10)
    member = scripted(BILLED_FAILURE, BILLED_FAILURE, "ok", budget=own)
    call(FallbackLLM([member], budget=group_budget))
    assert group_budget.spent() == pytest.approx(own.spent())


@paths
def test_a_nested_group_charges_the_outer_budget_every_attempt(
    call: Callable[[BaseLLM], LLMResponse],
) -> None:
    inner_budget, outer_budget = Budget(usd=10), Budget(usd=10)
    inner = FallbackLLM([scripted(BILLED_FAILURE, ErrorKind.SERVER)], budget=inner_budget)
    outer = FallbackLLM([inner, scripted("ok")], budget=outer_budget)
    assert call(outer).ok
    assert inner_budget.spent() == pytest.approx(BILLED)
    assert outer_budget.spent() == pytest.approx(total(BILLED, ANSWER))


@paths
def test_the_group_cost_still_sums_every_member_tried(
    call: Callable[[BaseLLM], LLMResponse],
) -> None:
    group = FallbackLLM([scripted(BILLED_FAILURE, ErrorKind.SERVER), scripted("ok")])
    assert call(group).cost == pytest.approx(total(BILLED, ANSWER)[0])


def test_spend_of_calls_outside_a_group_call_is_not_charged_to_the_group() -> None:
    budget = Budget(usd=10)
    member = FakeLLM(**PRICED)
    group = FallbackLLM([member], budget=budget)
    with group.stream(USER) as stream:
        next(iter(stream))
        member.chat_completions(USER)  # the caller's own call, between two events
        drain(stream)
    assert budget.spent() == pytest.approx(ANSWER)


async def test_spend_of_calls_between_async_group_stream_events_is_not_the_groups() -> None:
    budget = Budget(usd=10)
    member = FakeLLM(**PRICED)
    group = FallbackLLM([member], budget=budget)
    async with group.astream(USER) as stream:
        events = aiter(stream)
        await anext(events)
        await member.achat_completions(USER)  # the caller's own call, between two events
        async for _ in events:
            pass
    assert budget.spent() == pytest.approx(ANSWER)


# --- streams the caller closes early --------------------------------------------------------


def test_a_group_stream_closed_after_the_usage_arrived_is_charged() -> None:
    budget = Budget(usd=10)
    with FallbackLLM([FakeLLM(**PRICED)], budget=budget).stream(USER) as stream:
        for event in stream:
            if isinstance(event, UsageEvent):
                break
    assert budget.spent() == pytest.approx(ANSWER)


async def test_an_async_group_stream_closed_after_the_usage_arrived_is_charged() -> None:
    budget = Budget(usd=10)
    async with FallbackLLM([FakeLLM(**PRICED)], budget=budget).astream(USER) as stream:
        async for event in stream:
            if isinstance(event, UsageEvent):
                break
    assert budget.spent() == pytest.approx(ANSWER)


def test_a_group_stream_closed_early_is_charged_what_failed_members_spent() -> None:
    budget = Budget(usd=10)
    failing = scripted(BILLED_FAILURE, ErrorKind.SERVER)
    group = FallbackLLM([failing, FakeLLM(**PRICED)], budget=budget)
    with group.stream(USER) as stream:
        for event in stream:
            assert isinstance(event, TextDelta)
            break
    assert budget.spent() == pytest.approx(BILLED)  # the answer's usage had not arrived


async def test_an_async_group_stream_closed_early_is_charged_what_failed_members_spent() -> None:
    budget = Budget(usd=10)
    failing = scripted(BILLED_FAILURE, ErrorKind.SERVER)
    group = FallbackLLM([failing, FakeLLM(**PRICED)], budget=budget)
    async with group.astream(USER) as stream:
        async for event in stream:
            assert isinstance(event, TextDelta)
            break
    assert budget.spent() == pytest.approx(BILLED)


def test_a_group_stream_closed_before_any_usage_charges_nothing() -> None:
    budget = Budget(usd=10)
    with FallbackLLM([FakeLLM(**PRICED)], budget=budget).stream(USER) as stream:
        for _ in stream:
            break
    assert budget.spent() == (0.0, 0)


def test_a_group_stream_that_was_never_read_charges_nothing() -> None:
    budget = Budget(usd=10)
    member = FakeLLM(**PRICED)
    with FallbackLLM([member], budget=budget).stream(USER):
        pass
    assert member.call_count == 0
    assert budget.spent() == (0.0, 0)


def test_a_group_stream_closed_early_charges_the_members_usage_as_its_own_budget_does() -> None:
    own, group_budget = Budget(usd=10), Budget(usd=10)
    usage = Usage(prompt_tokens=7, completion_tokens=3, total_tokens=10)
    member = FakeLLM(["a b c"], usage=usage, budget=own, **PRICED)
    with FallbackLLM([member], budget=group_budget).stream(USER) as stream:
        for event in stream:
            if isinstance(event, UsageEvent):
                break
    assert own.spent() == pytest.approx((7e-3 + 6e-3, 10))
    assert group_budget.spent() == pytest.approx(own.spent())


# --- calls a member's own code makes are not the group's ------------------------------------


class Judge(LLMHooks):
    """A hook that asks another LLM about every answer (an app's own call)."""

    def __init__(self, judge: BaseLLM) -> None:
        self.judge = judge

    def on_request(self, llm: BaseLLM, request: ChatRequest) -> None:
        self.judge.chat_completions(USER)

    def on_response(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        self.judge.chat_completions(USER)


@paths
def test_calls_made_by_a_members_hooks_are_not_charged_to_the_group(
    call: Callable[[BaseLLM], LLMResponse],
) -> None:
    budget = Budget(usd=10)
    judge = FakeLLM(**PRICED)
    group = FallbackLLM([FakeLLM(hooks=[Judge(judge)], **PRICED)], budget=budget)
    response = call(group)
    assert judge.call_count == 2
    assert response.cost == pytest.approx(ANSWER[0])
    assert budget.spent() == pytest.approx(ANSWER)


@paths
def test_a_member_that_delegates_to_another_llm_is_charged_once(
    call: Callable[[BaseLLM], LLMResponse],
) -> None:
    budget = Budget(usd=10)
    inner = FakeLLM(**PRICED)
    member = FunctionLLM(lambda request: inner.chat_completions(USER), **PRICED)
    response = call(FallbackLLM([member], budget=budget))
    assert inner.call_count == 1
    assert response.cost == pytest.approx(ANSWER[0])  # the member's own answer, priced once
    assert budget.spent() == pytest.approx(ANSWER)


# --- async calls cancelled part way ---------------------------------------------------------


def hanging_member(started: asyncio.Event, *items: ScriptItem, **settings: Any) -> FunctionLLM:
    """A member that answers `items` in turn, then hangs (signalling `started`) until cancelled."""
    script: Iterator[ScriptItem] = iter(items)

    async def answer(request: ChatRequest) -> ScriptItem:
        item = next(script, None)
        if item is not None:
            return item
        started.set()
        await asyncio.Event().wait()  # never set: only a cancellation ends it
        raise AssertionError("unreachable")

    return FunctionLLM(answer, retry=RETRY, **{**PRICED, **settings})


async def cancel_once_hanging(started: asyncio.Event, call: Awaitable[LLMResponse]) -> None:
    task = asyncio.ensure_future(call)
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancelled_async_group_call_is_charged_what_its_members_spent() -> None:
    started = asyncio.Event()
    own, group_budget = Budget(usd=10), Budget(usd=10)
    first = scripted(BILLED_FAILURE, ErrorKind.SERVER, budget=own)
    group = FallbackLLM([first, hanging_member(started)], budget=group_budget)
    await cancel_once_hanging(started, group.achat_completions(USER))
    assert own.spent() == pytest.approx(BILLED)
    assert group_budget.spent() == pytest.approx(BILLED)


async def test_a_cancelled_async_call_is_charged_its_billed_attempts() -> None:
    started = asyncio.Event()
    budget = Budget(usd=10)
    llm = hanging_member(started, BILLED_FAILURE, budget=budget)  # billed, retried, hangs
    await cancel_once_hanging(started, llm.achat_completions(USER))
    assert budget.spent() == pytest.approx(BILLED)


def test_a_group_refuses_a_budget_one_of_its_members_already_has() -> None:
    budget = Budget(usd=10)
    member = FakeLLM(budget=budget, **PRICED)
    with pytest.raises(ConfigurationError, match="twice"):
        FallbackLLM([FakeLLM(**PRICED), FallbackLLM([member])], budget=budget)


#: What one attempt of a member does: billed and failed, failed unbilled, answered.
OUTCOMES: list[ScriptItem] = [BILLED_FAILURE, ErrorKind.SERVER, ErrorKind.RATE_LIMIT, "ok"]


@settings(max_examples=40, deadline=None)
@given(
    scripts=st.lists(st.lists(st.sampled_from(OUTCOMES), min_size=3, max_size=3), min_size=1),
    path=st.sampled_from(sorted(PATHS)),
)
def test_a_group_budget_is_charged_what_the_members_own_budgets_are(
    scripts: list[list[ScriptItem]], path: str
) -> None:
    own = [Budget(usd=100) for _ in scripts]
    members = [scripted(*script, budget=b) for script, b in zip(scripts, own, strict=True)]
    group_budget = Budget(usd=100)
    PATHS[path](FallbackLLM(members, budget=group_budget))
    assert group_budget.spent() == pytest.approx(total(*(b.spent() for b in own)))
