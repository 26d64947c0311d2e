"""Director's `director.llm` interface on llmport: change the imports, keep the code.

    from director.llm import get_default_llm        ->  from llmport.compat.director import (
    from director.llm.base import LLMResponse               LLMResponse,
    from director.llm.litellm import LiteLLM                LiteLLM,
    from director.constants import LLMType                  LLMType,
                                                            get_default_llm,
                                                        )

Each provider keeps Director's config (env prefix, default model, key check), the
config values as attributes, `_format_messages` / `_format_tools`, and
`chat_completions(messages, tools, stop, response_format)` returning Director's
`LLMResponse`. Calls go through llmport's providers: `LiteLLM` with a model string
(`openai/...`, `anthropic/...`), `OpenAICompatible` for the VideoDB proxy. So parsing,
error classification and redaction are llmport's. As in Director, a call is tried once
and a provider failure never raises: `content` is `"Error: <redacted message>"`, the
status is ERROR, and the failure is logged.
"""

from __future__ import annotations

import difflib
import enum
import logging
import os
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from llmport.base import BaseLLM as NativeLLM
from llmport.compat._director_base import (
    BaseLLM,
    BaseLLMConfig,
    EnvPrefix,
    LLMResponse,
    LLMResponseStatus,
    LLMType,
)
from llmport.compat._director_llm import (
    KeyRequiredConfig,
    LLMPortBacked,
    ProxyEngine,
)
from llmport.config import RetryPolicy
from llmport.errors import ConfigurationError

__all__ = [
    "AnthropicAI",
    "AnthropicAIConfig",
    "AnthropicChatModel",
    "BaseLLM",
    "BaseLLMConfig",
    "EnvPrefix",
    "GoogleAI",
    "GoogleAIConfig",
    "GoogleChatModel",
    "LLMResponse",
    "LLMResponseStatus",
    "LLMType",
    "LiteLLM",
    "LiteLLMConfig",
    "OpenAI",
    "OpenAIChatModel",
    "OpenaiConfig",
    "VideoDBProxy",
    "VideoDBProxyConfig",
    "get_default_llm",
]

logger = logging.getLogger(__name__)


class OpenAIChatModel(str, enum.Enum):
    """OpenAI model names Director lists."""

    GPT4 = "gpt-4"
    GPT4_32K = "gpt-4-32k"
    GPT4_TURBO = "gpt-4-turbo"
    GPT4o = "gpt-4o-2024-11-20"
    GPT4o_MINI = "gpt-4o-mini"
    o3_MINI = "o3-mini"  # noqa: N815 (Director's member name)


class AnthropicChatModel(str, enum.Enum):
    """Anthropic model names Director lists."""

    CLAUDE_3_HAIKU = "claude-3-haiku-20240307"
    CLAUDE_3_OPUS = "claude-3-opus-20240229"
    CLAUDE_3_5_SONNET = "claude-3-5-sonnet-20240620"
    CLAUDE_3_5_SONNET_LATEST = "claude-3-5-sonnet-20241022"


class GoogleChatModel(str, enum.Enum):
    """Google Gemini model names Director lists."""

    GEMINI_1_5_FLASH = "gemini-1.5-flash"
    GEMINI_1_5_FLASH_002 = "gemini-1.5-flash-002"
    GEMINI_1_5_PRO_002 = "gemini-1.5-pro-002"


# --- LiteLLM: any backend by model string -------------------------------------------------


class LiteLLMConfig(BaseLLMConfig):
    """`LITELLM_CHAT_MODEL` (default `openai/gpt-4o`), `LITELLM_API_KEY`, `LITELLM_API_BASE`, ...

    No key is required: without `LITELLM_API_KEY` litellm reads the backend's own
    variable (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, ...).
    """

    model_config = SettingsConfigDict(env_prefix=EnvPrefix.LITELLM_.value, extra="ignore")

    llm_type: str = LLMType.LITELLM.value
    chat_model: str = "openai/gpt-4o"


class LiteLLM(LLMPortBacked):
    """Any litellm model string, through llmport's `LiteLLM` provider.

    Every call sends `temperature`, `top_p`, `max_tokens`, `stop`, `timeout` and
    `drop_params=True`; `api_key` and `api_base` only when set.
    """

    config_class = LiteLLMConfig


# --- Director's named providers, as litellm model strings ----------------------------------


class OpenaiConfig(KeyRequiredConfig):
    """`OPENAI_API_KEY` (required), `OPENAI_API_BASE`, `OPENAI_CHAT_MODEL`, ..."""

    model_config = SettingsConfigDict(env_prefix=EnvPrefix.OPENAI_.value, extra="ignore")
    key_variable: ClassVar[str] = "OPENAI_API_KEY"

    llm_type: str = LLMType.OPENAI.value
    api_base: str = "https://api.openai.com/v1"
    chat_model: str = OpenAIChatModel.GPT4o.value


class OpenAI(LLMPortBacked):
    """OpenAI's chat completions API (`openai/<chat_model>` at `api_base`)."""

    config_class = OpenaiConfig
    model_prefix = "openai/"


class AnthropicAIConfig(KeyRequiredConfig):
    """`ANTHROPIC_API_KEY` (required), `ANTHROPIC_CHAT_MODEL`, `ANTHROPIC_MAX_TOKENS`, ..."""

    model_config = SettingsConfigDict(env_prefix=EnvPrefix.ANTHROPIC_.value, extra="ignore")
    key_variable: ClassVar[str] = "ANTHROPIC_API_KEY"

    llm_type: str = LLMType.ANTHROPIC.value
    chat_model: str = AnthropicChatModel.CLAUDE_3_5_SONNET.value


class AnthropicAI(LLMPortBacked):
    """Anthropic's messages API (`anthropic/<chat_model>`).

    As in Director, only `max_tokens` is sent of the sampling settings: Anthropic's
    newer models refuse `temperature` and `top_p` together.
    """

    config_class = AnthropicAIConfig
    model_prefix = "anthropic/"
    forwarded = ("max_tokens",)


class GoogleAIConfig(KeyRequiredConfig):
    """`GOOGLEAI_API_KEY` (required), `GOOGLEAI_API_BASE`, `GOOGLEAI_CHAT_MODEL`, ..."""

    model_config = SettingsConfigDict(env_prefix=EnvPrefix.GOOGLEAI_.value, extra="ignore")
    key_variable: ClassVar[str] = "GOOGLEAI_API_KEY"

    llm_type: str = LLMType.GOOGLEAI.value
    api_base: str = "https://generativelanguage.googleapis.com/v1beta/openai/"
    chat_model: str = GoogleChatModel.GEMINI_1_5_PRO_002.value


class GoogleAI(LLMPortBacked):
    """Gemini through Google's OpenAI-compatible endpoint (`openai/<chat_model>` at `api_base`)."""

    config_class = GoogleAIConfig
    model_prefix = "openai/"


# --- the VideoDB proxy: an OpenAI-compatible endpoint ---------------------------------------


def _videodb_base_url() -> str:
    return os.environ.get("VIDEO_DB_BASE_URL") or "https://api.videodb.io"


class VideoDBProxyConfig(KeyRequiredConfig):
    """`VIDEO_DB_API_KEY` (required) and `VIDEO_DB_BASE_URL` (default `https://api.videodb.io`)."""

    model_config = SettingsConfigDict(env_prefix="VIDEO_DB_", extra="ignore")
    key_variable: ClassVar[str] = "VIDEO_DB_API_KEY"

    llm_type: str = LLMType.VIDEODB_PROXY.value
    api_base: str = Field(default_factory=_videodb_base_url)
    chat_model: str = OpenAIChatModel.GPT4o.value


class VideoDBProxy(LLMPortBacked):
    """The VideoDB proxy, through llmport's `OpenAICompatible` provider."""

    config_class = VideoDBProxyConfig

    def _build_engine(self, api_key: str, api_base: str) -> NativeLLM:
        if not api_base.startswith(("http://", "https://")):  # say which setting, not the engine's
            raise ConfigurationError(
                "VideoDBProxy: api_base must be an http:// or https:// URL; "
                "set VIDEO_DB_BASE_URL or pass api_base=..."
            )
        return ProxyEngine(
            chat_model=self._model(),
            base_url=api_base,
            api_key=api_key or None,
            retry=RetryPolicy.never(),
        )


# --- selection ------------------------------------------------------------------------------

_BY_KEY: tuple[tuple[str, LLMType, type[LLMPortBacked]], ...] = (
    ("OPENAI_API_KEY", LLMType.OPENAI, OpenAI),
    ("ANTHROPIC_API_KEY", LLMType.ANTHROPIC, AnthropicAI),
    ("GOOGLEAI_API_KEY", LLMType.GOOGLEAI, GoogleAI),
)


def get_default_llm() -> BaseLLM:
    """The provider Director would pick, built from the environment.

    `DEFAULT_LLM=litellm` gives `LiteLLM`; nothing else selects it. Otherwise, in this
    order: `OpenAI` when `OPENAI_API_KEY` is set or `DEFAULT_LLM=openai`, `AnthropicAI`
    (`ANTHROPIC_API_KEY` / `anthropic`), `GoogleAI` (`GOOGLEAI_API_KEY` / `googleai`),
    and the VideoDB proxy when none of them applies.

    Raises:
        pydantic.ValidationError: the chosen provider's key is not set (the message
            names the variable).
    """
    default = os.environ.get("DEFAULT_LLM", "").strip().lower()
    if default == LLMType.LITELLM.value:
        return LiteLLM()
    if default and default not in {member.value for member in LLMType}:
        close = difflib.get_close_matches(default, [member.value for member in LLMType], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        logger.warning("DEFAULT_LLM=%r names no provider%s; choosing by API key", default, hint)
    for variable, llm_type, provider in _BY_KEY:
        if os.environ.get(variable) or default == llm_type.value:
            return provider()
    return VideoDBProxy()
