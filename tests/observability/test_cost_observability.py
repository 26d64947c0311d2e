"""Cost and token kinds reach Prometheus, OpenTelemetry and the structured logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from llmport import Budget, ErrorKind
from llmport.observability.logs import LoggingHooks
from llmport.observability.otel import OpenTelemetryHooks
from llmport.observability.prometheus import PrometheusHooks
from llmport.testing import FakeLLM

USER = [{"role": "user", "content": "hi"}]
PRICED: dict[str, Any] = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
CALL_COST = 10 * 1e-6 + 5 * 2e-6
CACHED_ANSWER = {
    "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
    "usage": {
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "total_tokens": 110,
        "prompt_tokens_details": {"cached_tokens": 40},
    },
}


def scrape(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


OK = labels(provider_id="fake", model="fake-model", status="success")


def test_cost_is_counted_in_usd_by_provider_model_and_status() -> None:
    registry = CollectorRegistry()
    llm = FakeLLM(hooks=[PrometheusHooks(registry)], **PRICED)
    llm.chat_completions(USER)
    llm.chat_completions(USER)
    assert scrape(registry)["llmport_cost_usd_total", OK] == pytest.approx(2 * CALL_COST)


def test_calls_with_unknown_cost_add_nothing_to_the_cost_counter() -> None:
    registry = CollectorRegistry()
    FakeLLM(hooks=[PrometheusHooks(registry)], chat_model="x-unpriced").chat_completions(USER)
    unpriced = labels(provider_id="fake", model="x-unpriced", status="success")
    assert ("llmport_cost_usd_total", unpriced) not in scrape(registry)


def test_tokens_are_counted_by_kind_cached_included() -> None:
    registry = CollectorRegistry()
    FakeLLM([CACHED_ANSWER], hooks=[PrometheusHooks(registry)]).chat_completions(USER)
    samples = scrape(registry)
    counted = {
        kind: samples["llmport_tokens_total", OK | labels(kind=kind)]
        for kind in ("prompt", "completion", "cached")
    }
    assert counted == {"prompt": 100, "completion": 10, "cached": 40}


def test_a_metadata_key_becomes_a_label_when_asked_for() -> None:
    registry = CollectorRegistry()
    hooks = PrometheusHooks(registry, metadata_labels=["tenant_id"])
    llm = FakeLLM(hooks=[hooks], **PRICED)
    llm.chat_completions(USER, metadata={"tenant_id": "acme"})
    llm.chat_completions(USER)
    samples = scrape(registry)
    assert samples["llmport_cost_usd_total", OK | labels(tenant_id="acme")] == pytest.approx(
        CALL_COST
    )
    assert samples["llmport_cost_usd_total", OK | labels(tenant_id="")] == pytest.approx(CALL_COST)
    assert samples["llmport_requests_total", OK | labels(error_kind="", tenant_id="acme")] == 1


def test_a_metadata_label_keeps_a_bounded_number_of_values() -> None:
    registry = CollectorRegistry()
    hooks = PrometheusHooks(registry, metadata_labels=["tenant_id"], max_label_values=2)
    llm = FakeLLM(hooks=[hooks])
    for name in ("a", "b", "c", "d", "a"):
        llm.chat_completions(USER, metadata={"tenant_id": name})
    tenants = {
        dict(key)["tenant_id"]: value
        for (name, key), value in scrape(registry).items()
        if name == "llmport_requests_total"
    }
    assert tenants == {"a": 2, "b": 1, "other": 2}


def test_an_overlong_metadata_label_value_is_counted_as_other() -> None:
    registry = CollectorRegistry()
    hooks = PrometheusHooks(registry, metadata_labels=["tenant_id"])
    llm = FakeLLM(hooks=[hooks])
    for _ in range(2):
        llm.chat_completions(USER, metadata={"tenant_id": "x" * 100_000})
    llm.chat_completions(USER, metadata={"tenant_id": "acme"})
    tenants = {
        dict(key)["tenant_id"]: value
        for (name, key), value in scrape(registry).items()
        if name == "llmport_requests_total"
    }
    assert tenants == {"other": 2, "acme": 1}


def test_metadata_labels_are_off_by_default() -> None:
    registry = CollectorRegistry()
    FakeLLM(hooks=[PrometheusHooks(registry)]).chat_completions(USER, metadata={"tenant_id": "x"})
    assert all("tenant_id" not in dict(key) for _, key in scrape(registry))


def test_other_metadata_labels_on_the_same_namespace_are_refused() -> None:
    registry = CollectorRegistry()
    PrometheusHooks(registry)
    with pytest.raises(ValueError, match="metadata labels"):
        PrometheusHooks(registry, metadata_labels=["tenant_id"])


def test_budget_refusals_are_counted_as_errors_of_their_kind() -> None:
    registry = CollectorRegistry()
    llm = FakeLLM(hooks=[PrometheusHooks(registry)], budget=Budget(usd=0))
    llm.chat_completions(USER)
    refused = labels(provider_id="fake", model="fake-model", status="error")
    kind = ErrorKind.BUDGET.value
    assert scrape(registry)["llmport_requests_total", refused | labels(error_kind=kind)] == 1


def test_the_span_carries_usage_and_the_cost_as_an_llmport_attribute() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    llm = FakeLLM([CACHED_ANSWER], hooks=[OpenTelemetryHooks(provider)], **PRICED)
    llm.chat_completions(USER)
    (span,) = exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.usage.input_tokens"] == 100
    assert attributes["gen_ai.usage.output_tokens"] == 10
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 40
    assert attributes["llmport.cost_usd"] == pytest.approx(100e-6 + 10 * 2e-6)


def test_logging_hooks_log_the_cost(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llmport.calls")
    FakeLLM(hooks=[LoggingHooks()], **PRICED).chat_completions(USER)
    (record,) = [r for r in caplog.records if r.name == "llmport.calls"]
    assert record.__dict__["cost_usd"] == pytest.approx(CALL_COST)


def test_the_call_log_carries_cost_usd(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llmport.base")
    FakeLLM(**PRICED).chat_completions(USER)
    (record,) = [r for r in caplog.records if r.name == "llmport.base"]
    assert record.__dict__["cost_usd"] == pytest.approx(CALL_COST)


def test_the_call_log_says_none_when_the_cost_is_unknown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llmport.base")
    FakeLLM(chat_model="x-unpriced").chat_completions(USER)
    (record,) = [r for r in caplog.records if r.name == "llmport.base"]
    assert record.__dict__["cost_usd"] is None


# --- a tenant id that holds the API key -----------------------------------------------------

SECRET_KEY = "Zq7pX9mLrT4vW2kN8sB5"
SECRET_TENANT = {"tenant_id": f"org-{SECRET_KEY}"}


def secret_holding_llm(**settings: Any) -> FakeLLM:
    return FakeLLM(api_key=SECRET_KEY, **{**PRICED, **settings})


def test_a_tenant_label_never_shows_the_api_key() -> None:
    registry = CollectorRegistry()
    hooks = PrometheusHooks(registry, metadata_labels=["tenant_id"])
    secret_holding_llm(hooks=[hooks]).chat_completions(USER, metadata=SECRET_TENANT)
    text = generate_latest(registry).decode()
    assert SECRET_KEY not in text
    assert 'tenant_id="org-[REDACTED]"' in text


def test_the_call_log_metadata_never_shows_the_api_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llmport.base")
    secret_holding_llm().chat_completions(USER, metadata=SECRET_TENANT)
    (record,) = [r for r in caplog.records if r.name == "llmport.base"]
    assert record.__dict__["metadata"] == {"tenant_id": "org-[REDACTED]"}


def test_logging_hooks_metadata_never_shows_the_api_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llmport.calls")
    secret_holding_llm(hooks=[LoggingHooks()]).chat_completions(USER, metadata=SECRET_TENANT)
    (record,) = [r for r in caplog.records if r.name == "llmport.calls"]
    assert record.__dict__["metadata"] == {"tenant_id": "org-[REDACTED]"}


def test_the_span_metadata_never_shows_the_api_key() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    llm = secret_holding_llm(hooks=[OpenTelemetryHooks(provider)])
    llm.chat_completions(USER, metadata=SECRET_TENANT)
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes or {})["llmport.metadata.tenant_id"] == "org-[REDACTED]"
