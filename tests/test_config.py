"""Configuration: precedence, env prefixes, validation errors that name the fix."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport import ConfigurationError, ErrorKind, LiteLLM, LiteLLMConfig, LLMError, RetryPolicy
from llmport.config import header_secrets


def test_env_prefix_reads_litellm_variables(llm_env: Callable[..., None]) -> None:
    llm_env(
        LITELLM_CHAT_MODEL="openai/gpt-4o-mini",
        LITELLM_TEMPERATURE="0.2",
        LITELLM_TOP_P="0.9",
        LITELLM_MAX_TOKENS="128",
        LITELLM_TIMEOUT="12.5",
        LITELLM_API_BASE="http://127.0.0.1:9/v1",
        LITELLM_EXTRA_PARAMS='{"presence_penalty": 0.5}',
        LITELLM_RETRY__MAX_ATTEMPTS="5",
    )
    config = LiteLLMConfig.load()
    assert config.chat_model == "openai/gpt-4o-mini"
    assert (config.temperature, config.top_p, config.max_tokens, config.timeout) == (
        0.2,
        0.9,
        128,
        12.5,
    )
    assert config.api_base == "http://127.0.0.1:9/v1"
    assert config.extra_params == {"presence_penalty": 0.5}
    assert config.retry.max_attempts == 5


def test_explicit_argument_beats_environment(llm_env: Callable[..., None]) -> None:
    llm_env(LITELLM_CHAT_MODEL="env-model", LITELLM_TEMPERATURE="0.2")
    config = LiteLLMConfig.load(temperature=0.7)
    assert (config.chat_model, config.temperature) == ("env-model", 0.7)


def test_missing_model_names_the_env_var(llm_env: Callable[..., None]) -> None:
    with pytest.raises(ConfigurationError, match="LITELLM_CHAT_MODEL"):
        LiteLLMConfig.load()


def test_invalid_value_names_the_env_var(llm_env: Callable[..., None]) -> None:
    llm_env(LITELLM_CHAT_MODEL="m", LITELLM_TIMEOUT="-1")
    with pytest.raises(ConfigurationError, match="LITELLM_TIMEOUT"):
        LiteLLMConfig.load()


def test_unknown_setting_is_rejected_with_known_list() -> None:
    with pytest.raises(ConfigurationError, match="temprature"):
        LiteLLMConfig.load(chat_model="m", temprature=0.1)


def test_api_key_is_secret_in_repr(llm_env: Callable[..., None]) -> None:
    config = LiteLLMConfig.load(chat_model="m", api_key="sk-canary-0123456789")
    assert "sk-canary-0123456789" not in repr(config)
    assert "sk-canary-0123456789" not in str(config.model_dump())


def test_auth_headers_are_secrets_and_hidden_from_repr() -> None:
    config = LiteLLMConfig.load(
        chat_model="m", extra_headers={"Authorization": "Bearer tok-123456"}
    )
    assert "tok-123456" in config.secret_values()  # the token: masking it keeps the scheme
    assert "tok-123456" not in repr(config)


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("Bearer tok-123456", "tok-123456"),
        ("Bearer  tok-123456 ", "tok-123456"),
        ("Bearer\ttok-123456", "tok-123456"),  # any whitespace after the scheme
        (" Bearer tok-123456", "tok-123456"),
        ("tok-123456", "tok-123456"),  # no scheme: the whole value
        ("Bearer abc", "Bearer abc"),  # a token too short to mask alone: the whole value
        ("sess=tok-123456; x=1", "sess=tok-123456; x=1"),  # not a scheme: the whole value
    ],
)
def test_an_auth_headers_secret_is_its_token_or_else_its_whole_value(
    value: str, secret: str
) -> None:
    assert header_secrets({"Authorization": value}) == (secret,)


def test_a_key_header_is_masked_whole_and_by_its_token() -> None:
    secrets = header_secrets({"X-Api-Key": "Bearer tok-123456"})
    assert secrets == ("Bearer tok-123456", "tok-123456")


@pytest.mark.parametrize(
    "header", ["Authorization", "api-key", "X-Api-Key", "Proxy-Authorization", "Cookie"]
)
def test_auth_headers_are_masked_in_dumps_like_the_api_key(header: str) -> None:
    config = LiteLLMConfig.load(
        chat_model="m", extra_headers={header: "tok-123456", "X-Trace": "t"}
    )
    assert config.model_dump()["extra_headers"] == {header: "**********", "X-Trace": "t"}
    assert "tok-123456" not in config.model_dump_json()
    assert "tok-123456" not in repr(config) + str(config)


def test_masked_auth_header_is_still_sent() -> None:
    config = LiteLLMConfig.load(
        chat_model="m", extra_headers={"Authorization": "Bearer tok-123456"}
    )
    llm = LiteLLM(config)
    request = llm.build_request([{"role": "user", "content": "Hi"}])
    assert llm.completion_kwargs(request)["extra_headers"] == {"Authorization": "Bearer tok-123456"}


def test_empty_api_key_env_is_treated_as_unset(llm_env: Callable[..., None]) -> None:
    llm_env(LITELLM_CHAT_MODEL="m", LITELLM_API_KEY="")
    assert LiteLLMConfig.load().api_key is None


def test_drop_params_defaults_on_and_is_configurable(llm_env: Callable[..., None]) -> None:
    assert LiteLLMConfig.load(chat_model="m").drop_params is True
    llm_env(LITELLM_DROP_PARAMS="false")
    assert LiteLLMConfig.load(chat_model="m").drop_params is False


# --- retry policy --------------------------------------------------------------------------


def error(kind: ErrorKind, retry_after: float | None = None) -> LLMError:
    return LLMError(kind=kind, message="x", retryable=kind.retryable, retry_after=retry_after)


def test_default_policy_retries_transient_kinds_only() -> None:
    policy = RetryPolicy(jitter=False)
    for kind in (ErrorKind.RATE_LIMIT, ErrorKind.SERVER, ErrorKind.TIMEOUT, ErrorKind.CONNECTION):
        assert policy.next_delay(error(kind), attempt=1, elapsed=0) is not None
    for kind in (
        ErrorKind.AUTH,
        ErrorKind.PERMISSION,
        ErrorKind.INVALID_REQUEST,
        ErrorKind.CONTEXT_LENGTH,
        ErrorKind.CONTENT_FILTER,
        ErrorKind.QUOTA,
    ):
        assert policy.next_delay(error(kind), attempt=1, elapsed=0) is None


def test_backoff_is_exponential_and_capped() -> None:
    policy = RetryPolicy(initial_backoff=1, multiplier=2, max_backoff=5, jitter=False)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]


def test_retry_after_wins_over_backoff() -> None:
    policy = RetryPolicy(initial_backoff=0.1, jitter=False)
    assert policy.next_delay(error(ErrorKind.RATE_LIMIT, 3.0), attempt=1, elapsed=0) == 3.0


def test_no_retry_past_deadline_or_attempts() -> None:
    policy = RetryPolicy(max_attempts=2, deadline=10, jitter=False)
    assert policy.next_delay(error(ErrorKind.SERVER), attempt=2, elapsed=0) is None
    assert policy.next_delay(error(ErrorKind.RATE_LIMIT, 20.0), attempt=1, elapsed=0) is None


def test_jitter_stays_within_backoff() -> None:
    policy = RetryPolicy(initial_backoff=1.0)
    delays = [policy.next_delay(error(ErrorKind.SERVER), attempt=1, elapsed=0) for _ in range(50)]
    assert all(d is not None and 0 <= d <= 1.0 for d in delays)


@given(st.text(alphabet=" \t\n\r", min_size=1, max_size=5))
def test_a_blank_required_setting_is_not_set(blank: str) -> None:
    with pytest.raises(ConfigurationError, match=r"chat_model is not set: .*LITELLM_CHAT_MODEL"):
        LiteLLMConfig.load(chat_model=blank)
