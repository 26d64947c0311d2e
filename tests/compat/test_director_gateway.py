"""A Director-style reasoning loop on `llmport.compat.director`, through the real litellm
and HTTP stack against the local gateway.

The loop is written the way Director's `ReasoningEngine.step` is: tools in Director's
`{"name", "description", "parameters"}` shape, tool calls read as `call["tool"]["name"]`,
the assistant's Director-shaped tool calls kept in the context, tool results appended
with `tool_call_id`, `finish_reason` ending the loop, and failures read from `content`.
The gateway's `tool-call` model calls the first tool with arguments made from its schema
and, once the last message is a tool result, answers "The tool said: <result>".
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest

from llmport import ErrorKind
from llmport.compat.director import (
    BaseLLM,
    LiteLLM,
    LiteLLMConfig,
    VideoDBProxy,
    VideoDBProxyConfig,
)
from llmport.testing import LocalGateway

pytestmark = pytest.mark.integration

KEY = "sk-gateway-key"
WEATHER_AGENT = {
    "name": "weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def weather(city: str) -> str:
    return f"Sunny in {city}, 21 C"


@dataclass
class Run:
    """What a reasoning run produced."""

    answer: str = ""
    failed: bool = False
    finish_reasons: list[str] = field(default_factory=list)
    context: list[dict[str, Any]] = field(default_factory=list)


def reason(llm: BaseLLM, question: str, agents: dict[str, Callable[..., str]]) -> Run:
    run = Run(context=[{"role": "system", "content": "You are a video assistant."}])
    run.context.append({"role": "user", "content": question})
    for _ in range(5):
        response = llm.chat_completions(messages=list(run.context), tools=[WEATHER_AGENT])
        if not response.status:
            run.answer, run.failed = response.content, True
            return run
        run.finish_reasons.append(response.finish_reason)
        if response.tool_calls:
            run.context.append(
                {
                    "role": "assistant",
                    "content": response.content or [],
                    "tool_calls": response.tool_calls,
                }
            )
            for call in response.tool_calls:
                result = agents[call["tool"]["name"]](**call["tool"]["arguments"])
                run.context.append({"role": "tool", "tool_call_id": call["id"], "content": result})
        if response.finish_reason in ("stop", "end_turn"):
            run.answer = response.content
            run.context.append({"role": "assistant", "content": response.content})
            return run
    return run


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway(api_key=KEY) as running:
        yield running


def director_litellm(gateway: LocalGateway, model: str = "tool-call") -> LiteLLM:
    return LiteLLM(
        LiteLLMConfig(chat_model=f"openai/{model}", api_key=KEY, api_base=gateway.base_url)
    )


def test_the_loop_calls_the_agent_and_ends_on_stop(gateway: LocalGateway) -> None:
    run = reason(director_litellm(gateway), "Weather in Paris?", {"weather": weather})
    assert not run.failed
    assert run.answer == "The tool said: Sunny in Paris, 21 C"
    assert run.finish_reasons == ["tool_calls", "stop"]
    assert [m["role"] for m in run.context] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]


def test_the_gateway_sees_openai_shaped_tools_tool_calls_and_the_tool_result(
    gateway: LocalGateway,
) -> None:
    gateway.clear()
    run = reason(director_litellm(gateway), "Weather in Paris?", {"weather": weather})
    first, second = (request.body for request in gateway.requests)
    assert first is not None
    assert second is not None
    assert first["tools"] == [{"type": "function", "function": WEATHER_AGENT}]
    assert first["tool_choice"] == "auto"
    director_call = run.context[2]["tool_calls"][0]
    assistant, tool_result = second["messages"][-2:]
    assert assistant["tool_calls"] == [
        {
            "id": director_call["id"],
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    assert tool_result == {
        "role": "tool",
        "tool_call_id": director_call["id"],
        "content": "Sunny in Paris, 21 C",
    }


def test_a_context_length_error_is_found_in_content(gateway: LocalGateway) -> None:
    llm = director_litellm(gateway, "error-400-context")
    run = reason(llm, "Summarise this very long video.", {"weather": weather})
    assert run.failed
    assert "maximum context length" in run.answer
    assert run.answer.startswith("Error: ")
    assert KEY not in run.answer
    response = llm.chat_completions([{"role": "user", "content": "again"}])
    assert response.error is not None
    assert response.error.kind is ErrorKind.CONTEXT_LENGTH


def test_an_app_recovers_by_switching_model_on_the_instance(gateway: LocalGateway) -> None:
    llm = director_litellm(gateway, "error-400-context")
    first = reason(llm, "Weather in Paris?", {"weather": weather})
    assert "maximum context length" in first.answer
    llm.chat_model = "openai/tool-call"  # Director apps set attributes; the next call uses them
    second = reason(llm, "Weather in Paris?", {"weather": weather})
    assert second.answer == "The tool said: Sunny in Paris, 21 C"


def test_the_same_loop_runs_on_the_videodb_proxy(gateway: LocalGateway) -> None:
    config = VideoDBProxyConfig(api_key=KEY, api_base=gateway.base_url, chat_model="tool-call")
    run = reason(VideoDBProxy(config), "What is the weather?", {"weather": weather})
    assert run.answer == "The tool said: Sunny in Paris, 21 C"
    assert run.finish_reasons == ["tool_calls", "stop"]


def test_after_a_test_pops_its_fake_litellm_the_real_one_answers_again(
    gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Director's tests install a fake with sys.modules[...] = fake and pop it afterwards,
    # removing the real module too; the same instance must then import litellm again.
    llm = director_litellm(gateway, "fixed")
    assert llm.chat_completions([{"role": "user", "content": "hi"}]).status
    monkeypatch.setitem(sys.modules, "litellm", sys.modules["litellm"])  # restored afterwards
    fake = types.ModuleType("litellm")
    fake.completion = mock.MagicMock(side_effect=RuntimeError("fake"))  # type: ignore[attr-defined]
    sys.modules["litellm"] = fake
    assert (
        llm.chat_completions([{"role": "user", "content": "hi"}]).content == "Error: server: fake"
    )
    sys.modules.pop("litellm")
    again = llm.chat_completions([{"role": "user", "content": "hi"}])
    assert again.content == "Hello from the llmport local gateway."
