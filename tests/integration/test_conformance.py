"""One conformance suite, run against the local gateway by every built-in HTTP provider.

Both `LiteLLM` (through the real litellm) and `OpenAICompatible` (direct HTTP) must
give the same `LLMResponse` for the same backend behaviour, sync and async.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llmport import BaseLLM, ErrorKind, LiteLLM, LLMResponse, OpenAICompatible, RetryPolicy
from llmport.testing import LocalGateway

pytestmark = pytest.mark.integration

KEY = "sk-conformance-0123456789"
USER = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
Make = Callable[..., BaseLLM]


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway(api_key=KEY) as running:
        yield running


@pytest.fixture(params=["litellm", "openai_compatible"])
def make(request: pytest.FixtureRequest, gateway: LocalGateway) -> Make:
    def build(model: str, **settings: Any) -> BaseLLM:
        settings.setdefault("retry", RetryPolicy.never())
        settings.setdefault("api_key", KEY)
        if request.param == "litellm":
            return LiteLLM(chat_model=f"openai/{model}", api_base=gateway.base_url, **settings)
        return OpenAICompatible(chat_model=model, base_url=gateway.base_url, **settings)

    return build


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest) -> Callable[..., LLMResponse]:
    def run(llm: BaseLLM, **kwargs: Any) -> LLMResponse:
        if request.param == "sync":
            return llm.chat_completions(USER, **kwargs)
        import asyncio

        return asyncio.run(llm.achat_completions(USER, **kwargs))

    return run


def test_text(make: Make, call: Callable[..., LLMResponse]) -> None:
    response = call(make("fixed"))
    assert response.ok
    assert response.content == "Hello from the llmport local gateway."
    assert response.finish_reason == "stop"
    assert response.usage.prompt_tokens == 7


def test_tool_call(make: Make, call: Callable[..., LLMResponse]) -> None:
    response = call(make("tool-call"), tools=WEATHER)
    assert response.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]


def test_malformed_tool_arguments(make: Make, call: Callable[..., LLMResponse]) -> None:
    tool_call = call(make("malformed-tool-call"), tools=WEATHER).tool_calls[0]
    assert tool_call.arguments == {}
    assert tool_call.raw_arguments == '{"city": "Par'
    assert tool_call.arguments_error is not None


def test_usage_absent_is_unknown(make: Make, call: Callable[..., LLMResponse]) -> None:
    response = call(make("no-usage"))
    assert response.ok
    assert response.usage.prompt_tokens is None
    assert response.usage.total_tokens is None


@pytest.mark.parametrize(
    ("model", "kind", "status", "retry_after"),
    [
        ("error-401", ErrorKind.AUTH, 401, None),
        ("error-429-retry-3", ErrorKind.RATE_LIMIT, 429, 3.0),
        ("error-500", ErrorKind.SERVER, 500, None),
        ("html-502", ErrorKind.SERVER, 502, None),
    ],
)
def test_error_statuses(
    make: Make,
    call: Callable[..., LLMResponse],
    model: str,
    kind: ErrorKind,
    status: int,
    retry_after: float | None,
) -> None:
    response = call(make(model))
    assert response.error is not None
    assert (response.error.kind, response.error.status_code) == (kind, status)
    assert response.error.retry_after == retry_after
    assert "<html" not in response.error.message.lower()
    assert KEY not in response.error.message


def test_truncated_json(make: Make, call: Callable[..., LLMResponse]) -> None:
    response = call(make("truncated-json"))
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE


def test_timeout(make: Make, call: Callable[..., LLMResponse]) -> None:
    response = call(make("slow-3000", timeout=0.3))
    assert response.error is not None
    assert response.error.kind is ErrorKind.TIMEOUT
