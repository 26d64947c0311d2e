"""Both llmport providers against a real LiteLLM proxy (`litellm[proxy]`) on 127.0.0.1.

The proxy runs tests/integration/proxy/config.yaml once for the module (it takes tens of
seconds to start): `mock-text` is answered by the proxy, `gateway/<model>` is forwarded
to a LocalGateway. A second proxy, without the custom auth hook, pins what a proxy with
no database answers to a bad key. Without `litellm[proxy]` the module is skipped, unless
LLMPORT_REQUIRE_INTEGRATION=1 (the `integration` nox session) makes that a failure.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from llmport import ErrorKind, LiteLLM, OpenAICompatible, RetryPolicy
from llmport.base import BaseLLM
from llmport.streaming import TextDelta
from llmport.testing import LocalGateway

sys.path.insert(0, str(Path(__file__).resolve().parent / "proxy"))
from proxy_harness import ProxyProcess, start_proxy


def _missing_proxy_packages() -> list[str]:
    """Distributions of litellm's `proxy` extra that are not installed."""
    try:
        requirements = importlib.metadata.requires("litellm") or []
    except importlib.metadata.PackageNotFoundError:
        return ["litellm"]
    missing = []
    for line in requirements:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or not marker.evaluate({"extra": "proxy"}) or marker.evaluate():
            continue
        try:
            importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(requirement.name)
    return missing


_MISSING = _missing_proxy_packages()
if _MISSING:
    _NAMES = ", ".join(_MISSING[:4]) + (", ..." if len(_MISSING) > 4 else "")
    _REASON = f"litellm[proxy] is not installed (no {_NAMES}): run nox -s integration"
    if os.environ.get("LLMPORT_REQUIRE_INTEGRATION") == "1":
        pytest.fail(_REASON, pytrace=False)
    pytest.skip(_REASON, allow_module_level=True)

pytestmark = pytest.mark.integration

PROXY_KEY = "sk-llmport-proxy-0123456789"
GATEWAY_KEY = "sk-llmport-gateway-0123456789"
STARTUP_TIMEOUT = float(os.environ.get("LLMPORT_PROXY_STARTUP_TIMEOUT", "120"))
MOCK_TEXT = "Hello from the LiteLLM proxy."
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
    with LocalGateway(api_key=GATEWAY_KEY) as running:
        yield running


@pytest.fixture(scope="module")
def proxies(
    gateway: LocalGateway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ProxyProcess]]:
    """Both proxies, started side by side; stopped by process id at the end."""
    workdir = tmp_path_factory.mktemp("litellm-proxy")
    settings: dict[str, Any] = {
        "gateway_url": gateway.base_url,
        "gateway_key": GATEWAY_KEY,
        "proxy_key": PROXY_KEY,
        "workdir": workdir,
    }
    started: dict[str, ProxyProcess] = {}
    try:
        started["custom_auth"] = start_proxy(**settings)
        started["bare"] = start_proxy(**settings, custom_auth=False)
        for running in started.values():
            running.wait_ready(STARTUP_TIMEOUT)
        yield started
    finally:
        for running in started.values():
            running.stop()


def _watched(request: pytest.FixtureRequest, running: ProxyProcess) -> Iterator[str]:
    """Yield the proxy's base URL; print its log tail if the test failed."""
    failed = request.session.testsfailed
    yield running.base_url
    if request.session.testsfailed > failed:
        print(f"--- LiteLLM proxy log ({running.log_path}) ---\n{running.log_tail()}")


@pytest.fixture
def proxy(proxies: dict[str, ProxyProcess], request: pytest.FixtureRequest) -> Iterator[str]:
    """The base URL of the proxy with custom auth."""
    yield from _watched(request, proxies["custom_auth"])


@pytest.fixture
def bare_proxy(proxies: dict[str, ProxyProcess], request: pytest.FixtureRequest) -> Iterator[str]:
    """The base URL of the proxy without custom auth."""
    yield from _watched(request, proxies["bare"])


@pytest.fixture(autouse=True)
def _fresh_gateway(gateway: LocalGateway) -> None:
    gateway.clear()  # request counts and flaky-* counters start at zero in every test


def via_openai_compatible(base_url: str, model: str, **settings: Any) -> BaseLLM:
    settings.setdefault("api_key", PROXY_KEY)
    settings.setdefault("retry", RetryPolicy.never())
    return OpenAICompatible(base_url=base_url, chat_model=model, **settings)


def via_litellm(base_url: str, model: str, **settings: Any) -> BaseLLM:
    settings.setdefault("api_key", PROXY_KEY)
    settings.setdefault("retry", RetryPolicy.never())
    return LiteLLM(api_base=base_url, chat_model=f"openai/{model}", **settings)


BOTH = pytest.mark.parametrize("make", [via_openai_compatible, via_litellm], ids=["oac", "litellm"])


def posts(gateway: LocalGateway, model: str) -> int:
    """Chat completions the gateway received for `model`."""
    return sum(1 for r in gateway.requests if r.body is not None and r.body.get("model") == model)


def quick_retries(attempts: int) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, initial_backoff=0.01, jitter=False)


@BOTH
def test_text_and_usage(proxy: str, make: Make) -> None:
    response = make(proxy, "mock-text").chat_completions(USER)
    assert response.ok, response.error
    assert response.content == MOCK_TEXT
    assert response.finish_reason == "stop"
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (10, 20, 30)


@BOTH
def test_tool_call_through_the_proxy(proxy: str, make: Make, gateway: LocalGateway) -> None:
    response = make(proxy, "gateway/tool-call").chat_completions(USER, tools=WEATHER)
    assert response.ok, response.error
    assert response.finish_reason == "tool_calls"
    call = response.tool_calls[0]
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})
    body = gateway.requests[-1].body
    assert body is not None
    assert body["tools"][0]["function"]["name"] == "get_weather"


@BOTH
def test_stream_through_the_proxy(proxy: str, make: Make) -> None:
    with make(proxy, "gateway/chunks-5").stream(USER) as stream:
        texts = [event.text for event in stream if isinstance(event, TextDelta)]
    assert "".join(texts) == "tok0 tok1 tok2 tok3 tok4 "
    assert len(texts) >= 5
    response = stream.response
    assert response.ok, response.error
    assert response.content == "tok0 tok1 tok2 tok3 tok4 "
    assert response.usage.completion_tokens == 5


@BOTH
async def test_async_call_and_stream(proxy: str, make: Make) -> None:
    response = await make(proxy, "mock-text").achat_completions(USER)
    assert response.content == MOCK_TEXT
    async with make(proxy, "gateway/chunks-5").astream(USER) as stream:
        texts = [event.text async for event in stream if isinstance(event, TextDelta)]
    assert "".join(texts) == "tok0 tok1 tok2 tok3 tok4 "
    assert stream.response.usage.completion_tokens == 5


@BOTH
def test_429_is_rate_limit(proxy: str, make: Make) -> None:
    response = make(proxy, "rate-limited").chat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.RATE_LIMIT
    assert response.error.status_code == 429
    assert response.error.retryable


@BOTH
def test_retry_after_of_a_429_is_honoured(
    proxy: str, make: Make, gateway: LocalGateway, mocker: Any
) -> None:
    llm = make(proxy, "rate-limited", retry=quick_retries(2))
    sleep = mocker.patch.object(llm, "_sleep")
    response = llm.chat_completions(USER)
    assert response.error is not None
    assert response.error.retry_after == 2.0
    sleep.assert_called_once_with(2.0)
    assert (response.attempts, posts(gateway, "error-429-retry-2")) == (2, 2)


@BOTH
def test_500_is_server_and_only_llmport_retries(
    proxy: str, make: Make, gateway: LocalGateway, mocker: Any
) -> None:
    llm = make(proxy, "failing", retry=quick_retries(3))
    mocker.patch.object(llm, "_sleep")
    response = llm.chat_completions(USER)
    assert response.error is not None
    assert (response.error.kind, response.error.status_code) == (ErrorKind.SERVER, 500)
    # Three attempts, three upstream calls: neither the proxy nor litellm retried on its own.
    assert (response.attempts, posts(gateway, "error-500")) == (3, 3)


@BOTH
def test_a_flaky_upstream_recovers_on_llmport_retry(
    proxy: str, make: Make, gateway: LocalGateway, mocker: Any
) -> None:
    llm = make(proxy, "gateway/flaky-1-503", retry=quick_retries(3))
    mocker.patch.object(llm, "_sleep")
    response = llm.chat_completions(USER)
    assert response.ok, response.error
    assert (response.attempts, posts(gateway, "flaky-1-503")) == (2, 2)


@BOTH
def test_wrong_key_is_auth_and_not_retried(proxy: str, make: Make) -> None:
    wrong = "sk-wrong-proxy-key-0000000"
    llm = make(proxy, "mock-text", api_key=wrong, retry=quick_retries(3))
    response = llm.chat_completions(USER)
    assert response.error is not None
    assert (response.error.kind, response.error.status_code) == (ErrorKind.AUTH, 401)
    assert response.attempts == 1
    assert wrong not in response.error.message


def test_missing_key_is_auth(proxy: str) -> None:
    llm = via_openai_compatible(proxy, "mock-text", api_key=None)
    response = llm.chat_completions(USER)
    assert response.error is not None
    assert (response.error.kind, response.error.status_code) == (ErrorKind.AUTH, 401)


def test_without_custom_auth_a_wrong_key_is_a_400(bare_proxy: str) -> None:
    """What a proxy with a master key but no database and no custom auth answers."""
    llm = via_openai_compatible(bare_proxy, "mock-text", api_key="sk-wrong-proxy-key-0000000")
    response = llm.chat_completions(USER)
    assert response.error is not None
    assert (response.error.kind, response.error.status_code) == (ErrorKind.INVALID_REQUEST, 400)
    assert "No connected db" in response.error.message


def test_without_custom_auth_a_missing_key_is_a_plain_text_500(bare_proxy: str) -> None:
    llm = via_openai_compatible(bare_proxy, "mock-text", api_key=None)
    response = llm.chat_completions(USER)
    assert response.error is not None
    assert (response.error.kind, response.error.status_code) == (ErrorKind.SERVER, 500)


def test_the_master_key_works_without_custom_auth(bare_proxy: str) -> None:
    response = via_openai_compatible(bare_proxy, "mock-text").chat_completions(USER)
    assert response.content == MOCK_TEXT


def test_the_proxies_never_left_loopback(proxies: dict[str, ProxyProcess]) -> None:
    for running in proxies.values():
        assert running.network_violations() == []
