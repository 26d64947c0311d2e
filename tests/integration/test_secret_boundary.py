"""A server that echoes the caller's key gets it nowhere: one redaction pass at the boundary.

Every provider, every entry point: the key never reaches a string of the response or
of an event, a repr, `to_message()`, a log record or a hook. Only `response.raw` (the
provider payload, documented as such) keeps what the server sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hostile import (
    PATHS,
    PROVIDERS,
    HostileServer,
    Reply,
    Request,
    call_path,
    json_reply,
    make_llm,
    sse_reply,
    strings_in,
)

from llmport import LLMHooks, LLMResponse
from llmport.cli import main
from llmport.observability import LoggingHooks
from llmport.streaming import FinishEvent, ReasoningDelta, StreamEvent, TextDelta, ToolCallDelta

pytestmark = pytest.mark.integration

#: Not shaped like any known credential: only knowing it as a secret can hide it.
KEY = "qz7-canary-Ahx93kLmW2"


def echoed_key(request: Request) -> str:
    """The credential the client sent, whichever header carried it."""
    for name in ("api-key", "x-api-key", "authorization"):
        if name in request.headers:
            return request.headers[name].removeprefix("Bearer ")
    return "no-key-sent"


def echo_everywhere(request: Request) -> Reply:
    """Put the caller's key in every field a completion has."""
    key = echoed_key(request)
    if request.body.get("stream"):
        half = len(key) // 2
        return sse_reply(
            [
                {"id": key, "model": key, "choices": [{"index": 0, "delta": {"content": "a "}}]},
                {"id": key, "choices": [{"index": 0, "delta": {"content": key[:half]}}]},
                {"id": key, "choices": [{"index": 0, "delta": {"content": key[half:] + " b"}}]},
                {"id": key, "choices": [{"index": 0, "delta": {"reasoning_content": key}}]},
                {
                    "id": key,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": 0,
                                        "id": key,
                                        "type": "function",
                                        "function": {"name": key, "arguments": '{"k": "'},
                                    }
                                ]
                            },
                        }
                    ],
                },
                {
                    "id": key,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [{"index": 0, "function": {"arguments": key + '"}'}}]
                            },
                            "finish_reason": "tool_calls",
                        }
                    ],
                },
                {"id": key, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
            ]
        )
    message = {
        "role": "assistant",
        "content": f"a {key} b",
        "reasoning_content": key,
        "tool_calls": [
            {
                "id": key,
                "type": "function",
                "function": {"name": key, "arguments": json.dumps({"k": key})},
            }
        ],
    }
    return json_reply(
        {
            "id": key,
            "object": "chat.completion",
            "created": 1,
            "model": key,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )


def echo_in_error(request: Request) -> Reply:
    key = echoed_key(request)
    return json_reply({"error": {"message": f"bad key {key}", "type": "server_error"}}, 500)


@pytest.fixture(scope="module")
def everywhere() -> Iterator[HostileServer]:
    with HostileServer(echo_everywhere) as server:
        yield server


class Recorder(LLMHooks):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def on_response(self, llm: Any, request: Any, response: LLMResponse) -> None:
        self.seen.append(response)

    def on_error(self, llm: Any, request: Any, response: LLMResponse) -> None:
        self.seen.append(response)


def leaks(response: LLMResponse, events: list[StreamEvent]) -> list[str]:
    """Every place the key still shows."""
    found = [s for s in strings_in([response, events]) if KEY in s]
    texts = {
        kind: "".join(getattr(e, "text", "") for e in events if isinstance(e, kind))
        for kind in (TextDelta, ReasoningDelta)
    }
    arguments = "".join(e.arguments for e in events if isinstance(e, ToolCallDelta))
    found += [t for t in (*texts.values(), arguments) if KEY in t]
    found += [
        text
        for text in (repr(response), str(response), json.dumps(response.to_message()))
        if KEY in text
    ]
    return found


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", PATHS)
def test_echoed_api_key_reaches_no_field_and_no_event(
    provider: str, path: str, everywhere: HostileServer
) -> None:
    llm = make_llm(provider, everywhere, api_key=KEY)
    response, events = call_path_checked(llm, path)
    assert response.ok
    assert "[REDACTED]" in response.content
    assert leaks(response, events) == []


def call_path_checked(llm: Any, path: str) -> tuple[LLMResponse, list[StreamEvent]]:
    response, events = call_path(llm, path)
    if path in ("stream", "astream"):
        assert isinstance(events[-1], FinishEvent)
    return response, events


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", PATHS)
def test_echoed_auth_header_is_redacted_like_a_key(
    provider: str, path: str, everywhere: HostileServer
) -> None:
    # litellm refuses to call OpenAI without a key, so it gets one that is not echoed.
    llm = make_llm(provider, everywhere, api_key="sk-unused-000", extra_headers={"api-key": KEY})
    response, events = call_path_checked(llm, path)
    assert everywhere.requests[-1].headers["api-key"] == KEY
    assert response.ok
    assert leaks(response, events) == []


@pytest.mark.parametrize("path", PATHS)
def test_key_litellm_reads_from_the_environment_is_redacted(
    path: str, everywhere: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    llm = make_llm("litellm", everywhere)
    response, events = call_path_checked(llm, path)
    assert response.ok
    assert leaks(response, events) == []


@pytest.mark.parametrize("path", PATHS)
def test_environment_key_set_after_the_provider_was_built_is_redacted(
    path: str, everywhere: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    llm = make_llm("litellm", everywhere)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # set (or rotated) at run time
    response, events = call_path_checked(llm, path)
    assert response.ok
    assert leaks(response, events) == []


@pytest.mark.parametrize("path", PATHS)
def test_environment_key_echoed_in_an_error_stays_out_of_the_message(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with HostileServer(echo_in_error) as server:
        response, events = call_path_checked(make_llm("litellm", server), path)
    assert response.error is not None
    assert KEY not in response.error.message
    assert leaks(response, events) == []


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", PATHS)
def test_key_of_any_shape_echoed_in_an_error_stays_out_of_the_message(
    provider: str, path: str
) -> None:
    with HostileServer(echo_in_error) as server:
        response, events = call_path_checked(make_llm(provider, server, api_key=KEY), path)
    assert response.error is not None
    assert KEY not in response.error.message
    assert leaks(response, events) == []


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", PATHS)
def test_hooks_and_log_records_see_only_redacted_values(
    provider: str, path: str, everywhere: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="llmport")
    recorder = Recorder()
    llm = make_llm(provider, everywhere, api_key=KEY, hooks=[recorder, LoggingHooks()])
    call_path_checked(llm, path)
    assert recorder.seen
    assert [s for s in strings_in(recorder.seen) if KEY in s] == []
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in repr(record.__dict__)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_raw_payload_keeps_what_the_server_sent(provider: str, everywhere: HostileServer) -> None:
    response = make_llm(provider, everywhere, api_key=KEY).chat_completions(
        [{"role": "user", "content": "Hi"}]
    )
    assert KEY in json.dumps(response.raw, default=str)
    assert KEY not in repr(response)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "argv", [["ping"], ["ping", "--json"], ["chat", "hi", "--stream"], ["chat", "hi", "--json"]]
)
def test_cli_output_never_shows_an_echoed_key(
    provider: str,
    argv: list[str],
    everywhere: HostileServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DEFAULT_LLM", provider)
    if provider == "litellm":
        monkeypatch.setenv("LITELLM_CHAT_MODEL", "openai/m")
        monkeypatch.setenv("LITELLM_API_BASE", everywhere.base_url)
        monkeypatch.setenv("LITELLM_API_KEY", KEY)
    else:
        monkeypatch.setenv("OPENAI_COMPATIBLE_CHAT_MODEL", "m")
        monkeypatch.setenv("OPENAI_COMPATIBLE_BASE_URL", everywhere.base_url)
        monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", KEY)
    main(argv)
    out, err = capsys.readouterr()
    assert "REDACTED" in out
    assert KEY not in out + err


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", PATHS)
def test_span_attributes_never_hold_an_echoed_key(
    provider: str, path: str, everywhere: HostileServer
) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from llmport.observability.otel import OpenTelemetryHooks

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    hooks = OpenTelemetryHooks(tracer_provider=tracer_provider, capture_content=True)
    call_path(make_llm(provider, everywhere, api_key=KEY, hooks=[hooks]), path)
    (span,) = exporter.get_finished_spans()
    assert "REDACTED" in json.dumps(dict(span.attributes or {}), default=str)
    assert KEY not in json.dumps(dict(span.attributes or {}), default=str)
    assert KEY not in json.dumps([dict(e.attributes or {}) for e in span.events], default=str)


@pytest.mark.parametrize("path", PATHS)
def test_key_of_a_per_call_backend_is_redacted(
    path: str, everywhere: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOSTED_VLLM_API_KEY", KEY)
    llm = make_llm("litellm", everywhere)  # configured for openai/m, with no key of its own
    response, events = call_path(llm, path, model="hosted_vllm/m")
    assert everywhere.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert response.ok
    assert leaks(response, events) == []
