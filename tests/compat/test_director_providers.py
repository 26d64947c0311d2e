"""Director's names, configs, providers and `get_default_llm()` in `llmport.compat.director`."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

import llmport
from llmport import ErrorKind, LLMError, Usage
from llmport.compat import director
from llmport.compat.director import (
    AnthropicAI,
    AnthropicAIConfig,
    BaseLLM,
    BaseLLMConfig,
    EnvPrefix,
    GoogleAI,
    GoogleAIConfig,
    LiteLLM,
    LiteLLMConfig,
    LLMResponse,
    LLMResponseStatus,
    LLMType,
    OpenAI,
    OpenaiConfig,
    VideoDBProxy,
    VideoDBProxyConfig,
    get_default_llm,
)
from llmport.testing import LocalGateway

USER = [{"role": "user", "content": "hi"}]


# --- names ---------------------------------------------------------------------------------


def test_llm_type_has_directors_members_and_litellm() -> None:
    assert {member.name: member.value for member in LLMType} == {
        "OPENAI": "openai",
        "ANTHROPIC": "anthropic",
        "GOOGLEAI": "googleai",
        "VIDEODB_PROXY": "videodb_proxy",
        "LITELLM": "litellm",
    }
    assert LLMType("litellm") is LLMType.LITELLM
    assert isinstance(LLMType.LITELLM, str)


def test_env_prefix_has_directors_members_and_litellm() -> None:
    assert [member.value for member in EnvPrefix] == [
        "OPENAI_",
        "ANTHROPIC_",
        "GOOGLEAI_",
        "LITELLM_",
    ]
    assert EnvPrefix("LITELLM_") is EnvPrefix.LITELLM_
    assert isinstance(EnvPrefix.LITELLM_, str)


def test_status_values_are_booleans() -> None:
    assert LLMResponseStatus.SUCCESS is True
    assert LLMResponseStatus.ERROR is False


def test_response_defaults_to_an_empty_error() -> None:
    response = LLMResponse()
    assert (response.content, response.tool_calls, response.finish_reason) == ("", [], "")
    assert (response.send_tokens, response.recv_tokens, response.total_tokens) == (0, 0, 0)
    assert response.status == LLMResponseStatus.ERROR
    assert not response.status
    assert (response.error, response.usage) == (None, Usage())


def test_response_carries_llmports_error_and_usage_through_json() -> None:
    error = LLMError(kind=ErrorKind.RATE_LIMIT, message="rate_limit: slow down", retryable=True)
    response = LLMResponse(content="Error: rate_limit: slow down", error=error)
    restored = LLMResponse.model_validate_json(response.model_dump_json())
    assert restored.error == error
    assert restored.usage == Usage()


def test_response_is_a_mutable_pydantic_model_like_directors() -> None:
    response = LLMResponse(status=LLMResponseStatus.SUCCESS)
    response.content = "edited"
    assert response.model_dump()["content"] == "edited"
    assert response.status == LLMResponseStatus.SUCCESS


def test_base_llm_needs_only_chat_completions() -> None:
    class Echo(BaseLLM):
        def chat_completions(
            self, messages: Any, tools: Any = None, stop: Any = None, response_format: Any = None
        ) -> LLMResponse:
            return LLMResponse(content=messages[-1]["content"], status=True)

    llm = Echo(BaseLLMConfig(chat_model="echo", api_key="k", temperature=0.3))
    assert (llm.chat_model, llm.api_key, llm.temperature, llm.top_p) == ("echo", "k", 0.3, 1)
    assert (llm.max_tokens, llm.timeout, llm.enable_langfuse, llm.llm_type) == (
        4096,
        120,
        False,
        "",
    )
    assert llm.chat_completions(USER).content == "hi"
    with pytest.raises(TypeError, match="abstract"):
        BaseLLM(BaseLLMConfig())  # type: ignore[abstract]


def test_compat_is_not_part_of_the_public_api_and_not_imported_by_llmport() -> None:
    exported = [getattr(llmport, name) for name in llmport.__all__ if name != "__version__"]
    assert not [obj for obj in exported if obj.__module__.startswith("llmport.compat")]
    code = (
        "import sys, llmport; llmport.get_default_llm\n"
        "print(any(m.startswith('llmport.compat') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def test_importing_the_compat_module_does_not_import_litellm() -> None:
    code = "import sys, llmport.compat.director; print('litellm' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


# --- configs: prefixes, default models, key checks -----------------------------------------


@pytest.mark.parametrize(
    ("config_class", "variable", "llm_type", "model"),
    [
        (OpenaiConfig, "OPENAI_API_KEY", "openai", "gpt-4o-2024-11-20"),
        (AnthropicAIConfig, "ANTHROPIC_API_KEY", "anthropic", "claude-3-5-sonnet-20240620"),
        (GoogleAIConfig, "GOOGLEAI_API_KEY", "googleai", "gemini-1.5-pro-002"),
        (VideoDBProxyConfig, "VIDEO_DB_API_KEY", "videodb_proxy", "gpt-4o-2024-11-20"),
    ],
)
def test_config_reads_its_key_and_has_directors_defaults(
    config_class: type[BaseLLMConfig],
    variable: str,
    llm_type: str,
    model: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(variable, "sk-from-env")
    config = config_class()
    assert (config.api_key, config.llm_type, config.chat_model) == ("sk-from-env", llm_type, model)


@pytest.mark.parametrize(
    ("config_class", "variable"),
    [
        (OpenaiConfig, "OPENAI_API_KEY"),
        (AnthropicAIConfig, "ANTHROPIC_API_KEY"),
        (GoogleAIConfig, "GOOGLEAI_API_KEY"),
        (VideoDBProxyConfig, "VIDEO_DB_API_KEY"),
    ],
)
def test_missing_key_names_the_right_variable(
    config_class: type[BaseLLMConfig], variable: str
) -> None:
    with pytest.raises(ValidationError, match=f"Please set {variable} environment variable") as err:
        config_class()
    assert isinstance(err.value, ValueError)


def test_provider_without_config_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    monkeypatch.setenv("ANTHROPIC_CHAT_MODEL", "claude-3-haiku-20240307")
    llm = AnthropicAI()
    assert (llm.api_key, llm.chat_model) == ("sk-ant-env", "claude-3-haiku-20240307")


def test_default_api_bases_are_directors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OpenaiConfig(api_key="k").api_base == "https://api.openai.com/v1"
    assert AnthropicAIConfig(api_key="k").api_base == ""
    google = "https://generativelanguage.googleapis.com/v1beta/openai/"
    assert GoogleAIConfig(api_key="k").api_base == google
    assert VideoDBProxyConfig(api_key="k").api_base == "https://api.videodb.io"
    monkeypatch.setenv("VIDEO_DB_BASE_URL", "http://127.0.0.1:9000")
    assert VideoDBProxyConfig(api_key="k").api_base == "http://127.0.0.1:9000"


@pytest.mark.parametrize("base_url", ["api.videodb.io", "ftp://api.videodb.io"])
def test_a_videodb_base_url_without_http_names_video_db_base_url(
    monkeypatch: pytest.MonkeyPatch, base_url: str
) -> None:
    monkeypatch.setenv("VIDEO_DB_API_KEY", "k")
    monkeypatch.setenv("VIDEO_DB_BASE_URL", base_url)
    with pytest.raises(llmport.ConfigurationError) as raised:
        VideoDBProxy()
    assert "VIDEO_DB_BASE_URL" in str(raised.value)
    assert "OPENAI_COMPATIBLE" not in str(raised.value)


def test_empty_chat_model_is_a_configuration_error_naming_the_variable() -> None:
    with pytest.raises(llmport.ConfigurationError, match="OPENAI_CHAT_MODEL"):
        OpenAI(OpenaiConfig(api_key="k", chat_model=""))


@pytest.mark.parametrize(
    ("setting", "value"),
    [("temperature", 3.0), ("top_p", 2.0), ("max_tokens", 0), ("timeout", 0)],
)
def test_a_setting_llmport_rejects_fails_at_construction_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, setting: str, value: float
) -> None:
    monkeypatch.setenv(f"LITELLM_{setting.upper()}", str(value))
    with pytest.raises(llmport.ConfigurationError, match=f"LITELLM_{setting.upper()}"):
        LiteLLM()


def test_a_config_with_directors_enum_prefix_names_the_plain_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Director's configs write env_prefix=EnvPrefix.OPENAI_ (the member, not its value).
    class AppConfig(LiteLLMConfig):
        model_config = SettingsConfigDict(env_prefix=EnvPrefix.OPENAI_, extra="ignore")

    class AppLLM(LiteLLM):
        config_class = AppConfig

    monkeypatch.setenv("OPENAI_TEMPERATURE", "5")
    with pytest.raises(llmport.ConfigurationError) as raised:
        AppLLM()
    assert "set OPENAI_TEMPERATURE or" in str(raised.value)


def test_a_sampling_setting_a_provider_does_not_send_is_not_checked() -> None:
    # AnthropicAI sends max_tokens only, as Director's does.
    llm = AnthropicAI(AnthropicAIConfig(api_key="sk-a", temperature=3.0))
    assert llm.temperature == 3.0


# --- providers: the litellm model string and what is sent ----------------------------------


@pytest.mark.parametrize(
    ("provider", "config", "model", "api_base"),
    [
        (
            OpenAI,
            OpenaiConfig(api_key="sk-o"),
            "openai/gpt-4o-2024-11-20",
            "https://api.openai.com/v1",
        ),
        (
            AnthropicAI,
            AnthropicAIConfig(api_key="sk-a"),
            "anthropic/claude-3-5-sonnet-20240620",
            None,
        ),
        (
            GoogleAI,
            GoogleAIConfig(api_key="sk-g"),
            "openai/gemini-1.5-pro-002",
            "https://generativelanguage.googleapis.com/v1beta/openai/",
        ),
    ],
)
def test_named_providers_call_litellm_with_their_model_string(
    fake_litellm: Any, provider: Any, config: BaseLLMConfig, model: str, api_base: str | None
) -> None:
    result = provider(config).chat_completions(USER)
    assert result.status == LLMResponseStatus.SUCCESS
    kwargs = fake_litellm.completion.call_args.kwargs
    assert (kwargs["model"], kwargs.get("api_base"), kwargs["api_key"]) == (
        model,
        api_base,
        config.api_key,
    )


def test_openai_and_google_send_directors_sampling(fake_litellm: Any) -> None:
    for llm in (OpenAI(OpenaiConfig(api_key="k")), GoogleAI(GoogleAIConfig(api_key="k"))):
        llm.chat_completions(USER)
        kwargs = fake_litellm.completion.call_args.kwargs
        assert (kwargs["temperature"], kwargs["top_p"], kwargs["max_tokens"]) == (0.9, 1, 4096)


def test_anthropic_sends_max_tokens_but_not_temperature_or_top_p(fake_litellm: Any) -> None:
    AnthropicAI(AnthropicAIConfig(api_key="k", max_tokens=512)).chat_completions(USER)
    kwargs = fake_litellm.completion.call_args.kwargs
    assert kwargs["max_tokens"] == 512
    assert "temperature" not in kwargs
    assert "top_p" not in kwargs


def test_videodb_proxy_calls_an_openai_compatible_endpoint_without_litellm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "litellm", None)  # any import of litellm would fail
    with LocalGateway(api_key="sk-videodb-key") as gateway:
        config = VideoDBProxyConfig(
            api_key="sk-videodb-key", api_base=gateway.base_url, chat_model="echo"
        )
        result = VideoDBProxy(config).chat_completions(USER)
        body = gateway.requests[-1].body
    assert (result.status, result.content) == (LLMResponseStatus.SUCCESS, "hi")
    assert body is not None
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("echo", 0.9, 4096)


# --- get_default_llm -----------------------------------------------------------------------

KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLEAI_API_KEY")
ORDER = (OpenAI, AnthropicAI, GoogleAI)
BY_NAME = {"openai": OpenAI, "anthropic": AnthropicAI, "googleai": GoogleAI}


def chosen(environment: dict[str, str]) -> type[BaseLLM]:
    base = {"VIDEO_DB_API_KEY": "sk-videodb"}
    with mock.patch.dict(os.environ, {**base, **environment}):
        return type(get_default_llm())


def test_default_llm_litellm_gives_litellm_with_directors_default_model() -> None:
    with mock.patch.dict(os.environ, {"DEFAULT_LLM": "litellm"}):
        llm = get_default_llm()
    assert isinstance(llm, LiteLLM)
    assert llm.chat_model == "openai/gpt-4o"


def test_an_openai_key_alone_gives_openai_not_litellm() -> None:
    assert chosen({"OPENAI_API_KEY": "sk-test", "DEFAULT_LLM": ""}) is OpenAI


def test_no_key_and_no_default_gives_the_videodb_proxy() -> None:
    assert chosen({}) is VideoDBProxy


@given(
    keys=st.sets(st.sampled_from(KEYS)),
    default=st.sampled_from(["", "openai", "anthropic", "googleai", "litellm", "videodb_proxy"]),
)
def test_selection_follows_directors_order(keys: set[str], default: str) -> None:
    environment = dict.fromkeys(keys, "sk-some-key") | {"DEFAULT_LLM": default}
    if default == "litellm":
        assert chosen(environment) is LiteLLM
        return
    wanted = [
        (variable, provider)
        for variable, provider in zip(KEYS, ORDER, strict=True)
        if variable in keys or BY_NAME.get(default) is provider
    ]
    if not wanted:
        assert chosen(environment) is VideoDBProxy
    elif wanted[0][0] in keys:
        assert chosen(environment) is wanted[0][1]
    else:  # named by DEFAULT_LLM without its key: Director's key check refuses it
        with pytest.raises(ValidationError, match=f"Please set {wanted[0][0]}"):
            chosen(environment)


def test_a_misspelt_default_llm_is_logged_with_the_close_match(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="llmport.compat.director"):
        assert chosen({"DEFAULT_LLM": "litelm", "OPENAI_API_KEY": "sk-x"}) is OpenAI
    assert "did you mean 'litellm'" in caplog.text


def test_the_module_lists_every_public_name() -> None:
    assert sorted(director.__all__) == director.__all__
    for name in director.__all__:
        assert getattr(director, name).__doc__, name
