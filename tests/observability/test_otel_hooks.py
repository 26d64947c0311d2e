"""OpenTelemetryHooks: GenAI spans, read back from the SDK's in-memory exporter."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from llmport import ErrorKind, RetryPolicy
from llmport.observability.otel import OpenTelemetryHooks
from llmport.testing import FakeLLM, FakeToolCall

USER = [{"role": "user", "content": "What is the weather?"}]


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def test_a_call_is_one_client_span_with_genai_attributes(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    llm = FakeLLM(["Sunny."], hooks=[OpenTelemetryHooks(provider)], temperature=0.2)
    llm.chat_completions(USER, stop=["END"], max_tokens=50, metadata={"tenant_id": "t-1"})
    span = only_span(exporter)
    attributes = dict(span.attributes or {})
    assert (span.name, span.kind) == ("chat fake-model", SpanKind.CLIENT)
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "fake"
    assert attributes["gen_ai.request.model"] == "fake-model"
    assert (attributes["gen_ai.request.temperature"], attributes["gen_ai.request.max_tokens"]) == (
        0.2,
        50,
    )
    assert attributes["gen_ai.request.stop_sequences"] == ("END",)
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (
        10,
        5,
    )
    assert attributes["llmport.metadata.tenant_id"] == "t-1"
    assert span.status.status_code is StatusCode.UNSET


def test_content_is_excluded_by_default(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    FakeLLM(["Sunny."], hooks=[OpenTelemetryHooks(provider)]).chat_completions(USER)
    attributes = dict(only_span(exporter).attributes or {})
    assert "gen_ai.input.messages" not in attributes
    assert "gen_ai.output.messages" not in attributes
    assert all("weather" not in str(value) for value in attributes.values())


@pytest.mark.parametrize(
    "turn_on",
    [
        lambda mp: OpenTelemetryHooks,
        lambda mp: mp.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true"),
    ],
    ids=["argument", "env"],
)
def test_content_is_recorded_when_turned_on(
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    turn_on: Callable[[pytest.MonkeyPatch], object],
) -> None:
    by_argument = turn_on(monkeypatch) is OpenTelemetryHooks
    hooks = OpenTelemetryHooks(provider, capture_content=True if by_argument else None)
    llm = FakeLLM([FakeToolCall("get_weather", {"city": "Oslo"}, id="c1")], hooks=[hooks])
    llm.chat_completions(USER)
    attributes = dict(only_span(exporter).attributes or {})
    sent = json.loads(str(attributes["gen_ai.input.messages"]))
    answered = json.loads(str(attributes["gen_ai.output.messages"]))
    assert sent == [{"role": "user", "parts": [{"type": "text", "content": USER[0]["content"]}]}]
    assert answered[0]["parts"] == [
        {"type": "tool_call", "id": "c1", "name": "get_weather", "arguments": {"city": "Oslo"}}
    ]


def test_failures_set_error_status_type_and_retry_events(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    llm = FakeLLM(
        [ErrorKind.SERVER, ErrorKind.CONTEXT_LENGTH],
        hooks=[OpenTelemetryHooks(provider)],
        retry=RetryPolicy(initial_backoff=0),
    )
    llm.chat_completions(USER)
    span = only_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "context_length"
    (event,) = span.events
    assert event.name == "llmport.retry"
    assert (event.attributes or {})["error.type"] == "server"


async def test_concurrent_async_calls_get_separate_spans(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    import asyncio

    llm = FakeLLM(hooks=[OpenTelemetryHooks(provider)], latency=0.01)
    await asyncio.gather(*(llm.achat_completions(USER) for _ in range(5)))
    spans = exporter.get_finished_spans()
    assert len(spans) == 5
    assert len({span.context.span_id for span in spans if span.context}) == 5


def test_missing_opentelemetry_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.delitem(sys.modules, "llmport.observability.otel")
    with pytest.raises(ImportError, match=r"pip install 'llmport\[otel\]'"):
        importlib.import_module("llmport.observability.otel")
