"""BaseLLM's template method, exercised through a tiny provider defined right here."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from pydantic_settings import SettingsConfigDict

from llmport import (
    BaseLLM,
    BaseLLMConfig,
    ChatRequest,
    ConfigurationError,
    ErrorKind,
    LLMResponseStatus,
    ProviderError,
    RetryPolicy,
)

USER = [{"role": "user", "content": "hi"}]


class EchoConfig(BaseLLMConfig):
    model_config = SettingsConfigDict(env_prefix="ECHO_")
    chat_model: str = "echo-1"


class EchoLLM(BaseLLM):
    """A whole provider: one hook. It answers with the last message, or a scripted failure."""

    provider_name = "echo"
    config_class = EchoConfig
    failures: ClassVar[list[BaseException | str]] = []

    def _complete(self, request: ChatRequest) -> Any:
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, BaseException):
                raise failure
            return json.loads(failure) if failure.startswith("{") else failure
        text = request.messages[-1]["content"]
        return {
            "id": "e1",
            "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        }


@pytest.fixture(autouse=True)
def _reset_failures() -> None:
    EchoLLM.failures = []


def fast_retries(**changes: Any) -> RetryPolicy:
    return RetryPolicy(initial_backoff=0, jitter=False, **changes)


def test_custom_provider_gets_parsing_for_free() -> None:
    response = EchoLLM().chat_completions(USER)
    assert response.status is LLMResponseStatus.SUCCESS
    assert (response.content, response.provider, response.model) == ("hi", "echo", "echo-1")
    assert response.usage.total_tokens == 2
    assert response.attempts == 1
    assert response.latency_ms >= 0


def test_custom_provider_gets_env_config_for_free(llm_env: Callable[..., None]) -> None:
    llm_env(ECHO_CHAT_MODEL="echo-from-env", ECHO_TEMPERATURE="0.3")
    llm = EchoLLM()
    assert (llm.model, llm.config.temperature) == ("echo-from-env", 0.3)


def test_custom_provider_gets_error_mapping_for_free() -> None:
    EchoLLM.failures = [ConnectionRefusedError("refused")]
    response = EchoLLM(retry=RetryPolicy.never()).chat_completions(USER)
    assert response.status is LLMResponseStatus.ERROR
    assert response.error is not None
    assert response.error.kind is ErrorKind.CONNECTION
    assert response.content == ""


def test_malformed_payload_becomes_bad_response() -> None:
    EchoLLM.failures = ["<html>502</html>"]
    response = EchoLLM(retry=RetryPolicy.never()).chat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE


def test_retryable_failures_are_retried_and_counted() -> None:
    EchoLLM.failures = [TimeoutError(), '{"error": {"message": "busy", "type": "server_error"}}']
    response = EchoLLM(retry=fast_retries(max_attempts=3)).chat_completions(USER)
    assert response.status is LLMResponseStatus.SUCCESS
    assert response.attempts == 3


def test_non_retryable_failures_are_not_retried() -> None:
    EchoLLM.failures = ['{"error": {"message": "bad key", "code": "invalid_api_key"}}', "{}"]
    response = EchoLLM(retry=fast_retries(max_attempts=3)).chat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.AUTH
    assert response.attempts == 1


def test_retry_after_is_slept(mocker: Any) -> None:
    sleep = mocker.patch.object(EchoLLM, "_sleep")
    EchoLLM.failures = ['{"error": {"message": "slow", "code": "rate_limit_exceeded"}}']
    llm = EchoLLM(retry=fast_retries())
    # An error parsed from a body has no Retry-After; the exception path does.
    assert llm.chat_completions(USER).ok
    sleep.assert_called_once_with(0)


async def test_async_path_mirrors_sync() -> None:
    EchoLLM.failures = [TimeoutError()]
    response = await EchoLLM(retry=fast_retries()).achat_completions(USER)
    assert (response.content, response.attempts) == ("hi", 2)


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ("hello", "must be a list"),
        ([], "must not be empty"),
        (["hello"], r"messages\[0\] must be a dict"),
        ([{"content": "x"}], "has no 'role'"),
        ([{"role": "user"}], "has no 'content'"),
        ([{"role": "user", "content": 5}], "must be a string or a list"),
    ],
)
def test_bad_messages_raise_value_error_before_any_call(messages: Any, match: str) -> None:
    EchoLLM.failures = [AssertionError("backend must not be called")]
    with pytest.raises(ValueError, match=match):
        EchoLLM().chat_completions(messages)
    assert EchoLLM.failures  # untouched


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"timeout": -3}, "timeout must be a positive number"),
        ({"temperature": 3}, "temperature must be between"),
        ({"top_p": "high"}, "top_p must be a number"),
        ({"max_tokens": 0}, "max_tokens must be positive"),
    ],
)
def test_bad_overrides_raise_value_error(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EchoLLM().chat_completions(USER, **overrides)


def test_bad_tools_raise_value_error() -> None:
    with pytest.raises(ValueError, match="tools"):
        EchoLLM().chat_completions(USER, tools=[{"type": "function"}])


def test_non_positive_timeout_in_config_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="ECHO_TIMEOUT"):
        EchoLLM(timeout=0)


def test_overrides_merge_over_config() -> None:
    llm = EchoLLM(temperature=0.1, extra_params={"user": "u1"})
    request = llm.build_request(USER, overrides={"top_p": 0.5, "logprobs": True, "model": "other"})
    assert request.model == "other"
    assert request.params == {"user": "u1", "temperature": 0.1, "top_p": 0.5, "logprobs": True}


def test_explicit_config_plus_settings_rebuilds_config() -> None:
    llm = EchoLLM(EchoConfig(chat_model="a", temperature=0.2), top_p=0.3)
    assert (llm.model, llm.config.temperature, llm.config.top_p) == ("a", 0.2, 0.3)


def test_wrong_config_class_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="needs a EchoConfig"):
        EchoLLM(BaseLLMConfig(chat_model="x"))


CANARY = "sk-canary-7f3a9c1e5b2d4680"


@pytest.mark.parametrize(
    "failure",
    [
        Exception(f"Incorrect API key provided: {CANARY}"),
        Exception(f'{{"error": {{"message": "bad key {CANARY}"}}}}'),
        f'{{"error": {{"message": "key {CANARY} revoked", "code": "invalid_api_key"}}}}',
        f"<html><title>{CANARY}</title></html>",
    ],
)
def test_canary_key_never_leaks(failure: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    EchoLLM.failures = [failure]
    llm = EchoLLM(api_key=CANARY, retry=RetryPolicy.never())
    response = llm.chat_completions(USER)
    assert response.error is not None
    assert CANARY not in response.content
    assert CANARY not in response.error.message
    assert CANARY not in repr(response)
    assert CANARY not in repr(llm)
    assert CANARY not in repr(llm.config)
    for record in caplog.records:
        assert CANARY not in record.getMessage()
        assert CANARY not in repr(record.__dict__)
    with pytest.raises(ProviderError) as info:
        response.raise_for_status()
    assert CANARY not in str(info.value)


def test_canary_key_echoed_in_content_is_redacted() -> None:
    response = EchoLLM(api_key=CANARY).chat_completions(
        [{"role": "user", "content": f"my key is {CANARY}"}]
    )
    assert CANARY not in response.content


def test_failures_are_logged_with_structured_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llmport")
    EchoLLM.failures = [TimeoutError()]
    EchoLLM(retry=fast_retries()).chat_completions(USER)
    attempt = next(r for r in caplog.records if r.getMessage().startswith("llm attempt failed"))
    assert attempt.__dict__["provider"] == "echo"
    assert attempt.__dict__["attempt"] == 1
    assert attempt.__dict__["error_kind"] == "timeout"


class WrongHookLLM(BaseLLM):
    """A provider whose `_parse` or `_classify` returns something of the wrong type."""

    provider_name = "wrong"
    config_class = EchoConfig
    parsed: Any = None
    classified: Any = None
    fails = False

    def _complete(self, request: ChatRequest) -> Any:
        if self.fails:
            raise RuntimeError("the backend failed")
        return {"anything": 1}

    def _parse(self, payload: Any, request: ChatRequest) -> Any:
        return self.parsed

    def _classify(self, exc: BaseException) -> Any:
        return self.classified


def answer_through(entry: str, llm: BaseLLM) -> Any:
    if entry == "chat_completions":
        return llm.chat_completions(USER)
    if entry == "achat_completions":
        return asyncio.run(llm.achat_completions(USER))
    return llm.stream(USER).response


ENTRIES = ["chat_completions", "achat_completions", "stream"]
NOT_A_RESPONSE = [None, {"content": "x"}, "text", 42]


@pytest.mark.parametrize("value", NOT_A_RESPONSE, ids=repr)
@pytest.mark.parametrize("entry", ENTRIES)
def test_a_parse_that_returns_no_response_gives_bad_response(entry: str, value: Any) -> None:
    llm = WrongHookLLM(retry=RetryPolicy.never())
    llm.parsed = value
    response = answer_through(entry, llm)
    assert response.status is LLMResponseStatus.ERROR
    assert response.error.kind is ErrorKind.BAD_RESPONSE
    assert "WrongHookLLM._parse returned" in response.error.message


@pytest.mark.parametrize("value", NOT_A_RESPONSE, ids=repr)
@pytest.mark.parametrize("entry", ENTRIES)
def test_a_classify_that_returns_no_error_falls_back_to_the_default(entry: str, value: Any) -> None:
    llm = WrongHookLLM(retry=RetryPolicy.never())
    llm.fails, llm.classified = True, value
    response = answer_through(entry, llm)
    assert response.status is LLMResponseStatus.ERROR
    assert response.error.kind is ErrorKind.SERVER
    assert "the backend failed" in response.error.message
