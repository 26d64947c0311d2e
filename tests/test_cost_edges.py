"""Cost under hostile inputs: prices that are no numbers, counts that do not add up."""

from __future__ import annotations

import math
import sys
import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport import Budget, ConfigurationError, LLMResponse, LLMResponseStatus, Usage
from llmport.cost import PRICE_CACHE_SIZE, PRICE_FILE, Prices, Pricing, Spend, _price_file
from llmport.parsing import parse_usage
from llmport.testing import FakeLLM

USER = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400"])
def test_a_non_finite_price_from_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FAKE_LLM_INPUT_COST_PER_TOKEN", value)
    with pytest.raises(ConfigurationError, match="input_cost_per_token"):
        FakeLLM(output_cost_per_token=1e-6)


@given(
    prompt=st.integers(0, 10**6),
    completion=st.integers(0, 10**6),
    price=st.sampled_from([math.inf, math.nan]),
)
def test_prices_that_are_not_finite_give_no_cost(
    prompt: int, completion: int, price: float
) -> None:
    usage = Usage(prompt_tokens=prompt, completion_tokens=completion)
    assert Prices(input=price, output=1e-6).cost(usage) is None
    assert Prices(input=1e-6, output=price).cost(usage) is None


@pytest.mark.parametrize(
    "usage",
    [
        Usage(prompt_tokens=-10, completion_tokens=5),
        Usage(prompt_tokens=10, completion_tokens=-5),
        Usage(prompt_tokens=10, completion_tokens=5, cached_tokens=-3),
    ],
)
def test_negative_token_counts_give_no_cost(usage: Usage) -> None:
    assert Prices(input=1e-6, output=2e-6, cached_input=1e-7).cost(usage) is None


def test_a_nan_spend_never_unlocks_a_usd_budget() -> None:
    budget = Budget(usd=1.0)
    budget.record({}, 2.0, 10)
    budget.record({}, math.nan, 10)
    error = budget.check({})
    assert error is not None
    assert error.kind.value == "budget"
    assert budget.spent() == (2.0, 20)


def test_anthropic_style_usage_counts_cache_reads_as_part_of_the_prompt() -> None:
    raw = {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 200,
    }
    usage = parse_usage(raw)
    assert (usage.prompt_tokens, usage.cached_tokens) == (1210, 1000)
    assert usage.total_tokens == 1215
    cost = Prices(input=1.0, output=1.0, cached_input=0.1).cost(usage)
    assert cost == pytest.approx(210 + 100 + 5)


def test_openai_style_usage_keeps_cached_tokens_inside_the_prompt() -> None:
    raw = {
        "prompt_tokens": 1000,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 800},
    }
    usage = parse_usage(raw)
    assert (usage.prompt_tokens, usage.cached_tokens) == (1000, 800)


def test_the_price_map_is_found_when_a_stand_in_litellm_without_a_spec_is_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stand_in = types.ModuleType("litellm")
    stand_in.__spec__ = None
    monkeypatch.setitem(sys.modules, "litellm", stand_in)
    path = _price_file()
    assert path is not None
    assert path.name == PRICE_FILE


#: One attempt: (succeeded, prompt tokens or None for no usage, its cost or None for no price).
attempts = st.tuples(st.booleans(), st.none() | st.integers(0, 10**6), st.none() | st.floats(0, 10))


def counted(spend: Spend, attempt: tuple[bool, int | None, float | None]) -> None:
    ok, prompt, cost = attempt
    status = LLMResponseStatus.SUCCESS if ok else LLMResponseStatus.ERROR
    usage = Usage() if prompt is None else Usage(prompt_tokens=prompt, completion_tokens=0)
    spend.add(LLMResponse(status=status, usage=usage), cost if prompt is not None else None)


@given(st.lists(st.lists(attempts, max_size=4), max_size=5))
def test_calls_spend_together_what_their_attempts_spend_as_one_call(
    calls: list[list[tuple[bool, int | None, float | None]]],
) -> None:
    whole, parts = Spend(), []
    for call in calls:
        part = Spend()
        for attempt in call:
            counted(part, attempt)
            counted(whole, attempt)
        parts.append(part)
    together = Spend.total(parts)
    assert (together.tokens, together.billed, together.unknown) == (
        whole.tokens,
        whole.billed,
        whole.unknown,
    )
    assert together.known_cost == pytest.approx(whole.known_cost)
    assert (together.cost is None) == (whole.cost is None)


counts = st.none() | st.integers(0, 10**6)


@given(prompt=counts, completion=counts, total=counts)
def test_a_budget_counts_the_same_tokens_for_an_attempt_and_for_a_whole_call(
    prompt: int | None, completion: int | None, total: int | None
) -> None:
    # A gateway may send a total that leaves tokens out (0, or the prompt only): a token
    # budget counts prompt + completion, however the call is summed (a group, a tool loop).
    usage = Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)
    response = LLMResponse(status=LLMResponseStatus.SUCCESS, usage=usage, cost=None)
    attempt, call = Spend(), Spend()
    attempt.add(response, None)
    call.add_call(response)
    assert attempt.tokens == call.tokens
    assert attempt.tokens >= (prompt or 0) + (completion or 0)
    assert attempt.tokens == max(total or 0, (prompt or 0) + (completion or 0))


def test_the_prices_kept_per_model_name_stay_bounded() -> None:
    # Model names can come from callers (`model=`) and from providers' answers: a
    # stream of new names must not grow the cache without end.
    pricing = Pricing(FakeLLM(input_cost_per_token=1e-3).config)
    for index in range(3 * PRICE_CACHE_SIZE):
        assert pricing.prices(f"model-{index}") is not None
    assert len(pricing) <= PRICE_CACHE_SIZE
