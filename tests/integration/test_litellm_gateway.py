"""The real LiteLLM provider, the real litellm and HTTP stack, against the local gateway."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from llmport import ErrorKind, LiteLLM, LLMResponseStatus, RetryPolicy
from llmport.testing import LocalGateway

pytestmark = pytest.mark.integration

USER = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
KEY = "sk-gateway-canary-0123456789"


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway(api_key=KEY) as running:
        yield running


def make(gateway: LocalGateway, model: str, **settings: Any) -> LiteLLM:
    settings.setdefault("retry", RetryPolicy.never())
    return LiteLLM(chat_model=f"openai/{model}", api_base=gateway.base_url, api_key=KEY, **settings)


def test_plain_completion(gateway: LocalGateway) -> None:
    response = make(gateway, "fixed").chat_completions(USER)
    assert response.status is LLMResponseStatus.SUCCESS
    assert response.content == "Hello from the llmport local gateway."
    assert response.usage.prompt_tokens == 7
    assert response.usage.total_tokens == (response.usage.completion_tokens or 0) + 7
    assert response.provider == "litellm"
    assert response.latency_ms > 0


def test_tool_call_works_on_a_plain_install(gateway: LocalGateway) -> None:
    """litellm imports `mcp` for tools= calls; llmport depends on litellm[mcp]>=1.101."""
    response = make(gateway, "tool-call").chat_completions(USER, tools=WEATHER)
    assert response.status is LLMResponseStatus.SUCCESS, response.error
    assert response.finish_reason == "tool_calls"
    call = response.tool_calls[0]
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})
    assert call.id


def test_settings_reach_the_backend(gateway: LocalGateway) -> None:
    gateway.clear()
    make(gateway, "echo", temperature=0.25, top_p=0.5, max_tokens=33, seed=3).chat_completions(
        USER, stop=["STOP"], response_format={"type": "json_object"}, tools=WEATHER,
        tool_choice="auto", presence_penalty=0.1,
    )  # fmt: skip
    body = gateway.requests[-1].body
    assert body is not None
    assert body["model"] == "echo"
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (
        0.25,
        0.5,
        33,
        3,
    )
    assert body["stop"] == ["STOP"]
    assert body["response_format"] == {"type": "json_object"}
    assert body["tool_choice"] == "auto"
    assert body["presence_penalty"] == 0.1
    assert gateway.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_malformed_tool_arguments_do_not_raise(gateway: LocalGateway) -> None:
    response = make(gateway, "malformed-tool-call").chat_completions(USER, tools=WEATHER)
    call = response.tool_calls[0]
    assert call.arguments == {}
    assert call.arguments_error is not None
    assert "truncated" in call.arguments_error


@pytest.mark.parametrize(
    ("model", "kind", "status"),
    [
        ("error-400", ErrorKind.INVALID_REQUEST, 400),
        ("error-400-context", ErrorKind.CONTEXT_LENGTH, 400),
        ("error-401", ErrorKind.AUTH, 401),
        ("error-403", ErrorKind.PERMISSION, 403),
        ("error-404", ErrorKind.NOT_FOUND, 404),
        ("error-429", ErrorKind.RATE_LIMIT, 429),
        ("error-429-quota", ErrorKind.QUOTA, 429),
        ("error-500", ErrorKind.SERVER, 500),
        ("error-503", ErrorKind.SERVER, 503),
        ("html-502", ErrorKind.SERVER, 502),
    ],
)
def test_error_statuses_map_to_kinds(
    gateway: LocalGateway, model: str, kind: ErrorKind, status: int
) -> None:
    response = make(gateway, model).chat_completions(USER)
    assert response.status is LLMResponseStatus.ERROR
    assert response.error is not None
    assert response.error.kind is kind
    assert response.error.status_code == status
    assert "<html" not in response.error.message.lower()


def test_rate_limit_carries_retry_after(gateway: LocalGateway) -> None:
    response = make(gateway, "error-429-retry-3").chat_completions(USER)
    assert response.error is not None
    assert response.error.retry_after == 3.0
    assert response.error.retryable


def test_wrong_key_is_auth_and_never_leaks(
    gateway: LocalGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="llmport")
    wrong = "sk-wrong-canary-9876543210"
    llm = LiteLLM(
        chat_model="openai/fixed",
        api_base=gateway.base_url,
        api_key=wrong,
        retry=RetryPolicy.never(),
    )
    response = llm.chat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.AUTH
    assert wrong not in response.error.message
    assert wrong not in repr(response)
    assert all(wrong not in r.getMessage() for r in caplog.records)


def test_truncated_json_is_bad_response_or_connection(gateway: LocalGateway) -> None:
    response = make(gateway, "truncated-json").chat_completions(USER)
    assert response.error is not None
    assert response.error.kind in (ErrorKind.BAD_RESPONSE, ErrorKind.SERVER)


def test_error_inside_200_body(gateway: LocalGateway) -> None:
    response = make(gateway, "error-in-200").chat_completions(USER)
    assert response.status is LLMResponseStatus.ERROR


def test_timeout_is_timeout(gateway: LocalGateway) -> None:
    response = make(gateway, "slow-3000", timeout=0.3).chat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.TIMEOUT


def test_usage_null_is_unknown_not_zero(gateway: LocalGateway) -> None:
    response = make(gateway, "usage-null").chat_completions(USER)
    assert response.ok
    assert response.usage.prompt_tokens in (None, 0)


def test_flaky_backend_is_retried_to_success(gateway: LocalGateway) -> None:
    gateway.clear()
    llm = make(gateway, "flaky-2-503", retry=RetryPolicy(initial_backoff=0.01, max_attempts=3))
    response = llm.chat_completions(USER)
    assert response.ok, response.error
    assert response.attempts == 3


async def test_async_plain_and_tool_call(gateway: LocalGateway) -> None:
    llm = make(gateway, "tool-call")
    response = await llm.achat_completions(USER, tools=WEATHER)
    assert response.tool_calls[0].arguments == {"city": "Paris"}
    text = await make(gateway, "echo").achat_completions([{"role": "user", "content": "ping"}])
    assert text.content == "ping"


async def test_async_error_maps_like_sync(gateway: LocalGateway) -> None:
    response = await make(gateway, "error-429").achat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.RATE_LIMIT
