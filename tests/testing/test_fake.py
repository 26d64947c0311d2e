"""FakeLLM and FunctionLLM: scripted behaviour through the real template method."""

from __future__ import annotations

import time

import pytest

from llmport import ErrorKind, LLMError, LLMResponseStatus, RateLimitError, RetryPolicy
from llmport.base import ChatRequest
from llmport.testing import FakeLLM, FakeToolCall, FunctionLLM

USER = [{"role": "user", "content": "hi"}]


def test_scripted_text_in_order_then_default() -> None:
    llm = FakeLLM(["one", "two"])
    assert [llm.chat_completions(USER).content for _ in range(3)] == [
        "one",
        "two",
        "This is a fake response.",
    ]


def test_repeat_cycles_the_script() -> None:
    llm = FakeLLM(["a", "b"], repeat=True)
    assert [llm.chat_completions(USER).content for _ in range(3)] == ["a", "b", "a"]


def test_scripted_tool_call() -> None:
    llm = FakeLLM([FakeToolCall("get_weather", {"city": "Paris"}, id="call_9")])
    response = llm.chat_completions(USER)
    assert response.finish_reason == "tool_calls"
    call = response.tool_calls[0]
    assert (call.id, call.name, call.arguments) == ("call_9", "get_weather", {"city": "Paris"})


def test_scripted_parallel_tool_calls() -> None:
    llm = FakeLLM([[FakeToolCall("a", {}), FakeToolCall("b", {"x": 1})]])
    assert [c.name for c in llm.chat_completions(USER).tool_calls] == ["a", "b"]


def test_malformed_tool_call_is_parsed_defensively() -> None:
    response = FakeLLM([FakeToolCall("f", '{"city": "Par')]).chat_completions(USER)
    call = response.tool_calls[0]
    assert call.arguments == {}
    assert call.raw_arguments == '{"city": "Par'
    assert call.arguments_error is not None


def test_missing_usage() -> None:
    response = FakeLLM(["x"], usage=None).chat_completions(USER)
    assert response.usage.prompt_tokens is None
    assert response.total_tokens == 0


def test_error_on_nth_call() -> None:
    llm = FakeLLM(errors_on={2: ErrorKind.AUTH})
    assert llm.chat_completions(USER).ok
    failed = llm.chat_completions(USER)
    assert failed.error is not None
    assert failed.error.kind is ErrorKind.AUTH
    assert failed.error.status_code == 401
    assert llm.chat_completions(USER).ok


def test_scripted_error_is_retried_by_the_policy() -> None:
    llm = FakeLLM([ErrorKind.RATE_LIMIT, "ok"], retry=RetryPolicy(initial_backoff=0))
    response = llm.chat_completions(USER)
    assert (response.content, response.attempts, llm.call_count) == ("ok", 2, 2)


def test_scripted_llm_error_raises_typed_exception() -> None:
    error = LLMError(kind=ErrorKind.RATE_LIMIT, message="slow", retry_after=9.0)
    response = FakeLLM([error], retry=RetryPolicy.never()).chat_completions(USER)
    with pytest.raises(RateLimitError):
        response.raise_for_status()


def test_scripted_exception_is_classified() -> None:
    response = FakeLLM([TimeoutError()], retry=RetryPolicy.never()).chat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.TIMEOUT


def test_raw_payload_goes_through_parsing() -> None:
    response = FakeLLM([{"choices": []}]).chat_completions(USER)
    assert response.status is LLMResponseStatus.ERROR


def test_records_calls() -> None:
    llm = FakeLLM()
    llm.chat_completions(USER, tools=[{"type": "function", "function": {"name": "f"}}], top_p=0.5)
    assert llm.call_count == 1
    assert llm.last_messages == USER
    assert llm.last_request.params["top_p"] == 0.5
    assert llm.last_request.tools is not None


def test_latency_is_applied() -> None:
    started = time.perf_counter()
    FakeLLM(latency=0.02).chat_completions(USER)
    assert time.perf_counter() - started >= 0.02


async def test_async_calls_share_the_script() -> None:
    llm = FakeLLM(["sync", "async"])
    assert llm.chat_completions(USER).content == "sync"
    assert (await llm.achat_completions(USER)).content == "async"


def test_function_llm_answers_from_function() -> None:
    def answer(request: ChatRequest) -> str:
        return str(request.messages[-1]["content"]).upper()

    assert FunctionLLM(answer).chat_completions(USER).content == "HI"


async def test_function_llm_accepts_async_functions() -> None:
    async def answer(request: ChatRequest) -> FakeToolCall:
        return FakeToolCall("f", {"n": len(request.messages)})

    response = await FunctionLLM(answer).achat_completions(USER)
    assert response.tool_calls[0].arguments == {"n": 1}


def test_function_llm_exception_becomes_error_response() -> None:
    def broken(request: ChatRequest) -> str:
        raise ConnectionResetError("reset")

    response = FunctionLLM(broken, retry=RetryPolicy.never()).chat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.CONNECTION
