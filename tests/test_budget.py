"""Budgets per tenant: refused before any I/O once spent, charged after every call."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport import (
    Budget,
    BudgetExceededError,
    ConfigurationError,
    ErrorKind,
    FallbackLLM,
    RetryPolicy,
    load_profiles,
)
from llmport.base import ChatRequest
from llmport.budget import MemoryBudgetStore, Window, window_at
from llmport.streaming import FinishEvent
from llmport.testing import FakeLLM, FunctionLLM

USER = [{"role": "user", "content": "hi"}]
PRICED: dict[str, Any] = {"input_cost_per_token": 1e-3, "output_cost_per_token": 2e-3}
CALL_COST = 10 * 1e-3 + 5 * 2e-3  # FakeLLM's default usage at PRICED prices: $0.02
#: 2026-12-01 13:30:00 UTC
NOON_THIRTY = datetime(2026, 12, 1, 13, 30, tzinfo=timezone.utc).timestamp()


class FakeClock:
    """Unix seconds that move only when a test says so."""

    def __init__(self, now: float = NOON_THIRTY) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tenant(name: str) -> dict[str, str]:
    return {"tenant_id": name}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_tenant_under_its_limit_is_served(clock: FakeClock) -> None:
    llm = FakeLLM(budget=Budget(usd=1.0, per="day", clock=clock), **PRICED)
    assert llm.chat_completions(USER, metadata=tenant("acme")).ok


def test_a_tenant_at_its_limit_is_refused_before_any_request(clock: FakeClock) -> None:
    llm = FakeLLM(budget=Budget(usd=CALL_COST * 2, per="day", clock=clock), **PRICED)
    for _ in range(2):
        assert llm.chat_completions(USER, metadata=tenant("acme")).ok
    refused = llm.chat_completions(USER, metadata=tenant("acme"))
    assert refused.error is not None
    assert refused.error.kind is ErrorKind.BUDGET
    assert llm.call_count == 2
    assert refused.attempts == 0


def test_the_refusal_names_tenant_limit_and_reset_time(clock: FakeClock) -> None:
    llm = FakeLLM(budget=Budget(usd=0.01, per="day", clock=clock), **PRICED)
    llm.chat_completions(USER, metadata=tenant("acme"))
    error = llm.chat_completions(USER, metadata=tenant("acme")).error
    assert error is not None
    assert "'acme'" in error.message
    assert "$0.01 per day" in error.message
    assert "2026-12-02T00:00:00Z" in error.message
    assert error.retry_after == pytest.approx(10.5 * 3600)


def test_a_refusal_raises_budget_exceeded(clock: FakeClock) -> None:
    llm = FakeLLM(budget=Budget(usd=0, clock=clock))
    with pytest.raises(BudgetExceededError, match="in total"):
        llm.chat_completions(USER).raise_for_status()


def test_tenants_have_separate_buckets(clock: FakeClock) -> None:
    llm = FakeLLM(budget=Budget(usd=CALL_COST, per="day", clock=clock), **PRICED)
    llm.chat_completions(USER, metadata=tenant("acme"))
    assert not llm.chat_completions(USER, metadata=tenant("acme")).ok
    assert llm.chat_completions(USER, metadata=tenant("globex")).ok


def test_calls_without_the_key_share_one_bucket(clock: FakeClock) -> None:
    budget = Budget(usd=CALL_COST, per="day", clock=clock)
    llm = FakeLLM(budget=budget, **PRICED)
    llm.chat_completions(USER)
    refused = llm.chat_completions(USER, metadata={"other": "x"})
    assert refused.error is not None
    assert "without metadata['tenant_id']" in refused.error.message


def test_the_tenant_key_is_configurable(clock: FakeClock) -> None:
    budget = Budget(usd=CALL_COST, key="org", clock=clock)
    llm = FakeLLM(budget=budget, **PRICED)
    llm.chat_completions(USER, metadata={"org": "acme"})
    assert budget.spent("acme") == pytest.approx((CALL_COST, 15))


def test_a_token_limit_counts_every_token(clock: FakeClock) -> None:
    llm = FakeLLM(budget=Budget(tokens=30, per="hour", clock=clock))
    assert llm.chat_completions(USER).ok
    assert llm.chat_completions(USER).ok
    error = llm.chat_completions(USER).error
    assert error is not None
    assert "30 tokens per hour" in error.message


def test_a_new_period_resets_the_spend(clock: FakeClock) -> None:
    llm = FakeLLM(budget=Budget(usd=CALL_COST, per="hour", clock=clock), **PRICED)
    llm.chat_completions(USER)
    assert not llm.chat_completions(USER).ok
    clock.now += 30 * 60  # 14:00 UTC: a new hour
    assert llm.chat_completions(USER).ok


def test_the_spend_of_every_billed_attempt_is_charged(clock: FakeClock) -> None:
    failed = {"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 0}}
    retry = RetryPolicy(
        retry_on=frozenset({ErrorKind.BAD_RESPONSE}), initial_backoff=0, jitter=False
    )
    budget = Budget(usd=10, clock=clock)
    FakeLLM([failed, "ok"], retry=retry, budget=budget, **PRICED).chat_completions(USER)
    assert budget.spent() == pytest.approx((100e-3 + CALL_COST, 115))


def test_a_budget_refusal_is_not_a_fallback_trigger_even_when_listed(clock: FakeClock) -> None:
    first = FakeLLM(budget=Budget(usd=0, clock=clock))
    second = FakeLLM(["second"])
    group = FallbackLLM([first, second], fallback_on=["budget", "server"])
    response = group.chat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.BUDGET
    assert second.call_count == 0


def test_a_group_budget_refuses_before_any_member(clock: FakeClock) -> None:
    member = FakeLLM(**PRICED)
    group = FallbackLLM([member], budget=Budget(usd=CALL_COST, clock=clock))
    assert group.chat_completions(USER).ok
    assert group.chat_completions(USER).error is not None
    assert member.call_count == 1


async def test_a_group_budget_charges_async_calls(clock: FakeClock) -> None:
    budget = Budget(usd=1, clock=clock)
    group = FallbackLLM([FakeLLM(**PRICED)], budget=budget)
    await group.achat_completions(USER)
    assert budget.spent() == pytest.approx((CALL_COST, 15))


def test_a_stream_over_budget_ends_at_once_with_the_refusal(clock: FakeClock) -> None:
    llm = FakeLLM(budget=Budget(usd=0, clock=clock))
    with llm.stream(USER) as stream:
        events = list(stream)
    assert len(events) == 1
    assert isinstance(events[0], FinishEvent)
    assert events[0].response.error is not None
    assert events[0].response.error.kind is ErrorKind.BUDGET
    assert llm.call_count == 0


def test_a_finished_stream_is_charged(clock: FakeClock) -> None:
    budget = Budget(usd=1, clock=clock)
    with FakeLLM(["a b c"], budget=budget, **PRICED).stream(USER) as stream:
        assert stream.response.ok
    assert budget.spent() == pytest.approx((CALL_COST, 15))


async def test_async_calls_and_streams_are_checked_and_charged(clock: FakeClock) -> None:
    budget = Budget(usd=CALL_COST * 2, clock=clock)
    llm = FakeLLM(budget=budget, **PRICED)
    assert (await llm.achat_completions(USER)).ok
    async with llm.astream(USER) as stream:
        assert (await stream.get_response()).ok
    refused = await llm.achat_completions(USER)
    assert refused.error is not None
    assert refused.error.kind is ErrorKind.BUDGET


def charge(store: MemoryBudgetStore, window: Window) -> None:
    for _ in range(500):
        store.add("t", window, 0.25, 1)


def test_concurrent_charges_from_threads_all_count() -> None:
    store, window = MemoryBudgetStore(), Window(0.0, float("inf"))
    threads = [threading.Thread(target=charge, args=(store, window)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.read("t", window) == (1000.0, 4000)


def test_overshoot_is_at_most_the_calls_in_flight(clock: FakeClock) -> None:
    """N calls that all pass the check before any is charged overshoot by at most N calls."""
    in_flight = 4
    barrier = threading.Barrier(in_flight)

    def answer(request: ChatRequest) -> str:
        barrier.wait(timeout=10)  # every call has passed the budget check
        return "ok"

    budget = Budget(usd=CALL_COST / 2, clock=clock)
    llm = FunctionLLM(answer, budget=budget, **PRICED)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(llm.chat_completions(USER)))
        for _ in range(in_flight)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.ok for r in results)
    spent, _ = budget.spent()
    assert budget.usd is not None
    assert spent <= budget.usd + in_flight * CALL_COST
    assert not llm.chat_completions(USER).ok


async def test_concurrent_tasks_are_all_charged(clock: FakeClock) -> None:
    budget = Budget(usd=100, clock=clock)
    llm = FakeLLM(budget=budget, **PRICED)
    await asyncio.gather(*(llm.achat_completions(USER) for _ in range(20)))
    assert budget.spent() == pytest.approx((20 * CALL_COST, 300))


@given(
    now=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    per=st.sampled_from(["hour", "day", "month"]),
)
def test_a_period_contains_now_and_ends_on_the_next_calendar_boundary(now: float, per: str) -> None:
    window = window_at(per, now)  # type: ignore[arg-type]
    assert window.start <= now < window.end
    end = datetime.fromtimestamp(window.end, tz=timezone.utc)
    assert (end.minute, end.second, end.microsecond) == (0, 0, 0)
    if per != "hour":
        assert end.hour == 0
    if per == "month":
        assert end.day == 1


@pytest.mark.parametrize("per", ["hour", "day", "month"])
@pytest.mark.parametrize("steps", [1, 2])  # the floats right below: under half a microsecond
def test_a_moment_just_before_a_boundary_is_in_the_period_it_ends(per: str, steps: int) -> None:
    boundary = datetime(2027, 1, 1, tzinfo=timezone.utc).timestamp()  # an hour, day and month
    now = boundary
    for _ in range(steps):
        now = math.nextafter(now, 0)
    window = window_at(per, now)  # type: ignore[arg-type]
    assert window.start <= now < window.end
    assert window.end == boundary


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "needs a limit"),
        ({"usd": -1}, "usd must be"),
        ({"usd": "5"}, "usd must be"),
        ({"tokens": float("nan")}, "tokens must be"),
        ({"usd": 1, "redis_timeout": -1}, "redis_timeout must be"),
        ({"usd": 1, "redis_timeout": 0}, "redis_timeout must be"),  # refuses every call
        ({"usd": 1, "redis_timeout": float("inf")}, "redis_timeout must be"),
        ({"tokens": 10, "per": "week"}, "per must be"),
        ({"usd": 1, "key": ""}, "key must"),
    ],
)
def test_bad_budgets_raise_at_once(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Budget(**kwargs)  # type: ignore[arg-type]


def test_a_profile_budget_is_shared_by_every_build(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(
        '[profiles.fast]\nprovider = "fake"\nbudget = { usd = 0.5, per = "day" }\n'
        "input_cost_per_token = 1e-3\noutput_cost_per_token = 2e-3\n"
    )
    profiles = load_profiles(path)
    first, second = profiles.build("fast"), profiles.build("fast")
    assert first.budget is not None
    assert first.budget is second.budget
    assert first.budget.usd == 0.5
    assert first.budget.per == "day"


def test_a_profile_budget_with_an_unknown_key_names_it(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text('[profiles.fast]\nprovider = "fake"\nbudget = { dollars = 5 }\n')
    with pytest.raises(ConfigurationError, match="dollars"):
        load_profiles(path)


def test_a_group_stream_is_refused_and_charged_by_the_group_budget(clock: FakeClock) -> None:
    budget = Budget(usd=CALL_COST, clock=clock)
    member = FakeLLM(["a b"], **PRICED)
    group = FallbackLLM([member], budget=budget)
    with group.stream(USER) as stream:
        assert stream.response.ok
    assert budget.spent() == pytest.approx((CALL_COST, 15))
    with group.stream(USER) as stream:
        refused = stream.response
    assert refused.error is not None
    assert refused.error.kind is ErrorKind.BUDGET
    assert member.call_count == 1


async def test_a_group_async_stream_is_refused_by_the_group_budget(clock: FakeClock) -> None:
    group = FallbackLLM([FakeLLM()], budget=Budget(usd=0, clock=clock))
    async with group.astream(USER) as stream:
        refused = await stream.get_response()
    assert refused.error is not None
    assert refused.error.kind is ErrorKind.BUDGET


@given(
    limit=st.floats(min_value=0, max_value=10),
    costs=st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=30),
)
def test_one_call_at_a_time_overshoots_by_at_most_one_call(
    limit: float, costs: list[float]
) -> None:
    budget = Budget(usd=limit, clock=FakeClock())
    metadata = {"tenant_id": "acme"}
    for cost in costs:
        if budget.check(metadata) is None:
            budget.record(metadata, cost, 1)
        else:
            assert budget.spent("acme")[0] >= limit  # refused only once the limit is reached
    assert budget.spent("acme")[0] <= limit + max(costs)


@pytest.mark.parametrize("in_flight", [1, 2, 4, 8])
def test_overshoot_at_concurrency_n_stays_under_the_documented_bound(in_flight: int) -> None:
    """Threads that call until refused, each answer held until every thread has one in
    flight, end with limit <= spent < limit + N x (the largest cost of one call)."""
    completions = itertools.cycle([1, 40, 7, 25, 3])
    largest = 10 * 1e-3 + 40 * 2e-3  # PRICED: 10 prompt tokens and 40 completion tokens
    lock = threading.Lock()
    barrier = threading.Barrier(in_flight)

    def answer(request: ChatRequest) -> dict[str, Any]:
        with lock:
            completion = next(completions)
        # Every thread has passed the check (the worst case), unless one was refused.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)
        usage = {"prompt_tokens": 10, "completion_tokens": completion}
        message = {"role": "assistant", "content": "ok"}
        return {"choices": [{"message": message, "finish_reason": "stop"}], "usage": usage}

    limit = 1.0
    budget = Budget(usd=limit, clock=FakeClock())
    llm = FunctionLLM(answer, budget=budget, **PRICED)
    served = [0] * in_flight

    def call_until_refused(index: int) -> None:
        while llm.chat_completions(USER).ok:
            served[index] += 1
        barrier.abort()

    threads = [threading.Thread(target=call_until_refused, args=(i,)) for i in range(in_flight)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spent, _ = budget.spent()
    assert limit <= spent < limit + in_flight * largest
    assert sum(served) < 200  # bounded: the loop ended by refusals, not by luck


def redis_profiles(tmp_path: Path, fast: str, smart: str) -> Any:
    path = tmp_path / "llmport.toml"
    path.write_text(
        f'[profiles.fast]\nprovider = "fake"\nbudget = {{ {fast} }}\n'
        f'[profiles.smart]\nprovider = "fake"\nbudget = {{ {smart} }}\n'
    )
    return load_profiles(path)


def test_two_profiles_with_one_redis_keep_separate_counters(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    url = 'redis_url = "redis://127.0.0.1:1/0"'
    profiles = redis_profiles(tmp_path, f"usd = 5, {url}", f"usd = 50, {url}")
    fast, smart = profiles.build("fast").budget, profiles.build("smart").budget
    assert fast.store.prefix != smart.store.prefix  # as two in-process budgets would be


def test_a_profile_budget_can_name_its_redis_prefix(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    url = 'redis_url = "redis://127.0.0.1:1/0", prefix = "shop:budget"'
    profiles = redis_profiles(tmp_path, f"usd = 5, {url}", f"usd = 5, {url}")
    fast, smart = profiles.build("fast").budget, profiles.build("smart").budget
    assert fast.store.prefix == smart.store.prefix == "shop:budget"
