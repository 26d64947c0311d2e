"""LiteLLMRouter: settings, the one retry layer, error mapping, and a real in-process Router."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmport import ConfigurationError, ErrorKind, RetryPolicy, get_llm, load_profiles
from llmport.providers import litellm_router as router_module
from llmport.providers.litellm import import_litellm
from llmport.providers.litellm_router import LiteLLMRouter, LiteLLMRouterConfig
from llmport.streaming import TextDelta
from llmport.testing import LocalGateway

USER = [{"role": "user", "content": "hi"}]
KEY = "sk-deployment-key-0123456789"
REDIS_VARIABLES = ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD")


@pytest.fixture(autouse=True)
def _no_shared_redis_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in REDIS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway() as running:
        yield running


@pytest.fixture
def fresh_gateway(gateway: LocalGateway) -> LocalGateway:
    gateway.clear()
    return gateway


def deployment(group: str, model: str, api_base: str = "http://127.0.0.1:9/v1") -> Any:
    params = {"model": f"openai/{model}", "api_base": api_base, "api_key": KEY}
    return {"model_name": group, "litellm_params": params}


def make(*deployments: Any, **settings: Any) -> LiteLLMRouter:
    settings.setdefault("retry", RetryPolicy.never())
    return LiteLLMRouter(model_list=list(deployments), **settings)


# --- settings ---------------------------------------------------------------------------


def test_settings_come_from_litellm_router_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    model_list = [deployment("chat", "fixed"), deployment("backup", "echo")]
    monkeypatch.setenv("LITELLM_ROUTER_MODEL_LIST", json.dumps(model_list))
    monkeypatch.setenv("LITELLM_ROUTER_ROUTING_STRATEGY", "usage-based-routing-v2")
    monkeypatch.setenv("LITELLM_ROUTER_FALLBACKS", '[{"chat": ["backup"]}]')
    monkeypatch.setenv("LITELLM_ROUTER_COOLDOWN_TIME", "12")
    monkeypatch.setenv("LITELLM_ROUTER_ALLOWED_FAILS", "2")
    kwargs = LiteLLMRouterConfig.load().router_kwargs()
    assert kwargs["model_list"] == model_list
    assert kwargs["routing_strategy"] == "usage-based-routing-v2"
    assert kwargs["fallbacks"] == [{"chat": ["backup"]}]
    assert (kwargs["cooldown_time"], kwargs["allowed_fails"]) == (12.0, 2)


def test_the_first_group_is_the_default_model() -> None:
    config = LiteLLMRouterConfig.load(model_list=[deployment("chat", "a"), deployment("b", "b")])
    assert config.chat_model == "chat"
    assert LiteLLMRouterConfig.load(model_list=[deployment("x", "a")], chat_model="y").chat_model


def test_without_redis_settings_the_state_stays_in_process() -> None:
    config = LiteLLMRouterConfig.load(model_list=[deployment("chat", "fixed")])
    assert not config.uses_redis
    assert not {"redis_url", "redis_host", "redis_port", "redis_password"} & set(
        config.router_kwargs()
    )


def test_redis_url_comes_from_the_shared_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://:pw-123456@127.0.0.1:6390/0")
    config = LiteLLMRouterConfig.load(model_list=[deployment("chat", "fixed")])
    assert config.router_kwargs()["redis_url"] == "redis://:pw-123456@127.0.0.1:6390/0"
    assert "pw-123456" not in repr(config)


def test_the_prefixed_redis_variable_beats_the_shared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://shared:6379")
    monkeypatch.setenv("LITELLM_ROUTER_REDIS_URL", "redis://own:6379")
    config = LiteLLMRouterConfig.load(model_list=[deployment("chat", "fixed")])
    assert config.router_kwargs()["redis_url"] == "redis://own:6379"


def test_redis_host_port_and_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "127.0.0.1")
    monkeypatch.setenv("REDIS_PASSWORD", "redis-secret-value")
    config = LiteLLMRouterConfig.load(model_list=[deployment("chat", "fixed")])
    kwargs = config.router_kwargs()
    assert (kwargs["redis_host"], kwargs["redis_port"]) == ("127.0.0.1", 6379)
    assert kwargs["redis_password"] == "redis-secret-value"
    assert "redis-secret-value" in config.secret_values()


def test_router_retries_are_off() -> None:
    config = LiteLLMRouterConfig.load(model_list=[deployment("chat", "fixed")])
    assert config.router_kwargs()["num_retries"] == 0


@pytest.mark.parametrize(
    "settings",
    [
        {"router_settings": {"num_retries": 2}},
        {"router_settings": {"retry_policy": {}}},
        {"model_list": [{"model_name": "c", "litellm_params": {"model": "m", "num_retries": 3}}]},
        {"model_list": [{"model_name": "c", "litellm_params": {"model": "m", "max_retries": 2}}]},
    ],
    ids=["router", "retry-policy", "deployment", "client"],
)
def test_a_second_retry_layer_is_refused(settings: dict[str, Any]) -> None:
    settings.setdefault("model_list", [deployment("chat", "fixed")])
    with pytest.raises(ConfigurationError, match="retry policy is the one retry layer"):
        LiteLLMRouterConfig.load(**settings)


def test_keys_belong_in_the_deployments() -> None:
    with pytest.raises(ConfigurationError, match="litellm_params"):
        LiteLLMRouterConfig.load(model_list=[deployment("chat", "fixed")], api_key="sk-abcdef")


def test_a_missing_model_list_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="LITELLM_ROUTER_MODEL_LIST"):
        LiteLLMRouter()


def test_a_deployment_without_params_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"model_list\[0\]"):
        LiteLLMRouterConfig.load(model_list=[{"model_name": "chat"}])


def test_an_unknown_routing_strategy_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="LITELLM_ROUTER_ROUTING_STRATEGY"):
        LiteLLMRouterConfig.load(model_list=[deployment("c", "f")], routing_strategy="fastest")


def test_deployment_keys_are_secrets() -> None:
    config = LiteLLMRouterConfig.load(model_list=[deployment("chat", "fixed")])
    assert KEY in config.secret_values()
    assert KEY not in repr(config)


def test_keys_read_from_the_environment_are_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POOL_KEY", "sk-from-the-environment-42")
    chat = {
        "model_name": "chat",
        "litellm_params": {"model": "m", "api_key": "os.environ/POOL_KEY"},
    }
    config = LiteLLMRouterConfig.load(model_list=[chat])
    assert "sk-from-the-environment-42" in config.secret_values()


def test_redis_without_its_package_names_the_extra(mocker: Any) -> None:
    mocker.patch.object(router_module, "_has_redis", return_value=False)
    llm = LiteLLMRouter(model_list=[deployment("chat", "fixed")], redis_url="redis://127.0.0.1:1")
    with pytest.raises(ConfigurationError, match=r"llmport\[router\]"):
        llm.chat_completions(USER)


def test_registered_as_litellm_router() -> None:
    llm = get_llm("litellm_router", model_list=[deployment("chat", "fixed")])
    assert isinstance(llm, LiteLLMRouter)


def test_a_profile_can_hold_the_model_list(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(
        '[profiles.pool]\nprovider = "litellm_router"\nrouting_strategy = "least-busy"\n'
        '[[profiles.pool.model_list]]\nmodel_name = "chat"\n'
        'litellm_params = { model = "openai/fixed", api_base = "http://127.0.0.1:9/v1" }\n'
    )
    llm = load_profiles(path).build("pool")
    assert isinstance(llm, LiteLLMRouter)
    assert (llm.model, llm.config.routing_strategy) == ("chat", "least-busy")


# --- error mapping ----------------------------------------------------------------------


def test_a_full_deployment_does_not_make_the_caller_wait_a_minute() -> None:
    import httpx

    litellm = import_litellm()
    llm = LiteLLMRouter(model_list=[deployment("chat", "fixed")])
    limit = httpx.Response(
        429, headers={"retry-after": "60"}, request=httpx.Request("POST", "http://127.0.0.1")
    )
    exc = litellm.RateLimitError(
        message="Deployment over defined rpm limit=2. current usage=3",
        llm_provider="",
        model="openai/fixed",
        response=limit,
    )
    error = llm._classify(exc)
    assert (error.kind, error.retry_after) == (ErrorKind.RATE_LIMIT, None)


# --- a real Router against the local gateway ----------------------------------------------


@pytest.mark.integration
def test_calls_a_model_group(gateway: LocalGateway) -> None:
    with make(deployment("chat", "fixed", gateway.base_url)) as llm:
        response = llm.chat_completions(USER)
        assert response.ok, response.error
        assert response.content == "Hello from the llmport local gateway."
        assert (response.provider, response.usage.completion_tokens) == ("litellm_router", 6)


@pytest.mark.integration
def test_tool_calls_pass_through(gateway: LocalGateway) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    with make(deployment("chat", "tool-call", gateway.base_url)) as llm:
        response = llm.chat_completions(USER, tools=tools)
        assert response.tool_calls[0].name == "get_weather"


@pytest.mark.integration
def test_a_fallback_runs_inside_one_attempt(fresh_gateway: LocalGateway) -> None:
    down = deployment("down", "error-500", fresh_gateway.base_url)
    up = deployment("up", "fixed", fresh_gateway.base_url)
    with make(down, up, fallbacks=[{"down": ["up"]}], retry=RetryPolicy(max_attempts=3)) as llm:
        response = llm.chat_completions(USER)
        assert response.ok, response.error
        assert response.attempts == 1
        models = [r.body["model"] for r in fresh_gateway.requests if r.body]
        assert models == ["error-500", "fixed"]


@pytest.mark.integration
def test_only_llmport_retries(fresh_gateway: LocalGateway, mocker: Any) -> None:
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.01)
    with make(deployment("chat", "flaky-1-500", fresh_gateway.base_url), retry=policy) as llm:
        sleep = mocker.patch.object(llm, "_sleep")
        response = llm.chat_completions(USER)
        assert response.ok, response.error
        assert (response.attempts, len(fresh_gateway.requests), sleep.call_count) == (2, 2, 1)


@pytest.mark.integration
def test_every_deployment_cooling_down_is_a_rate_limit_with_retry_after(
    fresh_gateway: LocalGateway, mocker: Any
) -> None:
    group = [deployment("chat", m, fresh_gateway.base_url) for m in ("error-500", "error-503")]
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.01, jitter=False)
    with make(*group, allowed_fails=0, cooldown_time=30, retry=policy) as llm:
        mocker.patch.object(llm, "_sleep")
        response = llm.chat_completions(USER)
        assert response.error is not None
        assert (response.error.kind, response.error.status_code) == (ErrorKind.RATE_LIMIT, 429)
        assert response.error.retry_after is not None
        assert 25 < response.error.retry_after <= 30
        assert len(fresh_gateway.requests) == 2  # each deployment once, then both cooling down


@pytest.mark.integration
def test_streams_through_the_router(gateway: LocalGateway) -> None:
    with make(deployment("chat", "chunks-3", gateway.base_url)) as llm:
        with llm.stream(USER) as stream:
            texts = [event.text for event in stream if isinstance(event, TextDelta)]
        assert "".join(texts) == "tok0 tok1 tok2 "
        assert stream.response.usage.completion_tokens == 3


@pytest.mark.integration
async def test_async_call_and_stream(gateway: LocalGateway) -> None:
    with make(deployment("chat", "chunks-3", gateway.base_url)) as llm:
        response = await llm.achat_completions(USER)
        assert response.content == "tok0 tok1 tok2 "
        async with llm.astream(USER) as stream:
            texts = [event.text async for event in stream if isinstance(event, TextDelta)]
        assert "".join(texts) == "tok0 tok1 tok2 "


@pytest.mark.integration
async def test_close_unhooks_the_routers_callbacks(gateway: LocalGateway) -> None:
    litellm = import_litellm()
    llm = LiteLLMRouter(
        model_list=[deployment("chat", "fixed", gateway.base_url)],
        routing_strategy="usage-based-routing-v2",
    )
    cache = llm.router.cache
    assert any(getattr(c, "router_cache", None) is cache for c in litellm.callbacks)
    llm.close()
    assert not any(getattr(c, "router_cache", None) is cache for c in litellm.callbacks)
