"""Audit: every step of the loop reaches the audit hooks; the JSONL writer is safe to leave on."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from llmport import Usage
from llmport.testing import FakeLLM, FakeToolCall
from llmport.tools import (
    AuditEvent,
    AuditEventKind,
    JSONLAuditWriter,
    ToolLoopStatus,
    resume_tools,
    run_tools,
    tool,
)

USER = [{"role": "user", "content": "Weather in Paris?"}]
K = AuditEventKind


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    if city == "Atlantis":
        raise LookupError("unknown city")
    return f"{city}: sunny"


@tool(requires_confirmation=True)
def call_service(url: str, api_key: str, max_tokens: int = 100) -> str:
    """Call a paid service."""
    return "sk-result-0123456789abcdef"


def audited(script: list[Any], tools: Any = (get_weather,), **kwargs: Any) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    run_tools(FakeLLM(script), USER, list(tools), audit=events.append, **kwargs)
    return events


def weather(city: str = "Paris") -> FakeToolCall:
    return FakeToolCall("get_weather", {"city": city}, id="w1")


def test_every_step_of_a_tool_round_is_reported_in_order() -> None:
    events = audited([weather(), "Sunny."])
    assert [e.kind for e in events] == [
        K.LLM_CALL,
        K.TOOL_CALL,
        K.TOOL_RESULT,
        K.LLM_CALL,
        K.LOOP_END,
    ]
    assert len({e.run_id for e in events}) == 1
    assert [e.iteration for e in events] == [1, 1, 1, 2, 2]


def test_llm_call_events_carry_model_status_and_usage() -> None:
    event = audited(["Hi."])[0]
    assert event.model == "fake-model"
    assert event.status == "success"
    assert event.usage == Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)


def test_tool_events_carry_arguments_result_and_duration() -> None:
    call, result = audited([weather(), "Sunny."])[1:3]
    assert (call.tool_call_id, call.tool_name, call.arguments) == (
        "w1",
        "get_weather",
        {"city": "Paris"},
    )
    assert result.result == "Paris: sunny"
    assert result.duration_ms is not None
    assert result.duration_ms >= 0


def test_tool_exceptions_are_reported_as_tool_errors() -> None:
    event = audited([weather("Atlantis"), "Sorry."])[2]
    assert event.kind is K.TOOL_ERROR
    assert event.error == "Error: LookupError: unknown city"
    assert event.duration_ms is not None


def test_invalid_arguments_are_reported_as_tool_errors() -> None:
    events = audited([FakeToolCall("get_weather", {}), "Sorry."])
    assert [e.kind for e in events][:2] == [K.LLM_CALL, K.TOOL_ERROR]
    assert events[1].error == "Error: invalid arguments for get_weather: city: Field required"


def test_loop_end_reports_status_and_summed_usage() -> None:
    end = audited([weather(), "Sunny."])[-1]
    assert end.status == "completed"
    assert end.usage == Usage(prompt_tokens=20, completion_tokens=10, total_tokens=30)


SERVICE = FakeToolCall("call_service", {"url": "https://x", "api_key": "k-123"}, id="s1")


def test_confirmation_decisions_are_reported_across_resume() -> None:
    events: list[AuditEvent] = []
    llm = FakeLLM([SERVICE, "Done."])
    result = run_tools(llm, USER, [call_service], audit=events.append)
    assert result.pending is not None
    resume_tools(llm, result.pending, [call_service], approve=False, audit=events.append)
    kinds = [e.kind for e in events]
    assert kinds == [
        K.LLM_CALL,
        K.CONFIRMATION_REQUESTED,
        K.LOOP_END,
        K.CONFIRMATION,
        K.LLM_CALL,
        K.LOOP_END,
    ]
    assert events[3].approved is False
    assert len({e.run_id for e in events}) == 1


def test_confirm_callback_decisions_are_reported() -> None:
    events = audited([SERVICE, "Done."], tools=[call_service], confirm=lambda call: True)
    decision = next(e for e in events if e.kind is K.CONFIRMATION)
    assert (decision.tool_call_id, decision.approved) == ("s1", True)


def test_a_failing_audit_hook_never_fails_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: AuditEvent) -> None:
        raise RuntimeError("audit backend down")

    result = run_tools(FakeLLM([weather(), "Sunny."]), USER, [get_weather], audit=[broken])
    assert result.status is ToolLoopStatus.COMPLETED
    assert "audit hook" in caplog.text


def test_event_to_dict_is_json_safe_and_leaves_out_unset_fields() -> None:
    event = AuditEvent(kind=K.LOOP_END, run_id="r", iteration=2, timestamp=1.0, usage=Usage())
    assert event.to_dict() == {
        "kind": "loop_end",
        "run_id": "r",
        "iteration": 2,
        "timestamp": 1.0,
        "usage": {
            "prompt_tokens": None,
            "completion_tokens": None,
            "total_tokens": None,
            "cached_tokens": None,
            "reasoning_tokens": None,
        },
    }


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_writer_appends_one_json_object_per_event(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    run_tools(FakeLLM([weather(), "Sunny."]), USER, [get_weather], audit=JSONLAuditWriter(path))
    records = read_lines(path)
    assert [r["kind"] for r in records] == [
        "llm_call",
        "tool_call",
        "tool_result",
        "llm_call",
        "loop_end",
    ]
    assert records[1]["arguments"] == {"city": "Paris"}


def test_jsonl_writer_keeps_events_holding_a_lone_surrogate(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    city = "Par\ud800is"
    script: list[Any] = [weather(city), "Sunny."]
    run_tools(FakeLLM(script), USER, [get_weather], audit=JSONLAuditWriter(path))
    records = read_lines(path)
    assert [r["kind"] for r in records] == [
        "llm_call",
        "tool_call",
        "tool_result",
        "llm_call",
        "loop_end",
    ]
    assert records[1]["arguments"] == {"city": city}


def test_jsonl_writer_never_records_secret_arguments(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    writer = JSONLAuditWriter(path)
    writer(
        AuditEvent(
            kind=K.TOOL_CALL,
            run_id="r",
            iteration=1,
            arguments={
                "url": "https://x",
                "api_key": "k-123",
                "headers": {"Authorization": "Basic abc", "X-Trace": "t"},
                "password": "hunter2",
                "access_token": "tok",
                "max_tokens": 100,
            },
        )
    )
    assert read_lines(path)[0]["arguments"] == {
        "url": "https://x",
        "api_key": "[REDACTED]",
        "headers": {"Authorization": "[REDACTED]", "X-Trace": "t"},
        "password": "[REDACTED]",
        "access_token": "[REDACTED]",
        "max_tokens": 100,
    }


def test_jsonl_writer_redacts_credentials_anywhere(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    writer = JSONLAuditWriter(path, secrets=["my-own-secret-value"])
    writer(AuditEvent(kind=K.TOOL_RESULT, run_id="r", iteration=1, result="sk-abcdef0123456789"))
    writer(AuditEvent(kind=K.TOOL_ERROR, run_id="r", iteration=1, error="my-own-secret-value"))
    text = path.read_text(encoding="utf-8")
    assert "abcdef0123456789" not in text
    assert "my-own-secret-value" not in text
    assert text.count("[REDACTED]") == 2


def test_an_unwritable_audit_file_never_fails_the_loop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = JSONLAuditWriter(tmp_path / "missing-dir" / "audit.jsonl")
    with caplog.at_level(logging.DEBUG, logger="llmport.tools.audit"):
        result = run_tools(FakeLLM([weather(), "Sunny."]), USER, [get_weather], audit=writer)
    assert result.status is ToolLoopStatus.COMPLETED
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "could not write" in warnings[0].getMessage()


def test_hooks_is_another_name_for_audit() -> None:
    from llmport.testing import FakeLLM
    from llmport.tools import run_tools

    seen: list[AuditEvent] = []
    run_tools(FakeLLM(["done"]), [{"role": "user", "content": "hi"}], [], hooks=seen.append)
    assert seen
