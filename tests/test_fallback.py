"""FallbackLLM: members in order, fallback only on the configured kinds, a BaseLLM itself."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from llmport import (
    BaseLLM,
    ChatRequest,
    ConfigurationError,
    ErrorKind,
    FallbackLLM,
    LLMHooks,
    LLMResponse,
    OpenAICompatible,
    RetryPolicy,
)
from llmport.streaming import FinishEvent, TextDelta
from llmport.testing import FakeLLM, FakeToolCall, LocalGateway

USER = [{"role": "user", "content": "hi"}]
NO_WAIT = RetryPolicy(initial_backoff=0, jitter=False)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def fake(*script: Any, model: str = "m", retry: RetryPolicy = NO_WAIT) -> FakeLLM:
    return FakeLLM(list(script), chat_model=model, retry=retry)


def test_primary_answers_when_it_can() -> None:
    primary, secondary = fake("from primary", model="a"), fake("from secondary", model="b")
    response = FallbackLLM([primary, secondary]).chat_completions(USER)
    assert (response.content, response.model) == ("from primary", "a")
    assert secondary.call_count == 0


def test_falls_back_after_the_members_own_retries() -> None:
    primary = fake(ErrorKind.SERVER, ErrorKind.SERVER, ErrorKind.SERVER, model="a")
    secondary = fake("rescued", model="b")
    response = FallbackLLM([primary, secondary]).chat_completions(USER)
    assert (response.content, response.model, response.provider) == ("rescued", "b", "fake")
    assert primary.call_count == 3
    assert response.attempts == 4


def test_does_not_fall_back_on_kinds_outside_fallback_on() -> None:
    primary, secondary = fake(ErrorKind.CONTEXT_LENGTH, model="a"), fake("unused", model="b")
    response = FallbackLLM([primary, secondary]).chat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.CONTEXT_LENGTH
    assert secondary.call_count == 0


def test_fallback_on_is_configurable_by_name() -> None:
    primary, secondary = fake(ErrorKind.CONTEXT_LENGTH, model="a"), fake("bigger", model="b")
    group = FallbackLLM([primary, secondary], fallback_on=["context_length"])
    assert group.chat_completions(USER).content == "bigger"


def test_last_members_error_is_returned_when_all_fail() -> None:
    group = FallbackLLM([fake(ErrorKind.QUOTA, model="a"), fake(ErrorKind.AUTH, model="b")])
    response = group.chat_completions(USER)
    assert response.error is not None
    assert (response.error.kind, response.model) == (ErrorKind.AUTH, "b")


async def test_async_path_falls_back_too() -> None:
    group = FallbackLLM([fake(ErrorKind.RATE_LIMIT, retry=RetryPolicy.never()), fake("async")])
    response = await group.achat_completions(USER)
    assert (response.content, response.attempts) == ("async", 2)


def test_tools_stop_overrides_and_metadata_reach_the_member() -> None:
    primary = fake(ErrorKind.NOT_FOUND, model="a")
    secondary = fake(FakeToolCall("get_weather", {"city": "Paris"}), model="b")
    response = FallbackLLM([primary, secondary]).chat_completions(
        USER, tools=TOOLS, stop=["END"], temperature=0.3, metadata={"tenant_id": "t1"}
    )
    assert response.tool_calls[0].arguments == {"city": "Paris"}
    request = secondary.last_request
    assert (request.tools, request.stop, request.model) == (TOOLS, ["END"], "b")
    assert (request.params["temperature"], request.metadata) == (0.3, {"tenant_id": "t1"})


class City(BaseModel):
    name: str


def test_structured_output_works_through_the_group() -> None:
    group = FallbackLLM(
        [fake(ErrorKind.SERVER, retry=RetryPolicy.never()), fake('{"name": "Oslo"}')]
    )
    response = group.chat_completions(USER, response_format=City)
    assert response.parsed == City(name="Oslo")


def test_bad_arguments_raise_before_any_member_is_called() -> None:
    member = fake("unused")
    with pytest.raises(ValueError, match="messages must not be empty"):
        FallbackLLM([member]).chat_completions([])
    assert member.call_count == 0


class Seen(LLMHooks):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_request(self, llm: BaseLLM, request: ChatRequest) -> None:
        self.events.append(f"request:{llm.provider_name}")

    def on_response(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        self.events.append(f"response:{llm.provider_name}:{response.model}")


def test_group_hooks_see_one_call_with_the_answering_member() -> None:
    seen = Seen()
    group = FallbackLLM(
        [fake(ErrorKind.TIMEOUT, retry=RetryPolicy.never()), fake("ok", model="b")], hooks=[seen]
    )
    group.chat_completions(USER)
    assert seen.events == ["request:fallback", "response:fallback:b"]


def test_fallback_is_logged_with_structured_fields(caplog: pytest.LogCaptureFixture) -> None:
    group = FallbackLLM([fake(ErrorKind.SERVER, retry=RetryPolicy.never(), model="a"), fake("ok")])
    group.chat_completions(USER)
    record = next(r for r in caplog.records if r.getMessage().startswith("llm fallback"))
    assert (record.__dict__["model"], record.__dict__["error_kind"]) == ("a", "server")


@pytest.mark.parametrize("members", [[], "not a list", [object()]])
def test_members_must_be_llms(members: Any) -> None:
    with pytest.raises(ConfigurationError):
        FallbackLLM(members)


def test_model_and_repr_show_the_members() -> None:
    group = FallbackLLM([fake(model="a"), fake(model="b")])
    assert group.model == "a"
    assert "model='b'" in repr(group)


@pytest.mark.integration
async def test_gateway_outage_falls_back_to_a_working_model(local_gateway: LocalGateway) -> None:
    def member(model: str) -> OpenAICompatible:
        return OpenAICompatible(chat_model=model, base_url=local_gateway.base_url, retry=NO_WAIT)

    group = FallbackLLM([member("error-503"), member("reset"), member("echo")])
    async with group.members[0], group.members[1], group.members[2]:  # type: ignore[attr-defined]
        response = await group.achat_completions(USER, tools=TOOLS)
    assert (response.content, response.model, response.attempts) == ("hi", "echo", 7)


def test_stream_falls_back_before_the_first_event() -> None:
    group = FallbackLLM([fake(ErrorKind.SERVER, retry=RetryPolicy.never()), fake("streamed")])
    with group.stream(USER) as stream:
        texts = [event.text for event in stream if isinstance(event, TextDelta)]
    assert texts == ["streamed"]
    assert (stream.response.content, stream.response.attempts) == ("streamed", 2)


@pytest.mark.integration
async def test_async_stream_keeps_a_member_that_already_sent_text(
    local_gateway: LocalGateway,
) -> None:
    def member(model: str) -> OpenAICompatible:
        return OpenAICompatible(
            chat_model=model, base_url=local_gateway.base_url, retry=RetryPolicy.never()
        )

    group = FallbackLLM([member("error-503"), member("stream-cut"), member("echo")])
    async with group.astream(USER) as stream:
        events = [event async for event in stream]
    assert any(isinstance(event, TextDelta) for event in events)
    assert isinstance(events[-1], FinishEvent)
    response = stream.response
    assert response.error is not None
    assert (response.error.kind, response.model) == (ErrorKind.CONNECTION, "stream-cut")
    for llm in group.members:
        await llm.aclose()  # type: ignore[attr-defined]
