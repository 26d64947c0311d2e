"""`LoggingHooks`: one structured log line per call, plus one per retry."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from llmport.hooks import LLMHooks
from llmport.redaction import redact_values

if TYPE_CHECKING:
    from llmport.base import BaseLLM, ChatRequest
    from llmport.response import LLMResponse

__all__ = ["LoggingHooks", "call_fields"]


def call_fields(llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> dict[str, Any]:
    """The structured fields that describe a finished call (for logs and exporters).

    `model` is the requested model (stable, low cardinality); `response_model` is the
    one the provider reported. Token counts are None when the provider sent none;
    `cost_usd` is None when the call's cost is unknown.
    """
    error = response.error
    return {
        "provider_id": llm.provider_name,
        "model": request.model,
        "response_model": response.model,
        "status": response.status.value,
        "error_kind": error.kind.value if error else None,
        "status_code": error.status_code if error else None,
        "attempts": response.attempts,
        "latency_ms": round(response.latency_ms, 3),
        "prompt_tokens": response.usage.prompt_tokens,
        "completion_tokens": response.usage.completion_tokens,
        "total_tokens": response.usage.total_tokens,
        "cached_tokens": response.usage.cached_tokens,
        "cost_usd": response.cost,
        "metadata": redact_values(request.metadata),
    }


class LoggingHooks(LLMHooks):
    """Log every finished call and every retry with structured `extra` fields.

    Calls log at `level` (INFO) when they succeed and `error_level` (WARNING) when they
    fail; retries log at `level`. Fields: provider_id, model, response_model, status,
    error_kind, status_code, attempts, latency_ms, prompt_tokens, completion_tokens,
    total_tokens, cached_tokens, cost_usd, metadata (see `call_fields`); retries log
    attempt and delay_s instead of attempts and latency_ms.
    Messages and answers are never logged.

    Args:
        logger: where to log; default `logging.getLogger("llmport.calls")`.
    """

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        level: int = logging.INFO,
        error_level: int = logging.WARNING,
    ) -> None:
        """Log to `logger` at `level` (successes, retries) and `error_level` (failures)."""
        self.logger = logger or logging.getLogger("llmport.calls")
        self.level = level
        self.error_level = error_level

    def on_retry(
        self, llm: BaseLLM, request: ChatRequest, failed: LLMResponse, attempt: int, delay: float
    ) -> None:
        """Log the failed attempt and the wait before the next one."""
        if not self.logger.isEnabledFor(self.level):
            return
        fields = call_fields(llm, request, failed)
        del fields["attempts"], fields["latency_ms"]  # not known for a single attempt
        fields.update(attempt=attempt, delay_s=round(delay, 3))
        self.logger.log(
            self.level,
            "llm retry %s %s after %s (attempt %d, waiting %.3fs)",
            fields["provider_id"],
            fields["model"],
            fields["error_kind"],
            attempt,
            delay,
            extra=fields,
        )

    def on_response(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        """Log a successful call."""
        self._log(self.level, llm, request, response)

    def on_error(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        """Log a failed call (after its retries)."""
        self._log(self.error_level, llm, request, response)

    def _log(self, level: int, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        if not self.logger.isEnabledFor(level):
            return
        fields = call_fields(llm, request, response)
        self.logger.log(
            level,
            "llm call %s %s %s in %.0f ms (%d attempt(s))",
            fields["provider_id"],
            fields["model"],
            fields["error_kind"] or fields["status"],
            response.latency_ms,
            response.attempts,
            extra=fields,
        )
