"""Cost and budgets through both real providers against the local gateway, priced by config."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llmport import BaseLLM, Budget, ErrorKind, LiteLLM, OpenAICompatible, RetryPolicy
from llmport.testing import LocalGateway

pytestmark = pytest.mark.integration

USER = [{"role": "user", "content": "say something"}]
#: The gateway counts one token per message plus one per word: 1 + 2 prompt tokens.
PROMPT_TOKENS = 3
INPUT, OUTPUT = 1e-3, 2e-3
PRICES: dict[str, Any] = {"input_cost_per_token": INPUT, "output_cost_per_token": OUTPUT}
Factory = Callable[..., BaseLLM]


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway() as running:
        yield running


@pytest.fixture(params=["litellm", "openai_compatible"])
def make(request: pytest.FixtureRequest, gateway: LocalGateway) -> Factory:
    def make_llm(model: str, **settings: Any) -> BaseLLM:
        settings.setdefault("retry", RetryPolicy.never())
        if request.param == "litellm":
            return LiteLLM(
                chat_model=f"openai/{model}", api_base=gateway.base_url, api_key="sk-t", **settings
            )
        return OpenAICompatible(chat_model=model, base_url=gateway.base_url, **settings)

    return make_llm


def expected_cost(prompt: int, completion: int) -> float:
    return prompt * INPUT + completion * OUTPUT


def test_a_buffered_call_costs_its_tokens_at_the_configured_prices(make: Factory) -> None:
    response = make("fixed", **PRICES).chat_completions(USER)
    usage = response.usage
    assert usage.prompt_tokens == PROMPT_TOKENS
    assert usage.completion_tokens is not None
    assert response.cost == pytest.approx(expected_cost(PROMPT_TOKENS, usage.completion_tokens))


async def test_an_async_call_carries_the_cost(make: Factory) -> None:
    response = await make("fixed", **PRICES).achat_completions(USER)
    assert response.usage.completion_tokens is not None
    expected = expected_cost(PROMPT_TOKENS, response.usage.completion_tokens)
    assert response.cost == pytest.approx(expected)


def test_a_streams_final_response_carries_the_cost(make: Factory) -> None:
    with make("chunks-4", **PRICES).stream(USER) as stream:
        response = stream.response
    assert response.usage.completion_tokens == 4
    assert response.cost == pytest.approx(expected_cost(PROMPT_TOKENS, 4))


async def test_an_async_streams_final_response_carries_the_cost(make: Factory) -> None:
    async with make("chunks-4", **PRICES).astream(USER) as stream:
        response = await stream.get_response()
    assert response.cost == pytest.approx(expected_cost(PROMPT_TOKENS, 4))


def test_a_gateway_answer_without_usage_has_no_cost(make: Factory) -> None:
    response = make("no-usage", **PRICES).chat_completions(USER)
    assert response.ok
    assert response.cost is None


def test_an_unpriced_gateway_model_has_no_cost(make: Factory) -> None:
    assert make("fixed").chat_completions(USER).cost is None


def test_two_tenants_one_over_budget(make: Factory, gateway: LocalGateway) -> None:
    one_call = expected_cost(PROMPT_TOKENS, 4)
    llm = make("chunks-4", budget=Budget(usd=one_call, per="day"), **PRICES)
    assert llm.chat_completions(USER, metadata={"tenant_id": "acme"}).ok
    sent = len(gateway.requests)
    refused = llm.chat_completions(USER, metadata={"tenant_id": "acme"})
    assert refused.error is not None
    assert refused.error.kind is ErrorKind.BUDGET
    assert len(gateway.requests) == sent
    assert llm.chat_completions(USER, metadata={"tenant_id": "globex"}).ok
