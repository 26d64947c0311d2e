"""The tool loop through the real LiteLLM provider and HTTP stack, against the local gateway.

The gateway's `tool-call` model calls the first offered tool with arguments made from
its schema ("city" -> "Paris") and, once the last message is a tool result, answers
"The tool said: <result>".
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from llmport import LiteLLM, OpenAICompatible, RetryPolicy
from llmport.testing import LocalGateway
from llmport.tools import (
    PendingConfirmation,
    ToolLoopStatus,
    arun_tools,
    resume_tools,
    run_tools,
    tool,
)

pytestmark = pytest.mark.integration

USER = [{"role": "user", "content": "What is the weather in Paris?"}]
KEY = "sk-test"


@tool
def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: The city name, e.g. Paris.
    """
    return f"Sunny in {city}, 21 C"


@tool
def get_wind(city: str, unit: str = "kmh") -> dict[str, object]:
    """Current wind for a city."""
    return {"city": city, "speed": 12, "unit": unit}


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway(api_key=KEY) as running:
        yield running


def litellm(gateway: LocalGateway, model: str = "tool-call") -> LiteLLM:
    return LiteLLM(
        chat_model=f"openai/{model}",
        api_base=gateway.base_url,
        api_key=KEY,
        retry=RetryPolicy.never(),
    )


def test_loop_completes_through_litellm(gateway: LocalGateway) -> None:
    result = run_tools(litellm(gateway), USER, [get_weather])
    assert result.status is ToolLoopStatus.COMPLETED, result.response.error
    assert result.content == "The tool said: Sunny in Paris, 21 C"
    assert result.iterations == 2
    assert [m["role"] for m in result.messages] == ["user", "assistant", "tool", "assistant"]


def test_usage_is_summed_over_both_gateway_calls(gateway: LocalGateway) -> None:
    result = run_tools(litellm(gateway), USER, [get_weather])
    # Gateway counts: 10 completion tokens per tool call, one per word of the answer.
    assert result.usage.completion_tokens == 10 + len(result.content.split())
    assert result.usage.total_tokens == (result.usage.prompt_tokens or 0) + (
        result.usage.completion_tokens or 0
    )


def test_gateway_receives_the_tool_schema_and_the_tool_result(gateway: LocalGateway) -> None:
    gateway.clear()
    run_tools(litellm(gateway), USER, [get_weather])
    first, second = (r.body for r in gateway.requests)
    assert first is not None
    assert second is not None
    assert first["tools"] == [get_weather.definition()]
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool"
    assert tool_message["content"] == "Sunny in Paris, 21 C"
    assert tool_message["tool_call_id"] == second["messages"][-2]["tool_calls"][0]["id"]


def test_parallel_tool_calls_all_run_through_litellm(gateway: LocalGateway) -> None:
    result = run_tools(litellm(gateway, "parallel-tool-calls"), USER, [get_weather, get_wind])
    assert result.status is ToolLoopStatus.COMPLETED
    tool_results = [m["content"] for m in result.messages if m["role"] == "tool"]
    assert tool_results == [
        "Sunny in Paris, 21 C",
        '{"city":"Paris","speed":12,"unit":"example"}',
    ]


def test_malformed_arguments_go_back_to_the_model(gateway: LocalGateway) -> None:
    llm = litellm(gateway, "malformed-tool-call")
    result = run_tools(llm, USER, [get_weather], max_iterations=2)
    # The model keeps sending truncated JSON: each attempt is answered, never raised.
    assert result.status is ToolLoopStatus.MAX_ITERATIONS
    error = next(m["content"] for m in result.messages if m["role"] == "tool")
    assert error.startswith("Error: the arguments for get_weather could not be read")


def test_confirmed_action_pauses_and_resumes_from_json(gateway: LocalGateway) -> None:
    @tool(requires_confirmation=True)
    def order_umbrella(city: str) -> str:
        """Order an umbrella delivered to a city."""
        return f"Umbrella ordered for {city}"

    first = run_tools(litellm(gateway), USER, [order_umbrella])
    assert first.status is ToolLoopStatus.PENDING_CONFIRMATION
    assert first.pending is not None
    stored = json.dumps(first.pending.to_dict())

    pending = PendingConfirmation.from_dict(json.loads(stored))
    resumed = resume_tools(litellm(gateway), pending, [order_umbrella], approve=True)
    assert resumed.status is ToolLoopStatus.COMPLETED
    assert resumed.content == "The tool said: Umbrella ordered for Paris"
    assert resumed.iterations == 2


async def test_async_loop_completes_through_litellm(gateway: LocalGateway) -> None:
    result = await arun_tools(litellm(gateway), USER, [get_weather])
    assert result.status is ToolLoopStatus.COMPLETED, result.response.error
    assert result.content == "The tool said: Sunny in Paris, 21 C"


def test_loop_completes_through_the_openai_compatible_provider(gateway: LocalGateway) -> None:
    with OpenAICompatible(
        chat_model="tool-call", base_url=gateway.base_url, api_key=KEY, retry=RetryPolicy.never()
    ) as llm:
        result = run_tools(llm, USER, [get_weather])
    assert result.status is ToolLoopStatus.COMPLETED, result.response.error
    assert result.content == "The tool said: Sunny in Paris, 21 C"
