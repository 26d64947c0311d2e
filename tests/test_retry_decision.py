"""The retry decision follows `LLMError.retryable` and never guesses."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from llmport import (
    BaseLLM,
    ChatRequest,
    ErrorKind,
    LiteLLM,
    LLMError,
    LLMResponse,
    RetryPolicy,
    classify,
)

USER = [{"role": "user", "content": "hi"}]
POLICY = RetryPolicy(max_attempts=3, initial_backoff=0, jitter=False)


class FailingLLM(BaseLLM):
    """Always raises `failure`; counts the attempts."""

    provider_name = "failing"

    def __init__(self, failure: Exception, **settings: Any) -> None:
        super().__init__(chat_model="m", retry=POLICY, **settings)
        self.failure = failure
        self.calls = 0

    def _complete(self, request: ChatRequest) -> Any:
        self.calls += 1
        raise self.failure


class VetoLLM(FailingLLM):
    """A provider that knows this server failure will not pass."""

    def _classify(self, exc: BaseException) -> LLMError:
        return replace(super()._classify(exc), retryable=False)


def test_a_retryable_kind_marked_not_retryable_by_the_provider_is_not_retried() -> None:
    llm = VetoLLM(ConnectionResetError("reset"))
    response = llm.chat_completions(USER)
    assert response.error is not None
    assert (response.error.kind, response.error.retryable) == (ErrorKind.CONNECTION, False)
    assert (response.attempts, llm.calls) == (1, 1)


def test_a_retryable_failure_is_still_retried() -> None:
    llm = FailingLLM(ConnectionResetError("reset"))
    response = llm.chat_completions(USER)
    assert (response.attempts, llm.calls) == (3, 3)


class MysteryError(Exception):
    """An exception type nothing in llmport knows."""


def test_an_exception_llmport_cannot_classify_is_not_retried() -> None:
    llm = FailingLLM(MysteryError("what happened?"))
    response = llm.chat_completions(USER)
    assert response.error is not None
    assert (response.error.kind, response.error.retryable) == (ErrorKind.SERVER, False)
    assert (response.attempts, llm.calls) == (1, 1)


def test_a_kind_added_to_retry_on_is_retried_although_not_retryable_by_default() -> None:
    policy = POLICY.model_copy(update={"retry_on": POLICY.retry_on | {ErrorKind.BAD_RESPONSE}})
    error = classify(ValueError("not JSON"))
    assert (error.kind, error.retryable) == (ErrorKind.BAD_RESPONSE, False)
    assert policy.next_delay(error, attempt=1, elapsed=0) == 0


def test_an_unknown_stream_failure_is_not_retried() -> None:
    class FailingStream(FailingLLM):
        def _stream(self, request: ChatRequest) -> Any:
            self.calls += 1
            raise self.failure

    llm = FailingStream(MysteryError("what happened?"))
    response = llm.stream(USER).response
    assert (response.attempts, llm.calls) == (1, 1)


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_missing_provider_key_is_auth_naming_the_variable_and_not_retried(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "openai/gpt-4o-mini")
    llm = LiteLLM(retry=POLICY)
    response: LLMResponse
    if path == "sync":
        response = llm.chat_completions(USER)
    else:
        response = asyncio.run(llm.achat_completions(USER))
    assert response.error is not None
    assert (response.error.kind, response.error.retryable) == (ErrorKind.AUTH, False)
    assert "OPENAI_API_KEY" in response.error.message
    assert "LITELLM_API_KEY" in response.error.message
    assert response.attempts == 1
