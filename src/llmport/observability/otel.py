"""`OpenTelemetryHooks`: one client span per call, following the GenAI semantic conventions.

Needs the optional extra: `pip install 'llmport[otel]'` (the OpenTelemetry API; your
application configures the SDK and exporter).

The span is named `chat {model}` and carries `gen_ai.operation.name`,
`gen_ai.provider.name`, `gen_ai.request.*` (model, temperature, top_p, max_tokens,
seed, stop_sequences, stream), `gen_ai.response.*` (id, model, finish_reasons),
`gen_ai.usage.*` tokens, the USD cost as `llmport.cost_usd` when known,
`server.address` / `server.port` when known, `error.type` (the error kind) on
failure, one `llmport.retry` event per retry, and the call's metadata as
`llmport.metadata.<key>`. Prompts and answers are recorded (`gen_ai.input.messages`,
`gen_ai.output.messages`, as JSON) only when `capture_content=True` or
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.
"""

from __future__ import annotations

import json
import os
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from llmport.hooks import LLMHooks
from llmport.redaction import redact_values

try:
    from opentelemetry import trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "llmport.observability.otel needs opentelemetry-api: pip install 'llmport[otel]'"
    ) from exc

if TYPE_CHECKING:
    from llmport.base import BaseLLM, ChatRequest
    from llmport.response import LLMResponse

__all__ = ["CAPTURE_CONTENT_ENV", "OpenTelemetryHooks"]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

# litellm model prefixes -> GenAI well-known provider names.
_LITELLM_PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "vertex_ai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "cohere": "cohere",
    "mistral": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "watsonx": "ibm.watsonx.ai",
}
_REQUEST_PARAMS = ("temperature", "top_p", "max_tokens", "seed")


class OpenTelemetryHooks(LLMHooks):
    """Trace every call as a `SpanKind.CLIENT` span (see the module docstring).

    Args:
        tracer_provider: where spans go; default the global tracer provider.
        capture_content: record prompts and answers; default from
            `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` (off unless "true").
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        *,
        capture_content: bool | None = None,
    ) -> None:
        """Get a tracer named `llmport` from `tracer_provider`."""
        self.tracer = trace.get_tracer("llmport", tracer_provider=tracer_provider)
        if capture_content is None:
            capture_content = os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() == "true"
        self.capture_content = capture_content
        # Spans in flight, by (llm, request) identity: both live until the call ends.
        self._spans: dict[tuple[int, int], Span] = {}
        self._lock = threading.Lock()

    def on_request(self, llm: BaseLLM, request: ChatRequest) -> None:
        """Start the call's span."""
        span = self.tracer.start_span(
            f"chat {request.model}".strip(),
            kind=SpanKind.CLIENT,
            attributes=self._request_attributes(llm, request),
        )
        with self._lock:
            self._spans[id(llm), id(request)] = span

    def on_retry(
        self, llm: BaseLLM, request: ChatRequest, failed: LLMResponse, attempt: int, delay: float
    ) -> None:
        """Add a `llmport.retry` event to the span."""
        span = self._spans.get((id(llm), id(request)))
        if span is not None:
            kind = failed.error.kind.value if failed.error else "unknown"
            attributes = {"llmport.attempt": attempt, "llmport.retry_delay_s": delay}
            span.add_event("llmport.retry", {**attributes, "error.type": kind})

    def on_response(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        """End the span of a successful call."""
        self._end(llm, request, response)

    def on_error(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        """End the span of a failed call with an error status and `error.type`."""
        self._end(llm, request, response)

    def _end(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        with self._lock:
            span = self._spans.pop((id(llm), id(request)), None)
        if span is None:
            return
        attributes: dict[str, Any] = {
            "gen_ai.response.model": response.model,
            "gen_ai.response.id": response.id,
            "gen_ai.response.finish_reasons": [response.finish_reason],
            "gen_ai.usage.input_tokens": response.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": response.usage.completion_tokens,
            "gen_ai.usage.cache_read.input_tokens": response.usage.cached_tokens,
            "gen_ai.usage.reasoning.output_tokens": response.usage.reasoning_tokens,
            "llmport.attempts": response.attempts,
            "llmport.cost_usd": response.cost,
        }
        if self.capture_content:
            attributes["gen_ai.output.messages"] = json.dumps(
                [_output_message(response)], ensure_ascii=False, default=str
            )
        span.set_attributes({k: v for k, v in attributes.items() if v not in (None, "")})
        if response.error is not None:
            span.set_attribute("error.type", response.error.kind.value)
            span.set_status(Status(StatusCode.ERROR, response.error.message))
        span.end()

    def _request_attributes(self, llm: BaseLLM, request: ChatRequest) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": _provider_name(llm, request.model),
            "gen_ai.request.model": request.model,
            "gen_ai.request.stream": request.stream,
            "llmport.provider_id": llm.provider_name,
        }
        for name in _REQUEST_PARAMS:
            if request.params.get(name) is not None:
                attributes[f"gen_ai.request.{name}"] = request.params[name]
        if request.stop is not None:
            stop = [request.stop] if isinstance(request.stop, str) else request.stop
            attributes["gen_ai.request.stop_sequences"] = stop
        attributes.update(_server_attributes(llm))
        for key, value in redact_values(request.metadata).items():
            if isinstance(value, (str, bool, int, float)):
                attributes[f"llmport.metadata.{key}"] = value
        if self.capture_content:
            attributes["gen_ai.input.messages"] = json.dumps(
                [_input_message(m) for m in request.messages], ensure_ascii=False, default=str
            )
        return attributes


def _provider_name(llm: BaseLLM, model: str) -> str:
    if llm.provider_name == "litellm" and "/" in model:
        prefix = model.split("/", 1)[0]
        return _LITELLM_PROVIDERS.get(prefix, prefix)
    return llm.provider_name


def _server_attributes(llm: BaseLLM) -> dict[str, Any]:
    url = getattr(llm.config, "base_url", None) or llm.config.api_base
    if not url:
        return {}
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return {}
    return {"server.address": parts.hostname or "", "server.port": port}


def _input_message(message: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI-style message in the GenAI `{role, parts}` shape."""
    role = message.get("role", "user")
    content = message.get("content")
    parts: list[dict[str, Any]] = []
    if role == "tool":
        parts.append(
            {"type": "tool_call_response", "id": message.get("tool_call_id"), "response": content}
        )
    elif isinstance(content, str):
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append({"type": "text", "content": part.get("text", "")})
    for call in message.get("tool_calls") or ():
        function = call.get("function", {}) if isinstance(call, dict) else {}
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("id") if isinstance(call, dict) else None,
                "name": function.get("name"),
                "arguments": function.get("arguments"),
            }
        )
    return {"role": role, "parts": parts}


def _output_message(response: LLMResponse) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if response.content:
        parts.append({"type": "text", "content": response.content})
    for call in response.tool_calls:
        parts.append(
            {"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments}
        )
    return {"role": "assistant", "parts": parts, "finish_reason": response.finish_reason}
