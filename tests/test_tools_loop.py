"""`run_tools` / `arun_tools`: the bounded tool-call loop, end to end with FakeLLM scripts."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from pydantic import BaseModel

from llmport import ErrorKind, Usage
from llmport.testing import FakeLLM, FakeToolCall, ScriptItem
from llmport.tools import Tool, ToolLoopStatus, arun_tools, run_tools, tool

USER = [{"role": "user", "content": "What is the weather in Paris?"}]
calls: list[str] = []


@pytest.fixture(autouse=True)
def _forget_calls() -> None:
    calls.clear()


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    calls.append(city)
    if city == "Atlantis":
        raise ValueError(f"no weather station in {city}")
    return f"{city}: 21 C, sunny"


def weather_call(city: str = "Paris", call_id: str = "call_1") -> FakeToolCall:
    return FakeToolCall("get_weather", {"city": city}, id=call_id)


def test_loop_runs_the_tool_and_completes_with_the_final_answer() -> None:
    llm = FakeLLM([weather_call(), "It is sunny in Paris."])
    result = run_tools(llm, USER, [get_weather])
    assert result.status is ToolLoopStatus.COMPLETED
    assert result.ok
    assert result.content == "It is sunny in Paris."
    assert result.iterations == 2
    assert calls == ["Paris"]


def test_transcript_is_in_openai_format() -> None:
    result = run_tools(FakeLLM([weather_call(), "Sunny."]), USER, [get_weather])
    assert result.messages == [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Paris: 21 C, sunny"},
        {"role": "assistant", "content": "Sunny."},
    ]


def test_each_call_sees_the_transcript_so_far_and_the_tool_definitions() -> None:
    llm = FakeLLM([weather_call(), "Sunny."])
    result = run_tools(llm, USER, [get_weather])
    assert llm.requests[1].messages == result.messages[:3]
    assert all(r.tools == [get_weather.definition()] for r in llm.requests)


def test_answer_without_tool_calls_completes_after_one_call() -> None:
    result = run_tools(FakeLLM(["Hello!"]), USER, [get_weather])
    assert result.status is ToolLoopStatus.COMPLETED
    assert result.iterations == 1
    assert calls == []


def test_callers_messages_are_not_mutated() -> None:
    messages = [dict(USER[0])]
    run_tools(FakeLLM([weather_call(), "Sunny."]), messages, [get_weather])
    assert messages == USER


def test_usage_is_summed_across_llm_calls() -> None:
    result = run_tools(FakeLLM([weather_call(), "Sunny."]), USER, [get_weather])
    assert result.usage == Usage(prompt_tokens=20, completion_tokens=10, total_tokens=30)


def test_unreported_usage_stays_unknown() -> None:
    result = run_tools(FakeLLM([weather_call(), "Sunny."], usage=None), USER, [get_weather])
    assert result.usage == Usage()


def test_parallel_tool_calls_all_run_and_answer_in_order() -> None:
    llm = FakeLLM([[weather_call("Paris", "a"), weather_call("Oslo", "b")], "Both sunny."])
    result = run_tools(llm, USER, [get_weather])
    assert calls == ["Paris", "Oslo"]
    assert [m for m in result.messages if m["role"] == "tool"] == [
        {"role": "tool", "tool_call_id": "a", "content": "Paris: 21 C, sunny"},
        {"role": "tool", "tool_call_id": "b", "content": "Oslo: 21 C, sunny"},
    ]


def test_loop_stops_at_max_iterations_without_running_the_last_calls() -> None:
    llm = FakeLLM([weather_call()], repeat=True)
    result = run_tools(llm, USER, [get_weather], max_iterations=3)
    assert result.status is ToolLoopStatus.MAX_ITERATIONS
    assert not result.ok
    assert llm.call_count == result.iterations == 3
    assert calls == ["Paris", "Paris"]
    assert result.response.tool_calls[0].name == "get_weather"


def test_transcript_after_max_iterations_ends_with_answered_calls_only() -> None:
    result = run_tools(
        FakeLLM([weather_call()], repeat=True), USER, [get_weather], max_iterations=2
    )
    assert [m["role"] for m in result.messages] == ["user", "assistant", "tool"]


def test_llm_error_stops_the_loop_and_is_returned_not_raised() -> None:
    llm = FakeLLM([weather_call(), ErrorKind.AUTH])
    result = run_tools(llm, USER, [get_weather])
    assert result.status is ToolLoopStatus.LLM_ERROR
    assert result.response.error is not None
    assert result.response.error.kind is ErrorKind.AUTH
    assert [m["role"] for m in result.messages] == ["user", "assistant", "tool"]


def tool_messages(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "tool"]


def test_tool_exception_goes_back_to_the_model() -> None:
    llm = FakeLLM([weather_call("Atlantis"), "Sorry, no data."])
    result = run_tools(llm, USER, [get_weather])
    assert result.status is ToolLoopStatus.COMPLETED
    assert tool_messages(result.messages) == ["Error: ValueError: no weather station in Atlantis"]


def test_tool_exception_messages_are_redacted() -> None:
    @tool
    def call_api(path: str) -> str:
        raise PermissionError("key sk-live-0123456789abcdef was rejected")

    llm = FakeLLM([FakeToolCall("call_api", {"path": "/"}), "Failed."])
    content = tool_messages(run_tools(llm, USER, [call_api]).messages)[0]
    assert content.startswith("Error: PermissionError: key ")
    assert "[REDACTED]" in content
    assert "0123456789abcdef" not in content


def test_unparseable_arguments_go_back_to_the_model() -> None:
    llm = FakeLLM([FakeToolCall("get_weather", '{"city": "Par', id="c"), "Retrying later."])
    result = run_tools(llm, USER, [get_weather])
    assert result.status is ToolLoopStatus.COMPLETED
    assert calls == []
    content = tool_messages(result.messages)[0]
    assert content.startswith("Error: the arguments for get_weather could not be read")
    assert "not valid JSON" in content


def test_arguments_that_fail_validation_go_back_with_the_validation_message() -> None:
    llm = FakeLLM([FakeToolCall("get_weather", {"town": "Paris"}), "Oops."])
    content = tool_messages(run_tools(llm, USER, [get_weather]).messages)[0]
    assert content == (
        "Error: invalid arguments for get_weather: city: Field required; "
        "town: Extra inputs are not permitted"
    )


def test_unknown_tool_goes_back_with_the_available_tools() -> None:
    llm = FakeLLM([FakeToolCall("get_time", {}), "Oops."])
    content = tool_messages(run_tools(llm, USER, [get_weather]).messages)[0]
    assert content == "Error: unknown tool 'get_time'. Available tools: get_weather."


class Forecast(BaseModel):
    city: str
    celsius: float


def test_structured_results_are_sent_as_json() -> None:
    @tool
    def forecast(city: str) -> Forecast:
        return Forecast(city=city, celsius=21.5)

    llm = FakeLLM([FakeToolCall("forecast", {"city": "Paris"}), "Warm."])
    assert tool_messages(run_tools(llm, USER, [forecast]).messages) == [
        '{"city":"Paris","celsius":21.5}'
    ]


def test_plain_functions_are_accepted_as_tools() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    llm = FakeLLM([FakeToolCall("add", {"a": 2, "b": 3}), "5"])
    result = run_tools(llm, USER, [add])
    assert tool_messages(result.messages) == ["5"]
    assert llm.requests[0].tools == [Tool(add).definition()]


def test_call_options_reach_every_llm_call() -> None:
    llm = FakeLLM([weather_call(), "Sunny."])
    run_tools(llm, USER, [get_weather], temperature=0.2, metadata={"user": "u1"})
    assert [r.params["temperature"] for r in llm.requests] == [0.2, 0.2]
    assert llm.last_request.metadata == {"user": "u1"}


def test_response_format_gives_a_parsed_final_answer() -> None:
    llm = FakeLLM(['{"city": "Paris", "celsius": 21}'])
    result = run_tools(llm, USER, [get_weather], response_format=Forecast)
    assert result.response.parsed == Forecast(city="Paris", celsius=21)


def test_final_answer_that_fails_validation_is_an_llm_error_keeping_the_text() -> None:
    result = run_tools(
        FakeLLM(['{"city": "Paris"}']), USER, [get_weather], response_format=Forecast
    )
    assert result.status is ToolLoopStatus.LLM_ERROR
    assert result.response.error is not None
    assert result.response.error.kind is ErrorKind.BAD_RESPONSE
    assert result.content == '{"city": "Paris"}'


def test_response_format_survives_a_tool_call_turn() -> None:
    llm = FakeLLM([weather_call(), '{"city": "Paris", "celsius": 21}'])
    result = run_tools(llm, USER, [get_weather], response_format=Forecast)
    assert result.status is ToolLoopStatus.COMPLETED
    assert result.response.parsed == Forecast(city="Paris", celsius=21)


def test_two_tools_with_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="two tools are named 'get_weather'"):
        run_tools(FakeLLM(), USER, [get_weather, get_weather])


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_max_iterations_must_be_a_positive_integer(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_iterations"):
        run_tools(FakeLLM(), USER, [get_weather], max_iterations=bad)


@tool
async def async_weather(city: str) -> str:
    """Current weather for a city, from an async client."""
    await asyncio.sleep(0)
    return f"{city}: 18 C, cloudy"


def test_sync_loop_runs_async_tools() -> None:
    llm = FakeLLM([FakeToolCall("async_weather", {"city": "Oslo"}), "Cloudy."])
    result = run_tools(llm, USER, [async_weather])
    assert tool_messages(result.messages) == ["Oslo: 18 C, cloudy"]


async def test_sync_loop_with_async_tools_inside_an_event_loop_is_refused() -> None:
    with pytest.raises(RuntimeError, match="arun_tools"):
        run_tools(FakeLLM(), USER, [async_weather])


async def test_async_loop_completes_end_to_end() -> None:
    llm = FakeLLM([FakeToolCall("async_weather", {"city": "Oslo"}), "Cloudy in Oslo."])
    result = await arun_tools(llm, USER, [async_weather])
    assert result.status is ToolLoopStatus.COMPLETED
    assert result.content == "Cloudy in Oslo."
    assert tool_messages(result.messages) == ["Oslo: 18 C, cloudy"]


async def test_async_loop_runs_parallel_calls_concurrently() -> None:
    arrived = 0
    both_started = asyncio.Event()

    @tool
    async def wait_for_the_other(name: str) -> str:
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            both_started.set()
        # Run one after the other, the first call would wait here forever.
        await asyncio.wait_for(both_started.wait(), timeout=5)
        return name

    script: list[ScriptItem] = [
        [FakeToolCall("wait_for_the_other", {"name": n}) for n in ("a", "b")],
        "Done.",
    ]
    result = await arun_tools(FakeLLM(script), USER, [wait_for_the_other])
    assert tool_messages(result.messages) == ["a", "b"]


async def test_async_loop_runs_sync_tools_in_worker_threads() -> None:
    threads: list[int] = []

    @tool
    def where() -> str:
        threads.append(threading.get_ident())
        return "here"

    await arun_tools(FakeLLM([FakeToolCall("where", {}), "Ok."]), USER, [where])
    assert threads
    assert threads[0] != threading.get_ident()


async def test_async_loop_returns_llm_errors() -> None:
    result = await arun_tools(FakeLLM([ErrorKind.PERMISSION]), USER, [get_weather])
    assert result.status is ToolLoopStatus.LLM_ERROR
    assert result.iterations == 1
