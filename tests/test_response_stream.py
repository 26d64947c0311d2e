"""stream()/astream() through the template method, with the shipped fakes."""

from __future__ import annotations

import logging

import pytest

from llmport import ErrorKind, LLMResponseStatus, RetryPolicy
from llmport.base import ChatRequest
from llmport.streaming import FinishEvent, TextDelta, ToolCallDelta, UsageEvent
from llmport.testing import FakeLLM, FakeToolCall, FunctionLLM

USER = [{"role": "user", "content": "hi"}]


def test_fake_llm_streams_words() -> None:
    stream = FakeLLM(["one two three"]).stream(USER)
    texts = [e.text for e in stream if isinstance(e, TextDelta)]
    assert texts == ["one ", "two ", "three"]
    assert stream.response.content == "one two three"
    assert stream.response.usage.total_tokens == 15


def test_response_before_iteration_consumes_the_stream() -> None:
    assert FakeLLM(["abc"]).stream(USER).response.content == "abc"


def test_tool_calls_stream_as_fragments() -> None:
    stream = FakeLLM([FakeToolCall("f", {"city": "Paris"})]).stream(USER)
    fragments = [e.arguments for e in stream if isinstance(e, ToolCallDelta)]
    assert "".join(fragments) == '{"city": "Paris"}'
    assert stream.response.tool_calls[0].arguments == {"city": "Paris"}


def test_errors_before_the_first_event_are_retried() -> None:
    llm = FakeLLM([ErrorKind.SERVER, "ok"], retry=RetryPolicy(initial_backoff=0))
    response = llm.stream(USER).response
    assert (response.content, response.attempts, llm.call_count) == ("ok", 2, 2)


def test_non_retryable_error_ends_the_stream_with_one_finish_event() -> None:
    events = list(FakeLLM([ErrorKind.AUTH]).stream(USER))
    assert len(events) == 1
    assert isinstance(events[0], FinishEvent)
    assert events[0].response.status is LLMResponseStatus.ERROR


def test_provider_without_streaming_falls_back_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llmport")

    def answer(request: ChatRequest) -> str:
        return "buffered answer"

    events = list(FunctionLLM(answer).stream(USER))
    assert [type(e) for e in events] == [TextDelta, UsageEvent, FinishEvent]
    assert any("falling back" in r.getMessage() for r in caplog.records)


def test_closing_early_leaves_no_response() -> None:
    with FakeLLM(["a b c d"]).stream(USER) as stream:
        for _ in stream:
            break
    with pytest.raises(RuntimeError, match="closed before it finished"):
        _ = stream.response


async def test_async_stream_and_get_response() -> None:
    stream = FakeLLM(["x y"]).astream(USER)
    response = await stream.get_response()
    assert response.content == "x y"


async def test_async_response_before_reading_is_an_error() -> None:
    stream = FakeLLM(["x"]).astream(USER)
    with pytest.raises(RuntimeError, match="read the stream"):
        _ = stream.response
    await stream.aclose()


def test_structured_output_is_validated_at_the_end_of_a_stream() -> None:
    from pydantic import BaseModel

    class Answer(BaseModel):
        value: int

    stream = FakeLLM(['{"value": 3}']).stream(USER, response_format=Answer)
    assert stream.response.parsed == Answer(value=3)
