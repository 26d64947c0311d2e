"""The engine under Director's providers: llmport providers, configured from arguments only.

`LLMPortBacked` carries out Director's `chat_completions` contract through llmport's
`LiteLLM` (or, for the VideoDB proxy, `OpenAICompatible`): Director's messages and
tools go in, Director's `LLMResponse` comes out.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from pydantic import ValidationInfo, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from llmport._validation import check_messages, check_sampling, check_tools, positive_number
from llmport.base import BaseLLM as NativeLLM
from llmport.base import ChatRequest
from llmport.compat._director_base import BaseLLM, BaseLLMConfig, LLMResponse
from llmport.config import RetryPolicy
from llmport.errors import ConfigurationError
from llmport.options import CallOptions
from llmport.providers.litellm import LiteLLM as NativeLiteLLM
from llmport.providers.litellm import LiteLLMConfig as NativeLiteLLMConfig
from llmport.providers.openai_compatible import OpenAICompatible, OpenAICompatibleConfig

__all__ = ["KeyRequiredConfig", "LLMPortBacked", "ProxyEngine", "plain_text"]

logger = logging.getLogger("llmport.compat.director")


class _ArgumentsOnly(BaseSettings):
    """An engine config is built from the Director config alone, never from LITELLM_* etc."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


class _LiteLLMEngineConfig(_ArgumentsOnly, NativeLiteLLMConfig):
    pass


class _ProxyEngineConfig(_ArgumentsOnly, OpenAICompatibleConfig):
    pass


class _LiteLLMEngine(NativeLiteLLM):
    """llmport's LiteLLM provider, sending `stop` on every call as Director does."""

    config_class = _LiteLLMEngineConfig

    def completion_kwargs(self, request: ChatRequest) -> dict[str, Any]:
        kwargs = super().completion_kwargs(request)
        kwargs.setdefault("stop", None)
        return kwargs


class ProxyEngine(OpenAICompatible):
    """llmport's OpenAI-compatible provider, configured from the Director config alone."""

    config_class = _ProxyEngineConfig


def plain_text(value: Any) -> str:
    """A setting as plain text (Director's defaults are sometimes str enum members)."""
    return str(value.value if isinstance(value, enum.Enum) else value)


class LLMPortBacked(BaseLLM):
    """Director's `chat_completions` contract, carried out by an llmport provider."""

    config_class: ClassVar[type[BaseLLMConfig]] = BaseLLMConfig
    #: The sampling attributes sent on every call.
    forwarded: ClassVar[tuple[str, ...]] = ("temperature", "top_p", "max_tokens")
    #: Put before `chat_model` to make the litellm model string (`openai/`, `anthropic/`).
    model_prefix: ClassVar[str] = ""

    def __init__(self, config: BaseLLMConfig | None = None) -> None:
        """Build from `config`, or from the environment when it is None.

        Raises:
            pydantic.ValidationError: a setting is invalid or a required key is missing.
            ConfigurationError: `chat_model` is empty, or llmport rejects a setting.
        """
        super().__init__(config if config is not None else self.config_class())
        if not self.chat_model:
            raise ConfigurationError(
                f"{type(self).__name__} has no chat_model: {self._how_to_set('chat_model')}"
            )
        self._engine_key: tuple[str, str] | None = None
        self._engine: NativeLLM | None = None
        # Settings llmport rejects fail here, not on every call.
        self._current_engine()
        self._check_sent_settings()

    def _how_to_set(self, name: str) -> str:
        prefix = plain_text(self.config.model_config.get("env_prefix", ""))
        return f"set {prefix}{name.upper()} or pass {name}=..."

    def _check_sent_settings(self) -> None:
        """The sampling settings and timeout sent on every call, checked once."""
        for name in (*self.forwarded, "timeout"):
            value = getattr(self, name)
            try:
                if name == "timeout":
                    positive_number(name, value)
                else:
                    check_sampling(name, value)
            except ValueError as exc:
                raise ConfigurationError(
                    f"{type(self).__name__}: {exc}; {self._how_to_set(name)}"
                ) from None

    def _model(self) -> str:
        """The model string llmport's provider is called with."""
        return self.model_prefix + plain_text(self.chat_model)

    def _build_engine(self, api_key: str, api_base: str) -> NativeLLM:
        return _LiteLLMEngine(
            chat_model=self._model(),
            api_key=api_key or None,
            api_base=api_base or None,
            drop_params=True,
            retry=RetryPolicy.never(),
        )

    def _current_engine(self) -> NativeLLM:
        # Director reads api_key / api_base from the instance: follow later assignments.
        key = (plain_text(self.api_key or ""), plain_text(self.api_base or ""))
        if self._engine is None or key != self._engine_key:
            self._engine = self._build_engine(*key)
            self._engine_key = key
        return self._engine

    def _format_messages(self, messages: Sequence[Any]) -> list[dict[str, Any]]:
        """Messages for the backend: Director-shaped assistant tool calls become OpenAI's.

        `{"id", "tool": {"name", "arguments"}, "type"}` becomes `{"id", "type":
        "function", "function": {"name", "arguments": "<JSON>"}}` (arguments that did
        not parse go back as the model's own text); every other message, tool results
        included, passes through unchanged.

        Raises:
            ValueError: `messages` is not a list, a message's `tool_calls` is not a list,
                a tool call has neither shape, or its arguments are not JSON-able.
        """
        if isinstance(messages, (str, bytes)) or not isinstance(messages, Iterable):
            check_messages(messages)  # raises, saying what messages must be
        formatted: list[dict[str, Any]] = []
        for index, message in enumerate(messages):
            if not isinstance(message, Mapping):
                formatted.append(message)  # llmport's message check says what is wrong
            elif message.get("role") == "assistant" and message.get("tool_calls"):
                if not isinstance(message["tool_calls"], (list, tuple)):
                    raise ValueError(
                        f"messages[{index}].tool_calls must be a list, "
                        f"got {type(message['tool_calls']).__name__}"
                    )
                calls = [
                    _openai_tool_call(index, position, call)
                    for position, call in enumerate(message["tool_calls"])
                ]
                formatted.append(
                    {"role": "assistant", "content": message.get("content"), "tool_calls": calls}
                )
            else:
                formatted.append(dict(message))
        return formatted

    def _format_tools(self, tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Director's `{"name", "description", "parameters"}` tools in the OpenAI function shape.

        Raises:
            ValueError: a tool has neither shape.
        """
        return check_tools(tools) or []

    def chat_completions(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        stop: str | list[str] | None = None,
        response_format: Any = None,
    ) -> LLMResponse:
        """Send a chat completion; a provider failure comes back as an ERROR response.

        Sends `tools` with `tool_choice="auto"` only when tools are given, and
        `response_format` only when given.

        Raises:
            ValueError: `messages` or `tools` are malformed (before any network call).
        """
        formatted_tools = self._format_tools(tools) if tools else None
        sampling = {name: getattr(self, name) for name in self.forwarded}
        options: CallOptions = {"model": self._model(), "timeout": self.timeout}
        if formatted_tools:
            options["tool_choice"] = "auto"
        response = self._current_engine().chat_completions(
            self._format_messages(messages),
            tools=formatted_tools,
            stop=stop,
            response_format=response_format or None,
            **options,
            **sampling,
        )
        result = LLMResponse.from_response(response)
        if not response.ok:
            logger.error("%s call failed: %s", type(self).__name__, result.content)
        return result


def _openai_tool_call(index: int, position: int, call: Any) -> dict[str, Any]:
    if isinstance(call, Mapping) and "function" in call:
        return dict(call)  # already in the OpenAI shape
    tool = call.get("tool") if isinstance(call, Mapping) else None
    if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str) or "id" not in call:
        raise ValueError(
            f"messages[{index}].tool_calls must look like "
            "{'id': ..., 'tool': {'name': ..., 'arguments': {...}}, 'type': 'function'}"
        )
    # "function" whatever the stored type: Director's Anthropic provider kept "tool_use".
    return {
        "id": call["id"],
        "function": {"name": tool["name"], "arguments": _encoded_arguments(index, position, tool)},
        "type": "function",
    }


def _encoded_arguments(index: int, position: int, tool: Mapping[str, Any]) -> str:
    """The arguments as the JSON text the backend expects.

    Arguments that did not parse go back as the text the model sent (as llmport's
    `ToolCall.to_message` does), unless the app has filled them in since.
    """
    arguments = tool.get("arguments")
    raw = tool.get("raw_arguments")
    if tool.get("arguments_error") and isinstance(raw, str) and not arguments:
        return raw
    if isinstance(arguments, str):
        return arguments
    try:  # strict JSON, as llmport sends everything else (no NaN or Infinity)
        return json.dumps(arguments or {}, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(
            f"messages[{index}].tool_calls[{position}] ({tool['name']}): "
            f"arguments cannot be encoded as JSON: {exc}"
        ) from None


class KeyRequiredConfig(BaseLLMConfig):
    """A Director config whose `api_key` must be set; the error names `key_variable`."""

    key_variable: ClassVar[str] = ""

    @field_validator("api_key")
    @classmethod
    def _require_key(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            raise ValueError(
                f"{info.field_name} must not be empty. "
                f"Please set {cls.key_variable} environment variable."
            )
        return value
