"""Secret argument values never reappear in audit records or tool messages; a result that
JSON cannot hold is sent as text and never turns a tool that ran into a failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport.testing import FakeLLM, FakeToolCall
from llmport.tools import (
    AuditEvent,
    AuditEventKind,
    JSONLAuditWriter,
    ToolLoopResult,
    ToolLoopStatus,
    arun_tools,
    resume_tools,
    run_tools,
    tool,
)

USER = [{"role": "user", "content": "Log me in."}]
K = AuditEventKind
PASSWORD = "S3cret-pass"


@tool
def login(user: str, password: str) -> str:
    """Log in to the service."""
    raise PermissionError(f"login failed for {user} with password {password}")


@tool
def echo_login(user: str, password: str) -> dict[str, str]:
    """Log in and echo what was sent."""
    return {"user": user, "note": f"you typed {password}"}


@tool
def write_note(text: str) -> str:
    """Write a note."""
    return f"noted: {text}"


def tool_messages(result: ToolLoopResult) -> list[str]:
    return [m["content"] for m in result.messages if m["role"] == "tool"]


def audited_run(script: list[Any], tools: list[Any]) -> tuple[ToolLoopResult, list[AuditEvent]]:
    events: list[AuditEvent] = []
    result = run_tools(FakeLLM(script), USER, tools, audit=events.append)
    return result, events


def all_text(events: list[AuditEvent]) -> str:
    return json.dumps([e.to_dict() for e in events], default=str)


def test_a_tool_error_repeating_a_password_is_redacted_in_the_audit_and_for_the_model() -> None:
    call = FakeToolCall("login", {"user": "ana", "password": PASSWORD})
    result, events = audited_run([call, "Login failed."], [login])
    error = next(e for e in events if e.kind is K.TOOL_ERROR).error
    assert error == "Error: PermissionError: login failed for ana with password [REDACTED]"
    assert tool_messages(result) == [error]
    assert PASSWORD not in all_text(events)


def test_a_result_repeating_a_secret_is_redacted() -> None:
    call = FakeToolCall("echo_login", {"user": "ana", "password": PASSWORD})
    result, events = audited_run([call, "Done."], [echo_login])
    assert tool_messages(result) == ['{"user":"ana","note":"you typed [REDACTED]"}']
    assert PASSWORD not in all_text(events)


def test_a_secret_passed_on_to_a_later_call_is_redacted_there_too() -> None:
    first = FakeToolCall("echo_login", {"user": "ana", "password": PASSWORD})
    second = FakeToolCall("write_note", {"text": f"the password is {PASSWORD}"})
    result, events = audited_run([first, second, "Done."], [echo_login, write_note])
    note = next(e for e in events if e.kind is K.TOOL_CALL and e.tool_name == "write_note")
    assert note.arguments == {"text": "the password is [REDACTED]"}
    assert tool_messages(result)[1] == "noted: the password is [REDACTED]"
    assert PASSWORD not in all_text(events)


def test_the_jsonl_file_never_holds_the_secret(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    call = FakeToolCall("login", {"user": "ana", "password": PASSWORD})
    run_tools(FakeLLM([call, "Failed."]), USER, [login], audit=JSONLAuditWriter(log))
    assert PASSWORD not in log.read_text()
    assert "with password [REDACTED]" in log.read_text()


def test_secrets_from_before_a_pause_stay_hidden_after_resume() -> None:
    @tool(requires_confirmation=True)
    def publish(text: str) -> str:
        """Publish a text."""
        return f"published: {text}"

    first = FakeToolCall("echo_login", {"user": "ana", "password": PASSWORD})
    later = FakeToolCall("publish", {"text": f"pw {PASSWORD}"}, id="pub")
    tools = [echo_login, publish]
    paused = run_tools(FakeLLM([first, later]), USER, tools)
    assert paused.pending is not None
    events: list[AuditEvent] = []
    final = resume_tools(FakeLLM(["Ok."]), paused.pending, tools, True, audit=events.append)
    assert tool_messages(final)[-1] == "published: pw [REDACTED]"
    assert PASSWORD not in all_text(events)


@given(
    secret=st.text(alphabet=st.characters(categories=["L", "N"]), min_size=4, max_size=20),
    prefix=st.text(max_size=10),
)
def test_any_secret_value_is_hidden_wherever_it_reappears(secret: str, prefix: str) -> None:
    call = FakeToolCall("login", {"user": "u", "password": secret})
    result, events = audited_run([call, "Failed."], [login])
    assert secret not in tool_messages(result)[0].replace("[REDACTED]", "")
    error = next(e for e in events if e.kind is K.TOOL_ERROR).error
    assert error is not None
    assert secret not in error.replace("[REDACTED]", "")


def test_short_secret_values_are_not_hidden_everywhere() -> None:
    call = FakeToolCall("login", {"user": "ana", "password": "ana"})
    result, _ = audited_run([call, "Failed."], [login])
    assert "for ana with" in tool_messages(result)[0]


# --- results JSON cannot hold -------------------------------------------------------------


@tool
def raw_bytes() -> bytes:
    """Bytes that are not UTF-8."""
    return b"\xff\xfeabc"


@tool
def circular() -> dict[str, Any]:
    """A dict that contains itself."""
    value: dict[str, Any] = {"name": "loop"}
    value["self"] = value
    return value


@pytest.mark.parametrize(
    ("function", "content"),
    [(raw_bytes, "\ufffd\ufffdabc"), (circular, "{'name': 'loop', 'self': {...}}")],
)
def test_an_unserialisable_result_is_sent_as_text_and_recorded(
    function: Any, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    call = FakeToolCall(function.name, {})
    result, events = audited_run([call, "Done."], [function])
    assert result.status is ToolLoopStatus.COMPLETED
    assert tool_messages(result) == [content]
    kinds = [e.kind for e in events]
    assert K.TOOL_ERROR not in kinds
    returned = next(e for e in events if e.kind is K.TOOL_RESULT)
    assert returned.result == content
    assert returned.warning is not None
    assert "not JSON-serialisable" in returned.warning
    assert "not JSON-serialisable" in caplog.text


async def test_an_unserialisable_result_is_not_a_failure_in_the_async_loop() -> None:
    events: list[AuditEvent] = []
    call = FakeToolCall("raw_bytes", {})
    result = await arun_tools(FakeLLM([call, "Done."]), USER, [raw_bytes], audit=events.append)
    assert tool_messages(result) == ["\ufffd\ufffdabc"]
    assert [e.kind for e in events if e.tool_name] == [K.TOOL_CALL, K.TOOL_RESULT]


# --- secrets in other shapes --------------------------------------------------------------


@tool
def charge(card: str, api_key: int) -> str:
    """Charge a card with a numeric key."""
    raise RuntimeError(f"key {api_key} refused")


def test_a_numeric_secret_argument_is_hidden_in_every_event() -> None:
    call = FakeToolCall("charge", {"card": "visa", "api_key": 987654})
    result, events = audited_run([call, "Failed."], [charge])
    assert "987654" not in all_text(events)
    assert tool_messages(result) == ["Error: RuntimeError: key [REDACTED] refused"]


def test_a_secret_the_result_escapes_as_json_is_hidden_too() -> None:
    secret = 'pa"ss\\word\nend'
    call = FakeToolCall("echo_login", {"user": "ana", "password": secret})
    result, events = audited_run([call, "Done."], [echo_login])
    escaped = json.dumps(secret)[1:-1]
    assert escaped not in tool_messages(result)[0]
    assert escaped not in all_text(events)
    assert json.loads(tool_messages(result)[0])["note"] == "you typed [REDACTED]"


@tool
def echo_secret(password: str) -> dict[str, str]:
    """Echo the password back."""
    return {"echo": password}


@given(secret=st.text(min_size=4, max_size=20))
def test_any_secret_is_hidden_in_a_json_result_whatever_its_characters(secret: str) -> None:
    call = FakeToolCall("echo_secret", {"password": secret})
    result, _ = audited_run([call, "Done."], [echo_secret])
    assert json.loads(tool_messages(result)[0]) == {"echo": "[REDACTED]"}


def test_a_short_secret_is_hidden_under_its_own_name_in_the_events_hooks_get() -> None:
    call = FakeToolCall("echo_login", {"user": "ana", "password": "abc"})
    _, events = audited_run([call, "Done."], [echo_login])
    arguments = [e.arguments for e in events if e.arguments is not None]
    assert arguments == [{"user": "ana", "password": "[REDACTED]"}]
