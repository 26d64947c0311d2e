"""Streaming through both real providers against the local gateway: shapes, faults, pooling."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llmport import BaseLLM, ErrorKind, LiteLLM, LLMResponseStatus, OpenAICompatible, RetryPolicy
from llmport.streaming import FinishEvent, ReasoningDelta, TextDelta, ToolCallDelta, UsageEvent
from llmport.testing import LocalGateway

pytestmark = pytest.mark.integration

USER = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
Factory = Callable[..., BaseLLM]


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway() as running:
        yield running


def litellm_factory(gateway: LocalGateway) -> Factory:
    def make(model: str, **settings: Any) -> BaseLLM:
        settings.setdefault("retry", RetryPolicy.never())
        return LiteLLM(
            chat_model=f"openai/{model}", api_base=gateway.base_url, api_key="sk-t", **settings
        )

    return make


def direct_factory(gateway: LocalGateway) -> Factory:
    def make(model: str, **settings: Any) -> BaseLLM:
        settings.setdefault("retry", RetryPolicy.never())
        return OpenAICompatible(chat_model=model, base_url=gateway.base_url, **settings)

    return make


@pytest.fixture(params=["litellm", "openai_compatible"])
def make(request: pytest.FixtureRequest, gateway: LocalGateway) -> Factory:
    factory = litellm_factory if request.param == "litellm" else direct_factory
    return factory(gateway)


def test_text_deltas_arrive_in_order_and_join(make: Factory) -> None:
    with make("chunks-12").stream(USER) as stream:
        texts = [event.text for event in stream if isinstance(event, TextDelta)]
    assert "".join(texts) == "".join(f"tok{i} " for i in range(12))
    assert len(texts) == 12
    response = stream.response
    assert response.status is LLMResponseStatus.SUCCESS
    assert response.content == "".join(texts)
    assert response.usage.total_tokens is not None


def test_stream_ends_with_a_finish_event(make: Factory) -> None:
    events = list(make("fixed").stream(USER))
    assert isinstance(events[-1], FinishEvent)
    assert events[-1].response.content == "Hello from the llmport local gateway."


def test_tool_call_fragments_assemble(make: Factory) -> None:
    stream = make("tool-call").stream(USER, tools=WEATHER)
    deltas = [event for event in stream if isinstance(event, ToolCallDelta)]
    assert len(deltas) > 1
    call = stream.response.tool_calls[0]
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})
    assert stream.response.finish_reason == "tool_calls"


def test_interleaved_parallel_tool_calls(make: Factory) -> None:
    response = make("stream-interleaved-tools").stream(USER).response
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_time", {"zone": "CET"}),
    ]
    assert response.usage.total_tokens == 12


def test_deltas_without_index(make: Factory) -> None:
    response = make("stream-no-index-tools").stream(USER).response
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]


def test_several_calls_under_index_zero(make: Factory) -> None:
    response = make("stream-index-zero-tools").stream(USER).response
    assert [(c.id, c.arguments) for c in response.tool_calls] == [
        ("call_a", {"city": "Paris"}),
        ("call_b", {"zone": "CET"}),
    ]


def test_empty_tool_call_arrays(make: Factory) -> None:
    response = make("stream-empty-tool-arrays").stream(USER).response
    assert (response.content, response.tool_calls) == ("Hello there", [])


def test_usage_on_finish_chunk_survives_null_usage_chunk(make: Factory) -> None:
    response = make("stream-usage-on-finish").stream(USER).response
    assert (response.usage.prompt_tokens, response.usage.total_tokens) == (5, 12)


def test_comments_and_empty_first_chunk_are_ignored(make: Factory) -> None:
    response = make("stream-comments").stream(USER).response
    assert (response.status, response.content) == (LLMResponseStatus.SUCCESS, "Fine")


def test_error_event_mid_stream_keeps_partial_content(make: Factory) -> None:
    response = make("stream-error-midway").stream(USER).response
    assert response.status is LLMResponseStatus.ERROR
    assert response.error is not None
    assert response.error.kind is ErrorKind.SERVER
    assert response.content.startswith("This answer")


def test_cut_stream_is_a_connection_error_with_partial_content(make: Factory) -> None:
    response = make("stream-cut").stream(USER).response
    assert response.error is not None
    assert response.error.kind is ErrorKind.CONNECTION
    assert response.content.startswith("This answer")


def test_stream_cut_mid_frame_keeps_partial_content(make: Factory) -> None:
    response = make("stream-cut-midframe").stream(USER).response
    assert response.error is not None
    assert response.error.kind is ErrorKind.CONNECTION
    assert response.content == "Partial answer"


@pytest.mark.parametrize(
    ("model", "kind"), [("error-429", ErrorKind.RATE_LIMIT), ("error-500", ErrorKind.SERVER)]
)
def test_plain_json_error_to_a_stream_request(make: Factory, model: str, kind: ErrorKind) -> None:
    events = list(make(model).stream(USER))
    assert len(events) == 1
    assert isinstance(events[0], FinishEvent)
    response = events[0].response
    assert response.error is not None
    assert response.error.kind is kind


def test_stall_beyond_timeout_is_a_timeout(make: Factory) -> None:
    response = make("stream-stall", timeout=0.5).stream(USER).response
    assert response.error is not None
    assert response.error.kind is ErrorKind.TIMEOUT
    assert response.content.startswith("This answer")


def test_failure_before_first_event_is_retried(make: Factory, gateway: LocalGateway) -> None:
    gateway.clear()
    llm = make("flaky-2-503", retry=RetryPolicy(initial_backoff=0.01, max_attempts=3))
    response = llm.stream(USER).response
    assert response.ok, response.error
    assert response.attempts == 3


def test_rejected_streaming_falls_back_to_buffered(
    make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="llmport")
    events = list(make("no-stream").stream(USER))
    assert [type(e) for e in events] == [TextDelta, UsageEvent, FinishEvent]
    last = events[-1]
    assert isinstance(last, FinishEvent)
    assert last.response.content == "Hello from the llmport local gateway."
    assert any("falling back to a buffered call" in r.getMessage() for r in caplog.records)


async def test_async_stream_aggregates(make: Factory) -> None:
    async with make("tool-call").astream(USER, tools=WEATHER) as stream:
        kinds = [type(event) async for event in stream]
    assert kinds[-1] is FinishEvent
    assert stream.response.tool_calls[0].arguments == {"city": "Paris"}


async def test_async_reasoning_is_kept_apart(make: Factory) -> None:
    stream = make("stream-reasoning").astream(USER)
    events = [event async for event in stream]
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["Think. ", "Then answer."]
    assert (stream.response.content, stream.response.reasoning) == ("42", "Think. Then answer.")


@pytest.mark.parametrize("factory", [litellm_factory, direct_factory])
def test_leaving_early_closes_the_connection(factory: Callable[[LocalGateway], Factory]) -> None:
    with LocalGateway() as gateway:
        with factory(gateway)("drip-50").stream(USER) as stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    break
        for _ in range(100):  # the gateway notices the hang-up within milliseconds
            if gateway.open_connections == 0:
                break
            time.sleep(0.02)
        assert gateway.open_connections == 0


@pytest.mark.parametrize("factory", [litellm_factory, direct_factory])
async def test_leaving_early_closes_the_connection_async(
    factory: Callable[[LocalGateway], Factory],
) -> None:
    async with LocalGateway() as gateway:
        async with factory(gateway)("drip-50").astream(USER) as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    break
        for _ in range(100):
            if gateway.open_connections == 0:
                break
            await asyncio.sleep(0.02)
        assert gateway.open_connections == 0


def test_direct_provider_streams_reuse_pooled_connections(gateway: LocalGateway) -> None:
    llm = direct_factory(gateway)("chunks-8")
    before = gateway.connections_opened
    for _ in range(20):
        assert llm.stream(USER).response.ok
    assert gateway.connections_opened - before == 1


def test_absent_stream_usage_stays_unknown_on_the_direct_path(gateway: LocalGateway) -> None:
    response = direct_factory(gateway)("no-usage").stream(USER).response
    assert response.ok
    assert response.usage.prompt_tokens is None
    assert response.usage.total_tokens is None


def test_absent_stream_usage_is_unknown_through_litellm_not_its_estimate(
    gateway: LocalGateway,
) -> None:
    # litellm counts tokens itself when a stream reports none; that count is not reported.
    response = litellm_factory(gateway)("no-usage").stream(USER).response
    assert response.ok
    assert response.usage.prompt_tokens is None
    assert response.usage.total_tokens is None
