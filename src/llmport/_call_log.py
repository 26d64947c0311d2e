"""The structured log lines of the request path, one shape of `extra` fields for all.

Every record carries `provider`, `provider_id`, `model`, `attempt`, `latency_ms`,
`error_kind` and the call's `metadata`; call records add `status`, token counts and
`cost_usd` (None when unknown).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from llmport.redaction import redact_values

if TYPE_CHECKING:
    from llmport.base import ChatRequest
    from llmport.response import LLMResponse

logger = logging.getLogger("llmport.base")


def _fields(
    provider: str, response: LLMResponse, request: ChatRequest, attempt: int, latency_ms: float
) -> dict[str, Any]:
    error = response.error
    return {
        "provider": provider,
        "provider_id": provider,
        "model": response.model or request.model,
        "attempt": attempt,
        "latency_ms": round(latency_ms, 3),
        "error_kind": error.kind.value if error else None,
        "metadata": redact_values(request.metadata),
    }


def log_attempt_failed(
    provider: str, response: LLMResponse, request: ChatRequest, attempt: int, latency_ms: float
) -> None:
    """INFO: one failed attempt (the call may still be retried)."""
    extra = _fields(provider, response, request, attempt, latency_ms)
    extra["status_code"] = response.error.status_code if response.error else None
    logger.info("llm attempt failed: %s", extra["error_kind"] or "unknown", extra=extra)


def log_call(
    provider: str, response: LLMResponse, request: ChatRequest, attempt: int, latency_ms: float
) -> None:
    """DEBUG for a successful call, WARNING for a failed one (after retries)."""
    level = logging.DEBUG if response.ok else logging.WARNING
    if not logger.isEnabledFor(level):
        return
    extra = _fields(provider, response, request, attempt, latency_ms)
    extra["status"] = response.status.value
    extra["prompt_tokens"] = response.usage.prompt_tokens
    extra["completion_tokens"] = response.usage.completion_tokens
    extra["cost_usd"] = response.cost
    logger.log(level, "llm call %s", response.status.value, extra=extra)
