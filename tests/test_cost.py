"""Cost per call: prices from the bundled map or the config, summed over billed attempts."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport import ErrorKind, FallbackLLM, LLMResponse, LLMResponseStatus, RetryPolicy, Usage
from llmport.cost import PRICE_FILE, Prices, Spend, _price_file, table_prices
from llmport.streaming import FinishEvent, UsageEvent
from llmport.testing import FakeLLM, FakeToolCall
from llmport.tools import run_tools

USER = [{"role": "user", "content": "hi"}]
PRICED: dict[str, Any] = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
#: FakeLLM's default usage (10 prompt, 5 completion) at PRICED prices.
DEFAULT_COST = 10 * 1e-6 + 5 * 2e-6
NO_RETRY = RetryPolicy.never()

counts = st.integers(min_value=0, max_value=10**7)
prices = st.floats(min_value=0, max_value=1e-3, allow_nan=False)


def billed_failure(prompt: int = 100, completion: int = 0) -> dict[str, Any]:
    """A payload the provider billed but that is no usable answer (bad_response)."""
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    return {"choices": [], "usage": {**usage, "total_tokens": prompt + completion}}


@given(prompt=counts, completion=counts, cached_share=st.floats(0, 1), p=prices, q=prices, c=prices)
def test_each_kind_of_token_costs_its_own_price(
    prompt: int, completion: int, cached_share: float, p: float, q: float, c: float
) -> None:
    cached = int(prompt * cached_share)
    usage = Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached)
    cost = Prices(input=p, output=q, cached_input=c).cost(usage)
    assert cost == pytest.approx((prompt - cached) * p + cached * c + completion * q)


@given(prompt=counts, completion=counts, p=prices, q=prices)
def test_cached_tokens_cost_the_prompt_price_when_the_source_has_no_cached_price(
    prompt: int, completion: int, p: float, q: float
) -> None:
    usage = Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=prompt // 2)
    assert Prices(input=p, output=q).cost(usage) == pytest.approx(prompt * p + completion * q)


@pytest.mark.parametrize(
    "usage",
    [Usage(), Usage(prompt_tokens=10), Usage(completion_tokens=3), Usage(total_tokens=13)],
    ids=["none", "prompt-only", "completion-only", "total-only"],
)
def test_unknown_usage_has_no_cost(usage: Usage) -> None:
    assert Prices(input=1e-6, output=1e-6).cost(usage) is None


def test_a_missing_price_gives_no_cost() -> None:
    usage = Usage(prompt_tokens=1, completion_tokens=1)
    assert Prices(input=1e-6).cost(usage) is None


def test_the_price_map_is_litellms_bundled_file_read_without_importing_litellm() -> None:
    code = (
        "import sys, llmport.cost as c; p = c.table_prices('gpt-4o'); "
        "print(p.input, p.output, 'litellm' in sys.modules)"
    )
    out = run_fresh(code).split()
    path = _price_file()
    assert path is not None
    assert path.name == PRICE_FILE
    entry = json.loads(path.read_text())["gpt-4o"]
    assert [float(out[0]), float(out[1])] == [
        entry["input_cost_per_token"],
        entry["output_cost_per_token"],
    ]
    assert out[2] == "False"


@pytest.mark.parametrize(
    "fake", [types.ModuleType("litellm"), mock.MagicMock()], ids=["no-spec", "magicmock"]
)
def test_the_price_file_is_found_while_a_test_fakes_litellm(
    monkeypatch: pytest.MonkeyPatch, fake: Any
) -> None:
    # Tests that put a fake litellm in sys.modules must not hide the installed package.
    monkeypatch.setitem(sys.modules, "litellm", fake)
    path = _price_file()
    assert path is not None
    assert path.name == PRICE_FILE


def test_a_provider_prefixed_model_is_priced_like_the_bare_name() -> None:
    assert table_prices("openai/gpt-4o") == table_prices("gpt-4o") is not None


def test_a_model_the_map_lacks_has_no_price() -> None:
    assert table_prices("my-private-model-xyz") is None


def test_a_model_without_any_price_costs_none_never_zero() -> None:
    response = FakeLLM(chat_model="my-private-model-xyz").chat_completions(USER)
    assert response.ok
    assert response.cost is None


def test_config_prices_price_a_model_the_map_lacks() -> None:
    response = FakeLLM(**PRICED).chat_completions(USER)
    assert response.cost == pytest.approx(DEFAULT_COST)


def test_config_prices_come_from_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LLM_INPUT_COST_PER_TOKEN", "1e-6")
    monkeypatch.setenv("FAKE_LLM_OUTPUT_COST_PER_TOKEN", "2e-6")
    assert FakeLLM().chat_completions(USER).cost == pytest.approx(DEFAULT_COST)


def test_a_config_price_overrides_only_its_own_field_of_the_map() -> None:
    table = table_prices("gpt-4o")
    assert table is not None
    assert table.output is not None
    llm = FakeLLM(chat_model="gpt-4o", input_cost_per_token=0.0)
    assert llm.chat_completions(USER).cost == pytest.approx(5 * table.output)


def test_cached_prompt_tokens_use_the_configured_cached_price() -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "total_tokens": 110,
        "prompt_tokens_details": {"cached_tokens": 40},
    }
    payload = {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}], "usage": usage}
    llm = FakeLLM([payload], cached_input_cost_per_token=1e-7, **PRICED)
    assert llm.chat_completions(USER).cost == pytest.approx(60e-6 + 40e-7 + 10 * 2e-6)


def test_cost_covers_every_billed_attempt() -> None:
    retry = RetryPolicy(
        retry_on=frozenset({ErrorKind.BAD_RESPONSE}), initial_backoff=0, jitter=False
    )
    llm = FakeLLM([billed_failure(prompt=100), "answer"], retry=retry, **PRICED)
    response = llm.chat_completions(USER)
    assert response.ok
    assert response.attempts == 2
    assert response.cost == pytest.approx(100 * 1e-6 + DEFAULT_COST)


def test_a_failed_attempt_without_usage_was_not_billed() -> None:
    retry = RetryPolicy(initial_backoff=0, jitter=False)
    llm = FakeLLM(errors_on={1: ErrorKind.SERVER}, retry=retry, **PRICED)
    response = llm.chat_completions(USER)
    assert response.attempts == 2
    assert response.cost == pytest.approx(DEFAULT_COST)


def test_a_success_without_usage_has_unknown_cost() -> None:
    assert FakeLLM(usage=None, **PRICED).chat_completions(USER).cost is None


def test_a_failed_call_without_usage_has_unknown_cost() -> None:
    llm = FakeLLM([ErrorKind.AUTH], retry=NO_RETRY, **PRICED)
    assert llm.chat_completions(USER).cost is None


async def test_async_calls_carry_the_cost() -> None:
    response = await FakeLLM(**PRICED).achat_completions(USER)
    assert response.cost == pytest.approx(DEFAULT_COST)


def test_a_streams_final_response_carries_the_cost_and_usage_events_do_not() -> None:
    with FakeLLM(["one two three"], **PRICED).stream(USER) as stream:
        events = list(stream)
    finish = events[-1]
    assert isinstance(finish, FinishEvent)
    assert finish.response.cost == pytest.approx(DEFAULT_COST)
    usage_events = [e for e in events if isinstance(e, UsageEvent)]
    assert usage_events
    assert not hasattr(usage_events[0], "cost")


async def test_an_async_streams_final_response_carries_the_cost() -> None:
    async with FakeLLM(["one two"], **PRICED).astream(USER) as stream:
        response = await stream.get_response()
    assert response.cost == pytest.approx(DEFAULT_COST)


def test_a_fallback_group_sums_the_cost_of_every_member_tried() -> None:
    first = FakeLLM([billed_failure(prompt=100)], retry=NO_RETRY, **PRICED)
    group = FallbackLLM([first, FakeLLM(["ok"], **PRICED)])
    response = group.chat_completions(USER)
    assert response.ok
    assert response.cost == pytest.approx(100 * 1e-6 + DEFAULT_COST)


def test_a_fallback_member_that_failed_unbilled_adds_nothing() -> None:
    first = FakeLLM([ErrorKind.SERVER], retry=NO_RETRY, **PRICED)
    group = FallbackLLM([first, FakeLLM(["ok"], **PRICED)])
    assert group.chat_completions(USER).cost == pytest.approx(DEFAULT_COST)


def test_a_fallback_member_with_unknown_cost_makes_the_group_cost_unknown() -> None:
    first = FakeLLM([billed_failure()], retry=NO_RETRY, chat_model="unpriced-model-xyz")
    group = FallbackLLM([first, FakeLLM(["ok"], **PRICED)])
    assert group.chat_completions(USER).cost is None


def test_a_fallback_stream_sums_the_members_tried() -> None:
    first = FakeLLM([ErrorKind.SERVER], retry=NO_RETRY, **PRICED)
    group = FallbackLLM([first, FakeLLM(["ok"], **PRICED)])
    with group.stream(USER) as stream:
        response = stream.response
    assert response.cost == pytest.approx(DEFAULT_COST)


def test_the_tool_loop_sums_the_cost_of_every_call() -> None:
    def lookup(city: str) -> str:
        """Look a city up."""
        return city

    llm = FakeLLM([FakeToolCall("lookup", {"city": "Paris"}), "done"], **PRICED)
    result = run_tools(llm, USER, [lookup])
    assert result.ok
    assert result.iterations == 2
    assert result.cost == pytest.approx(2 * DEFAULT_COST)


def test_the_tool_loop_cost_survives_a_pause_for_confirmation() -> None:
    from llmport import Tool, resume_tools

    def wipe(path: str) -> str:
        """Remove a file."""
        return path

    tools = [Tool(wipe, requires_confirmation=True)]
    llm = FakeLLM([FakeToolCall("wipe", {"path": "/tmp/x"}), "wiped"], **PRICED)
    paused = run_tools(llm, USER, tools)
    assert paused.pending is not None
    assert paused.pending.cost == pytest.approx(DEFAULT_COST)
    restored = type(paused.pending).from_dict(json.loads(json.dumps(paused.pending.to_dict())))
    result = resume_tools(llm, restored, tools, True)
    assert result.ok
    assert result.cost == pytest.approx(2 * DEFAULT_COST)


@given(st.lists(st.tuples(counts, counts, st.floats(0, 10)), max_size=8))
def test_summed_calls_add_their_tokens_and_costs(calls: list[tuple[int, int, float]]) -> None:
    spend = Spend()
    for prompt, completion, cost in calls:
        usage = Usage(prompt_tokens=prompt, completion_tokens=completion)
        spend.add_call(LLMResponse(status=LLMResponseStatus.SUCCESS, usage=usage, cost=cost))
    assert spend.tokens == sum(p + c for p, c, _ in calls)
    expected = sum(cost for _, _, cost in calls) if calls else None
    assert spend.cost == (pytest.approx(expected) if calls else None)


def run_fresh(code: str) -> str:
    """Run `code` in a fresh interpreter and return what it printed."""
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_the_price_map_is_read_on_first_use_not_at_import() -> None:
    code = (
        "import llmport, llmport.cost as c; from llmport.testing import FakeLLM; "
        "before = c.table_loaded(); "
        "FakeLLM().chat_completions([{'role': 'user', 'content': 'x'}]); "
        "print(before, c.table_loaded())"
    )
    assert run_fresh(code) == "False True"


def test_configured_prompt_and_completion_prices_never_read_the_map() -> None:
    code = (
        "import llmport.cost as c; from llmport.testing import FakeLLM; "
        "llm = FakeLLM(input_cost_per_token=1e-6, output_cost_per_token=1e-6); "
        "r = llm.chat_completions([{'role': 'user', 'content': 'x'}]); "
        "print(r.cost is not None, c.table_loaded())"
    )
    assert run_fresh(code) == "True False"
