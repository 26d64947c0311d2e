"""OpenAI-compatible provider: configuration, the HTTP request, error mapping, pooling."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llmport import AuthenticationError, ConfigurationError, ErrorKind, LLMResponse, RetryPolicy
from llmport.providers.openai_compatible import OpenAICompatible, OpenAICompatibleConfig
from llmport.testing import LocalGateway

USER = [{"role": "user", "content": "hi"}]
WEATHER = {
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
CANARY = "sk-canary-4f1d2c3b9a8e7d6c"
integration = pytest.mark.integration


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway(api_key=None) as gw:
        yield gw


@pytest.fixture
def make_llm(gateway: LocalGateway) -> Iterator[Callable[..., OpenAICompatible]]:
    """Build providers against the gateway that fail fast, and close them afterwards."""
    built: list[OpenAICompatible] = []

    def make(model: str = "fixed", **settings: Any) -> OpenAICompatible:
        settings.setdefault("retry", RetryPolicy.never())
        llm = OpenAICompatible(base_url=gateway.base_url, chat_model=model, **settings)
        built.append(llm)
        return llm

    yield make
    for llm in built:
        llm.close()


# --- configuration ----------------------------------------------------------------------


def test_config_reads_openai_compatible_env_vars(llm_env: Callable[..., None]) -> None:
    llm_env(
        OPENAI_COMPATIBLE_BASE_URL="http://127.0.0.1:8000/v1/",
        OPENAI_COMPATIBLE_CHAT_MODEL="qwen",
        OPENAI_COMPATIBLE_API_KEY="sk-env-123456",
        OPENAI_COMPATIBLE_MAX_CONNECTIONS="7",
        OPENAI_COMPATIBLE_EXTRA_HEADERS='{"X-Tenant": "t1"}',
    )
    config = OpenAICompatible().config
    assert config.base_url == "http://127.0.0.1:8000/v1"
    assert config.chat_model == "qwen"
    assert config.api_key is not None
    assert config.api_key.get_secret_value() == "sk-env-123456"
    assert config.max_connections == 7
    assert config.extra_headers == {"X-Tenant": "t1"}


def test_explicit_argument_beats_env(llm_env: Callable[..., None]) -> None:
    llm_env(OPENAI_COMPATIBLE_BASE_URL="http://env:1/v1", OPENAI_COMPATIBLE_CHAT_MODEL="env")
    llm = OpenAICompatible(base_url="https://arg:2/v1", chat_model="arg")
    assert (llm.config.base_url, llm.model) == ("https://arg:2/v1", "arg")


def test_missing_base_url_names_the_env_var(llm_env: Callable[..., None]) -> None:
    llm_env(OPENAI_COMPATIBLE_CHAT_MODEL="m")
    with pytest.raises(ConfigurationError, match="OPENAI_COMPATIBLE_BASE_URL"):
        OpenAICompatible()


def test_missing_model_names_the_env_var(llm_env: Callable[..., None]) -> None:
    llm_env(OPENAI_COMPATIBLE_BASE_URL="http://127.0.0.1:1/v1")
    with pytest.raises(ConfigurationError, match="OPENAI_COMPATIBLE_CHAT_MODEL"):
        OpenAICompatible()


def test_base_url_without_scheme_is_rejected(llm_env: Callable[..., None]) -> None:
    with pytest.raises(ConfigurationError, match=r"OPENAI_COMPATIBLE_BASE_URL.*http://"):
        OpenAICompatible(base_url="127.0.0.1:8000/v1", chat_model="m")


@pytest.mark.parametrize(
    ("base_url", "reason"),
    [
        ("http://", "must name a host"),
        ("https:///v1", "must name a host"),
        ("http://127.0.0.1:8000/v1/chat/completions", "must stop before /chat/completions"),
        ("http://127.0.0.1:8000/v1/chat/completions/", "must stop before /chat/completions"),
    ],
)
def test_a_base_url_no_request_could_reach_is_rejected(
    llm_env: Callable[..., None], base_url: str, reason: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"OPENAI_COMPATIBLE_BASE_URL.*{reason}"):
        OpenAICompatible(base_url=base_url, chat_model="m")


def test_explicit_config_object_is_accepted(llm_env: Callable[..., None]) -> None:
    config = OpenAICompatibleConfig(base_url="http://127.0.0.1:1/v1", chat_model="m")
    assert OpenAICompatible(config).config is config


def test_repr_shows_the_model_but_never_the_key() -> None:
    llm = OpenAICompatible(base_url="http://127.0.0.1:1/v1", chat_model="m", api_key=CANARY)
    assert repr(llm) == "OpenAICompatible(model='m')"
    assert CANARY not in repr(llm.config)


def test_unencodable_message_raises_a_value_error_naming_it() -> None:
    llm = OpenAICompatible(base_url="http://127.0.0.1:1/v1", chat_model="m")
    with pytest.raises(ValueError, match=r"messages\[0\] cannot be sent as JSON"):
        llm.chat_completions([{"role": "user", "content": "hi", "extra": object()}])


def test_importing_the_provider_imports_no_http_client() -> None:
    code = (
        "import sys, llmport.providers.openai_compatible\n"
        "print(sorted({'httpx', 'aiohttp', 'litellm', 'openai'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


# --- the request on the wire ------------------------------------------------------------


@integration
def test_text_completion(make_llm: Callable[..., OpenAICompatible]) -> None:
    response = make_llm("fixed").chat_completions(USER)
    assert response.status
    assert response.content
    assert response.finish_reason == "stop"
    assert response.provider == "openai_compatible"
    assert response.usage.is_known


@integration
def test_every_parameter_reaches_the_server(
    gateway: LocalGateway, make_llm: Callable[..., OpenAICompatible]
) -> None:
    llm = make_llm(temperature=0.2, top_p=0.9, max_tokens=32, seed=5, extra_params={"n": 1})
    llm.chat_completions(
        USER,
        tools=[WEATHER],
        stop=["END"],
        response_format={"type": "json_object"},
        tool_choice="auto",
        user="u-1",
    )
    assert gateway.requests[-1].body == {
        "model": "fixed",
        "messages": USER,
        "tools": [WEATHER],
        "tool_choice": "auto",
        "stop": ["END"],
        "response_format": {"type": "json_object"},
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 32,
        "seed": 5,
        "n": 1,
        "user": "u-1",
    }


@integration
def test_unset_options_are_not_sent(
    gateway: LocalGateway, make_llm: Callable[..., OpenAICompatible]
) -> None:
    make_llm().chat_completions(USER)
    assert gateway.requests[-1].body == {"model": "fixed", "messages": USER}
    assert gateway.requests[-1].headers["content-type"] == "application/json"


@integration
def test_authorization_is_sent_only_with_a_key(
    gateway: LocalGateway, make_llm: Callable[..., OpenAICompatible]
) -> None:
    make_llm().chat_completions(USER)
    assert "authorization" not in gateway.requests[-1].headers
    make_llm(api_key=CANARY, extra_headers={"X-Tenant": "t1"}).chat_completions(USER)
    headers = gateway.requests[-1].headers
    assert headers["authorization"] == f"Bearer {CANARY}"
    assert headers["x-tenant"] == "t1"


@integration
def test_tool_call_arguments_follow_the_schema(make_llm: Callable[..., OpenAICompatible]) -> None:
    response = make_llm("tool-call").chat_completions(USER, tools=[WEATHER])
    assert response.finish_reason == "tool_calls"
    [call] = response.tool_calls
    assert (call.name, call.arguments, call.arguments_error) == (
        "get_weather",
        {"city": "Paris"},
        None,
    )


@integration
def test_malformed_tool_arguments_are_kept_raw(make_llm: Callable[..., OpenAICompatible]) -> None:
    response = make_llm("malformed-tool-call").chat_completions(USER, tools=[WEATHER])
    assert response.status
    [call] = response.tool_calls
    assert call.arguments == {}
    assert call.raw_arguments
    assert call.arguments_error


@integration
@pytest.mark.parametrize("model", ["usage-null", "no-usage"])
def test_unreported_usage_stays_unknown(
    make_llm: Callable[..., OpenAICompatible], model: str
) -> None:
    response = make_llm(model).chat_completions(USER)
    assert response.status
    assert response.usage.prompt_tokens is None
    assert response.usage.completion_tokens is None


# --- failures ---------------------------------------------------------------------------

FAILURES = [
    pytest.param("reset", ErrorKind.CONNECTION, None, id="reset"),
    pytest.param("slow-2000", ErrorKind.TIMEOUT, None, id="slow"),
    pytest.param("stall", ErrorKind.TIMEOUT, None, id="stall"),
    pytest.param("html-502", ErrorKind.SERVER, 502, id="html-502"),
    pytest.param("truncated-json", ErrorKind.BAD_RESPONSE, None, id="truncated-json"),
    pytest.param("error-401", ErrorKind.AUTH, 401, id="401"),
    pytest.param("error-429", ErrorKind.RATE_LIMIT, 429, id="429"),
    pytest.param("error-500", ErrorKind.SERVER, 500, id="500"),
]


def _assert_failure(
    response: LLMResponse, kind: ErrorKind, status_code: int | None, model: str
) -> None:
    assert not response.status
    assert response.error is not None
    assert response.error.kind is kind, response.error.message
    assert response.error.status_code == status_code
    if model == "error-429":
        assert response.error.retry_after == 1.0
    if model == "html-502":
        assert "<" not in response.error.message  # summarised, never the raw page


@integration
@pytest.mark.parametrize(("model", "kind", "status_code"), FAILURES)
def test_failure_is_classified(
    make_llm: Callable[..., OpenAICompatible],
    model: str,
    kind: ErrorKind,
    status_code: int | None,
) -> None:
    response = make_llm(model, timeout=0.3).chat_completions(USER)
    _assert_failure(response, kind, status_code, model)


@integration
@pytest.mark.parametrize(("model", "kind", "status_code"), FAILURES)
async def test_async_failure_is_classified(
    make_llm: Callable[..., OpenAICompatible],
    model: str,
    kind: ErrorKind,
    status_code: int | None,
) -> None:
    async with make_llm(model, timeout=0.3) as llm:
        response = await llm.achat_completions(USER)
    _assert_failure(response, kind, status_code, model)


@integration
def test_invalid_json_message_states_the_size_not_the_body(
    make_llm: Callable[..., OpenAICompatible],
) -> None:
    response = make_llm("truncated-json").chat_completions(USER)
    assert response.error is not None
    assert response.error.message.startswith("bad_response: response body is not valid JSON (")
    assert response.error.message.endswith(" bytes)")


@integration
async def test_error_object_in_a_200_is_an_error(
    make_llm: Callable[..., OpenAICompatible],
) -> None:
    llm = make_llm("error-in-200")
    for response in (llm.chat_completions(USER), await llm.achat_completions(USER)):
        assert not response.status
        assert response.error is not None
    await llm.aclose()


@integration
async def test_per_call_timeout_overrides_the_config(
    make_llm: Callable[..., OpenAICompatible],
) -> None:
    async with make_llm("slow-2000", timeout=30) as llm:
        responses = [
            llm.chat_completions(USER, timeout=0.2),
            await llm.achat_completions(USER, timeout=0.2),
        ]
    for response in responses:
        assert response.error is not None
        assert response.error.kind is ErrorKind.TIMEOUT


@integration
def test_retries_reach_a_flaky_server(make_llm: Callable[..., OpenAICompatible]) -> None:
    retry = RetryPolicy(max_attempts=3, initial_backoff=0.01, jitter=False)
    response = make_llm("flaky-2-503", retry=retry).chat_completions(USER)
    assert response.status
    assert response.attempts == 3


@integration
def test_canary_key_never_reaches_errors_or_repr(
    make_llm: Callable[..., OpenAICompatible],
) -> None:
    llm = make_llm("error-401", api_key=CANARY)
    response = llm.chat_completions(USER)
    assert response.error is not None
    with pytest.raises(AuthenticationError) as raised:
        response.raise_for_status()
    for text in (response.error.message, str(raised.value), repr(response), repr(llm)):
        assert CANARY not in text


# --- connections and lifecycle ----------------------------------------------------------


@integration
def test_sequential_sync_calls_share_one_connection(
    gateway: LocalGateway, make_llm: Callable[..., OpenAICompatible]
) -> None:
    llm = make_llm()
    before = gateway.connections_opened
    for _ in range(20):
        assert llm.chat_completions(USER).status
    assert gateway.connections_opened - before == 1


@integration
async def test_concurrent_async_calls_reuse_their_connections(
    gateway: LocalGateway, make_llm: Callable[..., OpenAICompatible]
) -> None:
    async with make_llm() as llm:
        before = gateway.connections_opened
        for _ in range(5):
            responses = await asyncio.gather(*(llm.achat_completions(USER) for _ in range(8)))
            assert all(response.status for response in responses)
        assert gateway.connections_opened - before <= 8


@integration
async def test_max_connections_caps_the_async_pool(
    gateway: LocalGateway, make_llm: Callable[..., OpenAICompatible]
) -> None:
    async with make_llm(max_connections=2) as llm:
        before = gateway.connections_opened
        responses = await asyncio.gather(*(llm.achat_completions(USER) for _ in range(16)))
        assert all(response.status for response in responses)
        assert gateway.connections_opened - before <= 2


@integration
def test_close_then_call_reopens_the_pool(
    gateway: LocalGateway, make_llm: Callable[..., OpenAICompatible]
) -> None:
    before = gateway.connections_opened
    with make_llm() as llm:
        assert llm.chat_completions(USER).status
    assert llm.chat_completions(USER).status
    assert gateway.connections_opened - before == 2


@integration
async def test_aclose_then_call_reopens_the_session(
    gateway: LocalGateway, make_llm: Callable[..., OpenAICompatible]
) -> None:
    before = gateway.connections_opened
    async with make_llm() as llm:
        assert (await llm.achat_completions(USER)).status
    assert (await llm.achat_completions(USER)).status
    await llm.aclose()
    assert gateway.connections_opened - before == 2


@integration
def test_one_provider_serves_successive_event_loops(
    make_llm: Callable[..., OpenAICompatible],
) -> None:
    llm = make_llm()
    for _ in range(2):
        assert asyncio.run(llm.achat_completions(USER)).status


@integration
def test_calls_import_neither_litellm_nor_openai(gateway: LocalGateway) -> None:
    code = f"""
import asyncio, json, sys
from llmport.providers.openai_compatible import OpenAICompatible

llm = OpenAICompatible(base_url={gateway.base_url!r}, chat_model="fixed")
messages = [{{"role": "user", "content": "hi"}}]
statuses = [llm.chat_completions(messages).status.value]
statuses.append(asyncio.run(llm.achat_completions(messages)).status.value)
print(json.dumps([statuses, sorted({{"litellm", "openai"}} & set(sys.modules))]))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == [["success", "success"], []]
