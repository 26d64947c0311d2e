"""`PrometheusHooks`: request, latency, token and retry metrics for Prometheus.

Needs the optional extra: `pip install 'llmport[prometheus]'`.

    llmport_requests_total{provider_id, model, status, error_kind}   calls, once each
    llmport_request_latency_seconds{provider_id, model, status}      whole calls, with retries
    llmport_tokens_total{provider_id, model, direction}              prompt | completion
    llmport_retries_total{provider_id, model, error_kind}            failed attempts retried

`status` is `success` or `error`; `error_kind` is the error kind ("" on success).
`model` is the requested model, which keeps the label set small.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from llmport.hooks import LLMHooks

try:
    from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "llmport.observability.prometheus needs prometheus-client: "
        "pip install 'llmport[prometheus]'"
    ) from exc

if TYPE_CHECKING:
    from llmport.base import BaseLLM, ChatRequest
    from llmport.response import LLMResponse

__all__ = ["LATENCY_BUCKETS", "PrometheusHooks"]

#: Histogram buckets in seconds, from a fast local model to a long reasoning call.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class _Metrics:
    def __init__(self, registry: CollectorRegistry, namespace: str) -> None:
        call = ("provider_id", "model", "status")
        self.requests = Counter(
            "requests",
            "LLM calls, by final outcome.",
            (*call, "error_kind"),
            namespace=namespace,
            registry=registry,
        )
        self.latency = Histogram(
            "request_latency_seconds",
            "Duration of LLM calls, retries included.",
            call,
            namespace=namespace,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.tokens = Counter(
            "tokens",
            "Tokens reported by providers.",
            ("provider_id", "model", "direction"),
            namespace=namespace,
            registry=registry,
        )
        self.retries = Counter(
            "retries",
            "Failed attempts that were retried.",
            ("provider_id", "model", "error_kind"),
            namespace=namespace,
            registry=registry,
        )


# One set of metrics per registry and namespace: registering a name twice is an error.
_shared: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, _Metrics]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def _metrics_for(registry: CollectorRegistry, namespace: str) -> _Metrics:
    with _lock:
        by_namespace = _shared.setdefault(registry, {})
        if namespace not in by_namespace:
            by_namespace[namespace] = _Metrics(registry, namespace)
        return by_namespace[namespace]


class PrometheusHooks(LLMHooks):
    """Record every call in Prometheus metrics (see the module docstring for the names).

    Several instances on the same registry and namespace share one set of metrics.

    Args:
        registry: where to register; default the process-wide `prometheus_client.REGISTRY`.
        namespace: the metric name prefix.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, namespace: str = "llmport"
    ) -> None:
        """Create (or reuse) the metrics in `registry`."""
        self.registry = REGISTRY if registry is None else registry
        self._metrics = _metrics_for(self.registry, namespace)

    def on_retry(
        self, llm: BaseLLM, request: ChatRequest, failed: LLMResponse, attempt: int, delay: float
    ) -> None:
        """Count the retried attempt."""
        kind = failed.error.kind.value if failed.error else ""
        self._metrics.retries.labels(llm.provider_name, request.model, kind).inc()

    def on_response(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        """Record a successful call."""
        self._record(llm, request, response)

    def on_error(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        """Record a failed call."""
        self._record(llm, request, response)

    def _record(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        metrics, provider, model = self._metrics, llm.provider_name, request.model
        status = "success" if response.ok else "error"
        kind = response.error.kind.value if response.error else ""
        metrics.requests.labels(provider, model, status, kind).inc()
        metrics.latency.labels(provider, model, status).observe(response.latency_ms / 1000)
        usage = response.usage
        if usage.prompt_tokens:
            metrics.tokens.labels(provider, model, "prompt").inc(usage.prompt_tokens)
        if usage.completion_tokens:
            metrics.tokens.labels(provider, model, "completion").inc(usage.completion_tokens)
