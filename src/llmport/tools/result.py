"""What a tool loop returns: `ToolLoopResult`, and `PendingConfirmation` to resume later."""

from __future__ import annotations

import copy
import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from llmport.response import LLMResponse, ToolCall, Usage
from llmport.tools.definition import describe_validation_error

__all__ = ["PendingConfirmation", "ToolLoopResult", "ToolLoopStatus"]

_FORMAT_VERSION = 2


class ToolLoopStatus(str, enum.Enum):
    """Why a tool loop stopped."""

    COMPLETED = "completed"  # the model answered without asking for tools
    MAX_ITERATIONS = "max_iterations"  # the LLM-call budget ran out while it still asked
    PENDING_CONFIRMATION = "pending_confirmation"  # a tool awaits the app's approval
    LLM_ERROR = "llm_error"  # an LLM call returned an ERROR response


@dataclass(frozen=True, kw_only=True, slots=True)
class PendingConfirmation:
    """A loop stopped before running tools that need approval; resume with `resume_tools`.

    `calls` await approval; every other call of that turn has run and its result is in
    `messages`. `id` is unique to this pause: resuming claims it, so a state is used
    once. `expires_at` (seconds since the epoch) ends its life. `signature` is an
    HMAC of everything else, set when a signing key is configured. `to_dict()` is
    JSON-safe, so a web app can store it and resume in another request; see
    `ConfirmationGuard` for what resuming checks.
    """

    calls: list[ToolCall]
    messages: list[dict[str, Any]]
    iterations: int
    usage: Usage
    run_id: str
    id: str
    created_at: float
    expires_at: float
    signature: str | None = None
    cost: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe data that `from_dict` turns back into this object (signed if it is)."""
        data = self.signed_content()
        if self.signature is not None:
            data["signature"] = self.signature
        return data

    def signed_content(self) -> dict[str, Any]:
        """Everything the signature covers: the whole state but the signature itself."""
        return {
            "version": _FORMAT_VERSION,
            "id": self.id,
            "run_id": self.run_id,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "iterations": self.iterations,
            "usage": asdict(self.usage),
            "cost": self.cost,
            "calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in self.calls],
            "messages": copy.deepcopy(self.messages),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingConfirmation:
        """Rebuild a pending confirmation from `to_dict()` output.

        Raises:
            ValueError: `data` is not (or no longer) a valid pending confirmation.
        """
        try:
            checked = _PendingData.model_validate(data)
        except ValidationError as exc:
            raise ValueError(
                f"not a pending confirmation: {describe_validation_error(exc)}"
            ) from None
        return cls(
            calls=[ToolCall(id=c.id, name=c.name, arguments=c.arguments) for c in checked.calls],
            messages=checked.messages,
            iterations=checked.iterations,
            usage=Usage(**checked.usage.model_dump()),
            run_id=checked.run_id,
            id=checked.id,
            created_at=checked.created_at,
            expires_at=checked.expires_at,
            signature=checked.signature,
            cost=checked.cost,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolLoopResult:
    """The outcome of `run_tools`: why it stopped, the last answer, and the transcript.

    `response` is the last LLM response (the final answer, the ERROR, or the one that
    asked for the pending tools). `messages` is the whole conversation in OpenAI
    format, ready to continue. `usage` sums every LLM call; `iterations` counts them.
    `cost` sums the USD cost of every LLM call, and is None when any of them is unknown.
    """

    status: ToolLoopStatus
    response: LLMResponse
    messages: list[dict[str, Any]]
    usage: Usage
    iterations: int
    run_id: str
    pending: PendingConfirmation | None = None
    cost: float | None = None

    @property
    def ok(self) -> bool:
        """True when the model gave its final answer."""
        return self.status is ToolLoopStatus.COMPLETED

    @property
    def content(self) -> str:
        """The text of the last response."""
        return self.response.content


class _CallData(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any]


class _UsageData(BaseModel):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None


class _PendingData(BaseModel):
    version: Literal[2]
    id: str = Field(min_length=1)
    run_id: str
    created_at: float = Field(allow_inf_nan=False)
    expires_at: float = Field(allow_inf_nan=False)
    signature: str | None = None
    iterations: int = Field(ge=1)
    usage: _UsageData
    cost: float | None = Field(default=None, ge=0)
    calls: list[_CallData] = Field(min_length=1)
    messages: list[dict[str, Any]] = Field(min_length=1)
