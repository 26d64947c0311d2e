"""PrometheusHooks: counters, histogram and tokens, read back by scraping a real registry."""

from __future__ import annotations

import importlib
import sys

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from llmport import ErrorKind, RetryPolicy
from llmport.observability.prometheus import PrometheusHooks
from llmport.testing import FakeLLM

USER = [{"role": "user", "content": "hi"}]


def scrape(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition text, keyed by name and labels."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_calls_latency_and_tokens_are_exported(registry: CollectorRegistry) -> None:
    llm = FakeLLM(["a", "b"], hooks=[PrometheusHooks(registry)])
    llm.chat_completions(USER)
    llm.chat_completions(USER)
    samples = scrape(registry)
    ok = labels(provider_id="fake", model="fake-model", status="success")
    assert samples["llmport_requests_total", ok | labels(error_kind="")] == 2
    assert samples["llmport_request_latency_seconds_count", ok] == 2
    assert samples["llmport_request_latency_seconds_bucket", ok | labels(le="+Inf")] == 2
    assert samples["llmport_tokens_total", ok | labels(kind="prompt")] == 20
    assert samples["llmport_tokens_total", ok | labels(kind="completion")] == 10


def test_errors_and_retries_are_labelled_by_kind(registry: CollectorRegistry) -> None:
    llm = FakeLLM(
        [ErrorKind.RATE_LIMIT, ErrorKind.AUTH],
        hooks=[PrometheusHooks(registry)],
        retry=RetryPolicy(initial_backoff=0),
    )
    llm.chat_completions(USER)
    samples = scrape(registry)
    failed = labels(provider_id="fake", model="fake-model", status="error", error_kind="auth")
    assert samples["llmport_requests_total", failed] == 1
    retried = labels(provider_id="fake", model="fake-model", error_kind="rate_limit")
    assert samples["llmport_retries_total", retried] == 1


def test_hooks_on_one_registry_share_their_metrics(registry: CollectorRegistry) -> None:
    FakeLLM(hooks=[PrometheusHooks(registry)]).chat_completions(USER)
    FakeLLM(hooks=[PrometheusHooks(registry)]).chat_completions(USER)
    ok = labels(provider_id="fake", model="fake-model", status="success", error_kind="")
    assert scrape(registry)["llmport_requests_total", ok] == 2


def test_missing_prometheus_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.delitem(sys.modules, "llmport.observability.prometheus")
    with pytest.raises(ImportError, match=r"pip install 'llmport\[prometheus\]'"):
        importlib.import_module("llmport.observability.prometheus")
