"""Budgets under hostile tenant ids and odd settings: bounded, separated, never poisoned."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport import Budget, ConfigurationError, ErrorKind
from llmport.budget import MemoryBudgetStore, Window, tenant_slot
from llmport.streaming import UsageEvent
from llmport.testing import FakeLLM

USER = [{"role": "user", "content": "hi"}]
PRICED: dict[str, Any] = {"input_cost_per_token": 1e-3, "output_cost_per_token": 2e-3}
DAY_ONE = datetime(2026, 12, 31, 23, 59, tzinfo=timezone.utc).timestamp()
DAY_TWO = datetime(2027, 1, 1, 0, 1, tzinfo=timezone.utc).timestamp()


@given(st.text(max_size=2000))
def test_a_tenant_slot_is_short_and_free_of_key_separators(tenant: str) -> None:
    slot = tenant_slot(tenant)
    assert len(slot) <= 64
    assert ":" not in slot
    assert slot.isascii()
    assert slot.isprintable()


@given(st.text(max_size=200), st.text(max_size=200))
def test_different_tenants_get_different_slots(first: str, second: str) -> None:
    if first != second:
        assert tenant_slot(first) != tenant_slot(second)


def test_a_plain_tenant_id_is_its_own_slot() -> None:
    assert tenant_slot("acme-corp_42") == "acme-corp_42"


def test_a_tenant_with_separators_cannot_reach_another_tenants_counter() -> None:
    budget = Budget(usd=0.01)
    llm = FakeLLM(budget=budget, **PRICED)
    llm.chat_completions(USER, metadata={"tenant_id": "acme:0"})
    assert budget.spent("acme") == (0.0, 0)
    assert budget.spent("acme:0")[1] == 15


def test_a_huge_tenant_id_keeps_the_refusal_message_short() -> None:
    budget = Budget(usd=0.01)
    llm = FakeLLM(budget=budget, **PRICED)
    huge = {"tenant_id": "x" * 100_000}
    llm.chat_completions(USER, metadata=huge)
    refused = llm.chat_completions(USER, metadata=huge)
    assert refused.error is not None
    assert refused.error.kind is ErrorKind.BUDGET
    assert len(refused.error.message) < 300
    assert "tenant 'xxxxxxxx" in refused.error.message


def test_counters_of_a_past_period_are_dropped() -> None:
    now = [DAY_ONE]
    store = MemoryBudgetStore()
    budget = Budget(usd=1.0, per="day", clock=lambda: now[0], store=store)
    for name in ("a", "b", "c"):
        budget.record({"tenant_id": name}, 0.1, 10)
    assert len(store) == 3
    now[0] = DAY_TWO
    budget.record({"tenant_id": "d"}, 0.1, 10)
    assert len(store) == 1
    assert budget.spent("a") == (0.0, 0)
    assert budget.spent("d") == (0.1, 10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"usd": 1, "key": 5}, "key"),
        ({"usd": 1, "key": ""}, "key"),
        ({"tokens": 1.5}, "tokens"),
        ({"tokens": True}, "tokens"),
        ({"usd": float("nan")}, "usd"),
    ],
)
def test_malformed_budget_settings_raise_at_once(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Budget(**kwargs)


class DownStore:
    """A remote store that is unreachable: every call raises, and is counted."""

    remote = True

    def __init__(self) -> None:
        self.calls = 0

    def read(self, tenant: str, window: Window) -> tuple[float, int]:
        self.calls += 1
        raise TimeoutError("no reply")

    def add(self, tenant: str, window: Window, usd: float, tokens: int) -> None:
        self.calls += 1
        raise TimeoutError("no reply")


def test_an_unreachable_store_is_not_asked_again_until_the_cooldown_ends() -> None:
    now = [DAY_ONE]
    store = DownStore()
    budget = Budget(usd=1.0, clock=lambda: now[0], store=store, redis_cooldown=2.0)
    llm = FakeLLM(budget=budget, **PRICED)
    for _ in range(3):
        refused = llm.chat_completions(USER)
        assert refused.error is not None
        assert refused.error.kind is ErrorKind.BUDGET_UNAVAILABLE
    assert store.calls == 1
    now[0] += 2.0
    llm.chat_completions(USER)
    assert store.calls == 2
    assert llm.call_count == 0


def test_a_failing_open_call_waits_on_an_unreachable_store_once_not_twice() -> None:
    store = DownStore()
    budget = Budget(usd=1.0, clock=lambda: DAY_ONE, store=store, fail_open=True)
    llm = FakeLLM(budget=budget, **PRICED)
    assert llm.chat_completions(USER).ok
    assert llm.chat_completions(USER).ok
    assert store.calls == 1


@pytest.mark.parametrize("cooldown", [-1.0, float("nan"), "1"])
def test_a_bad_redis_cooldown_is_refused(cooldown: Any) -> None:
    with pytest.raises(ConfigurationError, match="redis_cooldown"):
        Budget(usd=1, redis_cooldown=cooldown)


def test_a_stream_closed_after_its_usage_arrived_is_charged() -> None:
    budget = Budget(tokens=1000)
    llm = FakeLLM(budget=budget, **PRICED)
    with llm.stream(USER) as stream:
        for event in stream:
            if isinstance(event, UsageEvent):
                break
    usd, tokens = budget.spent()
    assert usd == pytest.approx(0.02)
    assert tokens == 15


async def test_an_async_stream_closed_after_its_usage_arrived_is_charged() -> None:
    budget = Budget(tokens=1000)
    llm = FakeLLM(budget=budget, **PRICED)
    async with llm.astream(USER) as stream:
        async for event in stream:
            if isinstance(event, UsageEvent):
                break
    usd, tokens = budget.spent()
    assert usd == pytest.approx(0.02)
    assert tokens == 15


def test_a_stream_closed_before_its_usage_arrived_charges_nothing() -> None:
    budget = Budget(tokens=1000)
    llm = FakeLLM(budget=budget, **PRICED)
    with llm.stream(USER) as stream:
        for _ in stream:
            break
    assert budget.spent() == (0.0, 0)


SECRET_KEY = "Zq7pX9mLrT4vW2kN8sB5"  # a provider's API key, shaped like a plain tenant id


def test_a_tenant_id_holding_the_api_key_is_not_quoted_in_the_refusal() -> None:
    budget = Budget(usd=0.01)
    llm = FakeLLM(api_key=SECRET_KEY, budget=budget, **PRICED)
    metadata = {"tenant_id": f"org-{SECRET_KEY}"}
    llm.chat_completions(USER, metadata=metadata)
    refused = llm.chat_completions(USER, metadata=metadata)
    assert refused.error is not None
    assert refused.error.kind is ErrorKind.BUDGET
    assert SECRET_KEY not in refused.error.message
    assert "tenant 'org-[REDACTED]'" in refused.error.message


def test_a_tenant_id_holding_the_api_key_is_stored_by_its_digest() -> None:
    FakeLLM(api_key=SECRET_KEY)  # the key is now one llmport keeps secret
    slot = tenant_slot(f"org-{SECRET_KEY}")
    assert SECRET_KEY not in slot
    assert slot.startswith("~")


def test_a_credential_shaped_tenant_id_is_stored_by_its_digest() -> None:
    assert tenant_slot("sk-proj-abcdef123456").startswith("~")


def test_a_late_charge_for_a_past_period_never_resets_the_current_one() -> None:
    # A charge whose period was read just before a boundary can reach the store after a
    # charge of the new period (two threads at midnight): the new period's count stays.
    store = MemoryBudgetStore()
    yesterday, today = Window(0.0, 86400.0), Window(86400.0, 172800.0)
    store.add("acme", today, 0.5, 5)
    store.add("acme", yesterday, 0.25, 3)
    assert store.read("acme", today) == (0.5, 5)


def test_budgets_of_different_periods_can_share_a_store() -> None:
    now = [DAY_TWO]  # 00:01: the hour and the day start at the same moment
    store = MemoryBudgetStore()
    hourly = Budget(usd=1.0, per="hour", clock=lambda: now[0], store=store)
    daily = Budget(usd=5.0, per="day", clock=lambda: now[0], store=store)
    hourly.record({"tenant_id": "acme"}, 0.5, 5)
    daily.record({"tenant_id": "acme"}, 2.0, 20)
    hourly.record({"tenant_id": "acme"}, 0.25, 1)
    assert daily.spent("acme") == (2.0, 20)
    assert hourly.spent("acme") == (0.75, 6)
