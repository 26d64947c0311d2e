"""A hook that raises in any method is logged and ignored: the call still succeeds."""

from __future__ import annotations

import logging

import pytest

from llmport import BaseLLM, ChatRequest, ErrorKind, LLMHooks, LLMResponse, RetryPolicy
from llmport.testing import FakeLLM

USER = [{"role": "user", "content": "hi"}]


class Exploding(LLMHooks):
    def on_request(self, llm: BaseLLM, request: ChatRequest) -> None:
        raise RuntimeError("boom")

    def on_retry(
        self, llm: BaseLLM, request: ChatRequest, failed: LLMResponse, attempt: int, delay: float
    ) -> None:
        raise RuntimeError("boom")

    def on_response(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        raise RuntimeError("boom")

    def on_error(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        raise RuntimeError("boom")


def exploding_llm(*script: str | ErrorKind) -> FakeLLM:
    return FakeLLM(list(script), hooks=[Exploding()], retry=RetryPolicy(initial_backoff=0))


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.__dict__["event"] for r in caplog.records if r.name == "llmport.hooks"]


def test_sync_call_survives_every_hook_raising(caplog: pytest.LogCaptureFixture) -> None:
    response = exploding_llm(ErrorKind.SERVER, "fine").chat_completions(USER)
    assert (response.content, response.attempts) == ("fine", 2)
    assert failures(caplog) == ["on_request", "on_retry", "on_response"]


async def test_async_error_survives_every_hook_raising(caplog: pytest.LogCaptureFixture) -> None:
    response = await exploding_llm(ErrorKind.AUTH).achat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.AUTH
    assert failures(caplog) == ["on_request", "on_error"]


def test_stream_survives_every_hook_raising(caplog: pytest.LogCaptureFixture) -> None:
    with exploding_llm("streamed").stream(USER) as stream:
        assert stream.response.content == "streamed"
    assert failures(caplog) == ["on_request", "on_response"]


def test_hook_failures_are_logged_with_the_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="llmport.hooks")
    exploding_llm("fine").chat_completions(USER)
    record = next(r for r in caplog.records if r.name == "llmport.hooks")
    assert record.exc_info is not None
    assert "Exploding.on_request" in record.getMessage()
