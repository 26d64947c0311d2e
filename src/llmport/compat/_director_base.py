"""Director's base surface: its enums, `LLMResponse`, `BaseLLMConfig` and `BaseLLM`.

Shapes and defaults follow `director.llm.base` and `director.constants`, so code and
tests written against them keep working. Import them from `llmport.compat.director`.
"""

from __future__ import annotations

import abc
import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from llmport.errors import ErrorKind
from llmport.response import LLMError, ToolCall, Usage
from llmport.response import LLMResponse as NativeResponse

__all__ = [
    "BaseLLM",
    "BaseLLMConfig",
    "EnvPrefix",
    "LLMResponse",
    "LLMResponseStatus",
    "LLMType",
]


class LLMType(str, enum.Enum):
    """The provider names Director's `DEFAULT_LLM` and `llm_type` use."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GOOGLEAI = "googleai"
    VIDEODB_PROXY = "videodb_proxy"
    LITELLM = "litellm"


class EnvPrefix(str, enum.Enum):
    """Environment-variable prefixes of the provider configs (`OPENAI_API_KEY`, ...)."""

    OPENAI_ = "OPENAI_"
    ANTHROPIC_ = "ANTHROPIC_"
    GOOGLEAI_ = "GOOGLEAI_"
    LITELLM_ = "LITELLM_"


class LLMResponseStatus:
    """Director's status values: plain booleans, so `if response.status:` reads as success."""

    SUCCESS: bool = True
    ERROR: bool = False


class LLMResponse(BaseModel):
    """Director's response model, plus llmport's typed `error` and `usage`.

    `tool_calls` are dicts in Director's shape:
    `{"id": ..., "tool": {"name": ..., "arguments": {...}}, "type": "function"}`; when
    the model's arguments did not parse, `arguments` is `{}` and `tool` also holds
    `raw_arguments` (the text) and `arguments_error` (why).
    On failure `content` is `"Error: <redacted message>"`, the status is ERROR and the
    token counts are 0; `error` says what went wrong as an `LLMError`. Token counts are 0
    when unknown; `usage` keeps them as None instead.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    content: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    send_tokens: int = 0
    recv_tokens: int = 0
    total_tokens: int = 0
    finish_reason: str = ""
    status: int = LLMResponseStatus.ERROR
    error: LLMError | None = None
    usage: Usage = Field(default_factory=Usage)

    @classmethod
    def from_response(cls, response: NativeResponse) -> LLMResponse:
        """Director's view of an llmport `LLMResponse`."""
        if not response.ok:
            message = response.error.message if response.error else "the call failed"
            return cls(content=f"Error: {message}", error=response.error, usage=response.usage)
        return cls(
            content=response.content,
            tool_calls=[_director_tool_call(call) for call in response.tool_calls],
            send_tokens=response.send_tokens,
            recv_tokens=response.recv_tokens,
            total_tokens=response.total_tokens,
            finish_reason=response.raw_finish_reason or response.finish_reason,
            status=LLMResponseStatus.SUCCESS,
            usage=response.usage,
        )


def _director_tool_call(call: ToolCall) -> dict[str, Any]:
    """`call` in Director's shape; unparseable arguments also keep their text and reason."""
    tool: dict[str, Any] = {"name": call.name, "arguments": call.arguments}
    if call.arguments_error:
        tool["raw_arguments"] = call.raw_arguments
        tool["arguments_error"] = call.arguments_error
    return {"id": call.id, "tool": tool, "type": "function"}


# `LLMError.kind` is annotated with a name only its module's type checker sees.
LLMResponse.model_rebuild(_types_namespace={"ErrorKind": ErrorKind})


class BaseLLMConfig(BaseSettings):
    """Director's settings shared by every provider, with Director's defaults.

    Each provider's config reads `<PREFIX><FIELD>` environment variables
    (`LITELLM_CHAT_MODEL`, `OPENAI_API_KEY`, ...); an explicit argument wins over the
    environment, which wins over the default. Unknown settings are ignored.
    """

    model_config = SettingsConfigDict(extra="ignore")

    llm_type: str = ""
    api_key: str = Field(default="", repr=False)
    api_base: str = ""
    chat_model: str = ""
    temperature: float = 0.9
    top_p: float = 1
    max_tokens: int = 4096
    timeout: int = 120
    enable_langfuse: bool = False


class BaseLLM(abc.ABC):
    """Director's provider interface: the config's values become attributes of the instance."""

    def __init__(self, config: BaseLLMConfig) -> None:
        """Keep `config` and copy each of its values onto the instance."""
        self.config = config
        self.llm_type = config.llm_type
        self.api_key = config.api_key
        self.api_base = config.api_base
        self.chat_model = config.chat_model
        self.temperature = config.temperature
        self.top_p = config.top_p
        self.max_tokens = config.max_tokens
        self.timeout = config.timeout
        self.enable_langfuse = config.enable_langfuse

    @abc.abstractmethod
    def chat_completions(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        stop: str | list[str] | None = None,
        response_format: Any = None,
    ) -> LLMResponse:
        """Send a chat completion and return Director's `LLMResponse`.

        The signature is that of Director's providers, so the call forms its agents
        use (`chat_completions([message])`, `response_format=...`, `stop=...`)
        type-check on whatever `get_default_llm()` returns.
        """
