"""The one output type: `LLMResponse`, and the small data types it carries.

Everything here is plain data. Parsing lives in `llmport.parsing`, error
classification in `llmport.errors`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Generic

from typing_extensions import TypeVar

from llmport.exceptions import ErrorKind, error_from_llm_error

__all__ = ["LLMError", "LLMResponse", "LLMResponseStatus", "ToolCall", "Usage"]

#: The type of `LLMResponse.parsed`: the model passed as `response_format`, else Any.
ParsedT = TypeVar("ParsedT", default=Any)


class LLMResponseStatus(str, enum.Enum):
    """Outcome of a call. Truthy only for `SUCCESS`, so `if response.status:` reads naturally."""

    SUCCESS = "success"
    ERROR = "error"

    def __bool__(self) -> bool:
        return self is LLMResponseStatus.SUCCESS


@dataclass(frozen=True, kw_only=True, slots=True)
class Usage:
    """Token accounting as reported by the provider.

    Every field is `None` when the provider did not report it: an unknown count is
    never guessed as 0. `cached_tokens` is a subset of `prompt_tokens` and
    `reasoning_tokens` a subset of `completion_tokens`; they are not additions.
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None

    @property
    def is_known(self) -> bool:
        """True when the provider reported at least one count."""
        return any(
            value is not None
            for value in (self.prompt_tokens, self.completion_tokens, self.total_tokens)
        )

    def __add__(self, other: Usage) -> Usage:
        """Sum two usages field by field; a field stays None only if unknown on both sides."""

        def add(a: int | None, b: int | None) -> int | None:
            if a is None and b is None:
                return None
            return (a or 0) + (b or 0)

        return Usage(
            prompt_tokens=add(self.prompt_tokens, other.prompt_tokens),
            completion_tokens=add(self.completion_tokens, other.completion_tokens),
            total_tokens=add(self.total_tokens, other.total_tokens),
            cached_tokens=add(self.cached_tokens, other.cached_tokens),
            reasoning_tokens=add(self.reasoning_tokens, other.reasoning_tokens),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolCall:
    """A function call requested by the model.

    `arguments` is always a dict. When the provider's argument string could not be
    parsed, `arguments` is `{}`, the original text is in `raw_arguments` and the
    reason in `arguments_error`; nothing raises.
    """

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    raw_arguments: str | None = None
    arguments_error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the arguments parsed cleanly."""
        return self.arguments_error is None

    def to_message(self) -> dict[str, Any]:
        """The OpenAI `tool_calls` entry for this call, to append to an assistant message."""
        import json

        raw = self.raw_arguments if self.arguments_error else json.dumps(self.arguments)
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": raw or ""},
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class LLMError:
    """What went wrong, in provider-neutral terms. `message` is already redacted."""

    kind: ErrorKind
    message: str
    retryable: bool = False
    retry_after: float | None = None
    status_code: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class LLMResponse(Generic[ParsedT]):
    """The answer to one chat completion call, success or failure.

    `content` is never None ("" when the model sent no text; a refusal's text when the
    model refused). `reasoning` holds reasoning text kept apart from `content`. `parsed`
    is the validated instance when the call passed `response_format=SomeModel` (typed
    as that model: `chat_completions(..., response_format=City)` gives
    `LLMResponse[City]`). `cost` is the call's USD cost over every billed attempt, None
    when the price or the usage is unknown (see `llmport.cost`). `raw` holds the provider
    payload for debugging and is left out of the repr.

    `error` is set exactly when the status is ERROR, so `if response.error:` both tests
    for failure and narrows `error` for a type checker; `if response.status:` (truthy
    on success) keeps working too. An ERROR built without an error gets a generic
    `bad_response` one.

    Raises:
        ValueError: a SUCCESS response was given an error.
    """

    status: LLMResponseStatus
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "unknown"
    raw_finish_reason: str | None = None
    model: str = ""
    provider: str = ""
    id: str = ""
    usage: Usage = field(default_factory=Usage)
    error: LLMError | None = None
    reasoning: str | None = None
    refusal: str | None = None
    parsed: ParsedT | None = None
    latency_ms: float = 0.0
    attempts: int = 1
    cost: float | None = None
    raw: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status is LLMResponseStatus.SUCCESS:
            if self.error is not None:
                raise ValueError("a SUCCESS response carries no error; use status=ERROR")
        elif self.error is None:
            unknown = LLMError(kind=ErrorKind.BAD_RESPONSE, message="bad_response: unknown error")
            object.__setattr__(self, "error", unknown)

    @property
    def ok(self) -> bool:
        """True for a SUCCESS response."""
        return self.status is LLMResponseStatus.SUCCESS

    @property
    def send_tokens(self) -> int:
        """Prompt tokens, 0 when unknown (compatibility with Director-style responses)."""
        return self.usage.prompt_tokens or 0

    @property
    def recv_tokens(self) -> int:
        """Completion tokens, 0 when unknown (compatibility with Director-style responses)."""
        return self.usage.completion_tokens or 0

    @property
    def total_tokens(self) -> int:
        """Total tokens, 0 when unknown; falls back to send + recv when no total was sent."""
        if self.usage.total_tokens is not None:
            return self.usage.total_tokens
        return self.send_tokens + self.recv_tokens

    def raise_for_status(self) -> LLMResponse[ParsedT]:
        """Raise the typed `ProviderError` for an ERROR response; return self otherwise."""
        if self.error is not None:
            raise error_from_llm_error(self.error)
        return self

    def to_message(self) -> dict[str, Any]:
        """This answer as an OpenAI assistant message, ready to append to the conversation."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            message["tool_calls"] = [call.to_message() for call in self.tool_calls]
        return message
