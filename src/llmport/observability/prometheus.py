"""`PrometheusHooks`: request, latency, token and retry metrics for Prometheus.

Needs the optional extra: `pip install 'llmport[prometheus]'`.

    llmport_requests_total{provider_id, model, status, error_kind}   calls, once each
    llmport_request_latency_seconds{provider_id, model, status}      whole calls, with retries
    llmport_tokens_total{provider_id, model, status, kind}           prompt | completion | cached
    llmport_cost_usd_total{provider_id, model, status}               USD, calls with a known cost
    llmport_retries_total{provider_id, model, error_kind}            failed attempts retried

`status` is `success` or `error`; `error_kind` is the error kind ("" on success).
`model` is the requested model, which keeps the label set small. Cached tokens are
a subset of prompt tokens. `metadata_labels=("tenant_id",)` adds those metadata keys
as labels of the requests, tokens and cost counters; each label keeps at most
`max_label_values` distinct values of at most `MAX_LABEL_LENGTH` characters and
counts the rest as "other", so a label stays bounded whatever the callers send.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmport.hooks import LLMHooks
from llmport.redaction import redact

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

__all__ = ["LATENCY_BUCKETS", "MAX_LABEL_LENGTH", "PrometheusHooks"]

#: Histogram buckets in seconds, from a fast local model to a long reasoning call.
#: Metadata label values longer than this are counted as "other".
MAX_LABEL_LENGTH = 128

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class _Metrics:
    def __init__(self, registry: CollectorRegistry, namespace: str, extra: tuple[str, ...]) -> None:
        call = ("provider_id", "model", "status")
        self.requests = Counter(
            "requests",
            "LLM calls, by final outcome.",
            (*call, "error_kind", *extra),
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
            "Tokens reported by providers, by kind (cached is a subset of prompt).",
            (*call, "kind", *extra),
            namespace=namespace,
            registry=registry,
        )
        self.cost = Counter(
            "cost_usd",
            "USD spent on LLM calls whose cost is known.",
            (*call, *extra),
            namespace=namespace,
            registry=registry,
        )
        self.extra = extra
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


def _metrics_for(registry: CollectorRegistry, namespace: str, extra: tuple[str, ...]) -> _Metrics:
    with _lock:
        by_namespace = _shared.setdefault(registry, {})
        metrics = by_namespace.get(namespace)
        if metrics is None:
            metrics = by_namespace[namespace] = _Metrics(registry, namespace, extra)
        elif metrics.extra != extra:
            raise ValueError(
                f"metrics {namespace!r} already exist in this registry with metadata labels "
                f"{metrics.extra}; use the same metadata_labels or another namespace"
            )
        return metrics


class _BoundedLabel:
    """The values of one metadata label: the first `limit` distinct ones, then "other"."""

    def __init__(self, key: str, limit: int) -> None:
        self.key = key
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def value(self, metadata: Mapping[str, Any]) -> str:
        raw = metadata.get(self.key)
        if raw is None:
            return ""
        value = str(raw)
        if value in self._seen:
            return value
        if len(value) > MAX_LABEL_LENGTH:  # a series per megabyte-long id is no label
            return "other"
        value = redact(value)  # a secret in an id (an API key) never becomes a label
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) >= self.limit:
                return "other"
            self._seen.add(value)
        return value


class PrometheusHooks(LLMHooks):
    """Record every call in Prometheus metrics (see the module docstring for the names).

    Several instances on the same registry and namespace share one set of metrics.

    Args:
        registry: where to register; default the process-wide `prometheus_client.REGISTRY`.
        namespace: the metric name prefix.
        metadata_labels: call `metadata` keys (e.g. "tenant_id") to add as labels of the
            requests, tokens and cost counters. Opt-in: every value is a new time series.
        max_label_values: distinct values kept per metadata label; later ones are "other".

    Raises:
        ValueError: the namespace already has metrics with other metadata labels.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        namespace: str = "llmport",
        metadata_labels: Sequence[str] = (),
        max_label_values: int = 100,
    ) -> None:
        """Create (or reuse) the metrics in `registry`."""
        self.registry = REGISTRY if registry is None else registry
        extra = tuple(metadata_labels)
        self._metrics = _metrics_for(self.registry, namespace, extra)
        self._labels = tuple(_BoundedLabel(key, max_label_values) for key in extra)

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
        extra = tuple(label.value(request.metadata) for label in self._labels)
        metrics.requests.labels(provider, model, status, kind, *extra).inc()
        metrics.latency.labels(provider, model, status).observe(response.latency_ms / 1000)
        usage = response.usage
        for token_kind, count in (
            ("prompt", usage.prompt_tokens),
            ("completion", usage.completion_tokens),
            ("cached", usage.cached_tokens),
        ):
            if count:
                metrics.tokens.labels(provider, model, status, token_kind, *extra).inc(count)
        if response.cost is not None:
            metrics.cost.labels(provider, model, status, *extra).inc(response.cost)
