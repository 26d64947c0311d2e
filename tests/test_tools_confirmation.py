"""The confirmation gate: tools marked `requires_confirmation` wait for the app's decision."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from llmport import ToolCall, Usage
from llmport.testing import FakeLLM, FakeToolCall
from llmport.tools import (
    REJECTED,
    PendingConfirmation,
    ToolLoopResult,
    ToolLoopStatus,
    aresume_tools,
    arun_tools,
    resume_tools,
    run_tools,
    tool,
)

USER = [{"role": "user", "content": "Weather in Paris? Email it to ana@example.com."}]
sent: list[str] = []


@pytest.fixture(autouse=True)
def _forget_emails() -> None:
    sent.clear()


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: 21 C, sunny"


@tool(requires_confirmation=True)
def send_email(to: str, body: str) -> str:
    """Send an email."""
    sent.append(to)
    return f"sent to {to}"


TOOLS = [get_weather, send_email]
EMAIL = FakeToolCall("send_email", {"to": "ana@example.com", "body": "Sunny"}, id="mail")


def tool_messages(result: ToolLoopResult) -> dict[str, str]:
    return {m["tool_call_id"]: m["content"] for m in result.messages if m["role"] == "tool"}


def paused(*script: Any) -> tuple[FakeLLM, ToolLoopResult]:
    llm = FakeLLM([EMAIL, *script])
    result = run_tools(llm, USER, TOOLS)
    assert result.pending is not None
    return llm, result


def test_tool_needing_confirmation_stops_the_loop_before_running() -> None:
    llm, result = paused()
    assert result.status is ToolLoopStatus.PENDING_CONFIRMATION
    assert sent == []
    assert llm.call_count == 1
    assert result.response.tool_calls[0].id == "mail"


def test_pending_names_the_call_awaiting_approval() -> None:
    _, result = paused()
    assert result.pending is not None
    assert result.pending.calls == [
        ToolCall(id="mail", name="send_email", arguments={"to": "ana@example.com", "body": "Sunny"})
    ]
    assert result.pending.iterations == 1
    assert result.pending.run_id == result.run_id


def test_pending_transcript_ends_with_the_unanswered_request() -> None:
    _, result = paused()
    assert result.pending is not None
    assert [m["role"] for m in result.pending.messages] == ["user", "assistant"]


def test_pending_round_trips_through_json() -> None:
    _, result = paused()
    assert result.pending is not None
    text = json.dumps(result.pending.to_dict())
    assert PendingConfirmation.from_dict(json.loads(text)) == result.pending


@pytest.mark.parametrize(
    "data",
    [{}, {"version": 2}, {"version": 1, "run_id": "r", "iterations": 1, "usage": {}, "calls": []}],
    ids=["empty", "future-version", "no-calls"],
)
def test_malformed_pending_data_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not a pending confirmation"):
        PendingConfirmation.from_dict(data)


def test_approving_runs_the_tool_and_continues() -> None:
    llm, result = paused("Email sent.")
    assert result.pending is not None
    resumed = resume_tools(llm, result.pending, TOOLS, approve=True)
    assert resumed.status is ToolLoopStatus.COMPLETED
    assert resumed.content == "Email sent."
    assert sent == ["ana@example.com"]
    assert tool_messages(resumed) == {"mail": "sent to ana@example.com"}


def test_rejecting_tells_the_model_and_continues() -> None:
    llm, result = paused("Okay, I will not send it.")
    assert result.pending is not None
    resumed = resume_tools(llm, result.pending, TOOLS, approve=False)
    assert resumed.status is ToolLoopStatus.COMPLETED
    assert sent == []
    assert tool_messages(resumed) == {"mail": REJECTED}
    assert llm.last_messages[-1] == {"role": "tool", "tool_call_id": "mail", "content": REJECTED}


def test_resume_keeps_counting_iterations_and_usage() -> None:
    llm, result = paused("Email sent.")
    assert result.pending is not None
    resumed = resume_tools(llm, result.pending, TOOLS, approve=True)
    assert resumed.iterations == 2
    assert resumed.usage == Usage(prompt_tokens=20, completion_tokens=10, total_tokens=30)
    assert resumed.run_id == result.run_id


def test_resume_works_in_another_request_from_stored_json() -> None:
    _, result = paused()
    assert result.pending is not None
    stored = json.dumps(result.pending.to_dict())
    # Later, in another request, with a fresh client:
    pending = PendingConfirmation.from_dict(json.loads(stored))
    resumed = resume_tools(FakeLLM(["Email sent."]), pending, TOOLS, approve=True)
    assert resumed.status is ToolLoopStatus.COMPLETED
    assert sent == ["ana@example.com"]
    assert [m["role"] for m in resumed.messages] == ["user", "assistant", "tool", "assistant"]


def test_calls_without_confirmation_in_the_same_turn_run_before_stopping() -> None:
    weather = FakeToolCall("get_weather", {"city": "Paris"}, id="weather")
    result = run_tools(FakeLLM([[EMAIL, weather]]), USER, TOOLS)
    assert result.pending is not None
    assert [call.id for call in result.pending.calls] == ["mail"]
    assert tool_messages(result) == {"weather": "Paris: 21 C, sunny"}


def test_each_pending_call_can_be_decided_separately() -> None:
    other = FakeToolCall("send_email", {"to": "bob@example.com", "body": "Sunny"}, id="mail2")
    llm = FakeLLM([[EMAIL, other], "One sent."])
    result = run_tools(llm, USER, TOOLS)
    assert result.pending is not None
    resumed = resume_tools(llm, result.pending, TOOLS, approve={"mail": False, "mail2": True})
    assert sent == ["bob@example.com"]
    assert tool_messages(resumed) == {"mail": REJECTED, "mail2": "sent to bob@example.com"}


@pytest.mark.parametrize(
    "approve", [{}, {"mail": True, "other": True}], ids=["missing", "not-pending"]
)
def test_approval_dict_must_cover_exactly_the_pending_calls(approve: dict[str, bool]) -> None:
    llm, result = paused()
    assert result.pending is not None
    with pytest.raises(ValueError, match="exactly the pending calls"):
        resume_tools(llm, result.pending, TOOLS, approve=approve)


def test_resume_refuses_a_budget_already_spent() -> None:
    llm, result = paused()
    assert result.pending is not None
    with pytest.raises(ValueError, match="max_iterations=1 leaves no room"):
        resume_tools(llm, result.pending, TOOLS, approve=True, max_iterations=1)


MALFORMED_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"temperature": "hot"}, "temperature must be a number"),
    ({"metadata": ["not", "a", "dict"]}, "metadata must be a dict"),
    ({"timeout": -1}, "timeout must be a positive number"),
    ({"max_tokens": 0}, "max_tokens must be positive"),
]


def resume_through(entry: str, pending: PendingConfirmation, **options: Any) -> ToolLoopResult:
    llm = FakeLLM(["Email sent."])
    if entry == "resume_tools":
        return resume_tools(llm, pending, TOOLS, approve=True, **options)
    return asyncio.run(aresume_tools(llm, pending, TOOLS, approve=True, **options))


@pytest.mark.parametrize(("options", "message"), MALFORMED_OPTIONS, ids=lambda o: str(o)[:14])
@pytest.mark.parametrize("entry", ["resume_tools", "aresume_tools"])
def test_resume_with_a_malformed_option_raises_before_any_tool_runs(
    entry: str, options: dict[str, Any], message: str
) -> None:
    _, result = paused()
    assert result.pending is not None
    with pytest.raises(ValueError, match=message):
        resume_through(entry, result.pending, **options)
    assert sent == []
    # Nothing was spent: the same state can still be resumed with correct options.
    assert resume_through(entry, result.pending).content == "Email sent."
    assert sent == ["ana@example.com"]


def test_confirm_callback_approves_without_stopping() -> None:
    asked: list[ToolCall] = []

    def confirm(call: ToolCall) -> bool:
        asked.append(call)
        return True

    result = run_tools(FakeLLM([EMAIL, "Sent."]), USER, TOOLS, confirm=confirm)
    assert result.status is ToolLoopStatus.COMPLETED
    assert sent == ["ana@example.com"]
    assert [(c.name, c.arguments["to"]) for c in asked] == [("send_email", "ana@example.com")]


def test_confirm_callback_rejection_tells_the_model() -> None:
    result = run_tools(FakeLLM([EMAIL, "Not sent."]), USER, TOOLS, confirm=lambda call: False)
    assert sent == []
    assert tool_messages(result) == {"mail": REJECTED}


def test_confirm_is_only_asked_for_tools_that_need_it() -> None:
    asked: list[str] = []

    def confirm(call: ToolCall) -> bool:
        asked.append(call.name)
        return True

    weather = FakeToolCall("get_weather", {"city": "Paris"})
    run_tools(FakeLLM([weather, "Sunny."]), USER, TOOLS, confirm=confirm)
    assert asked == []


def test_only_true_counts_as_approval() -> None:
    run_tools(FakeLLM([EMAIL, "Ok."]), USER, TOOLS, confirm=lambda call: "yes")  # type: ignore[arg-type,return-value]
    assert sent == []


def test_a_confirm_callback_that_raises_rejects() -> None:
    def confirm(call: ToolCall) -> bool:
        raise ConnectionError("approval service down")

    result = run_tools(FakeLLM([EMAIL, "Not sent."]), USER, TOOLS, confirm=confirm)
    assert result.status is ToolLoopStatus.COMPLETED
    assert sent == []
    assert tool_messages(result) == {"mail": REJECTED}


def test_an_async_confirm_in_the_sync_loop_is_a_programming_error() -> None:
    async def confirm(call: ToolCall) -> bool:
        return True

    with pytest.raises(TypeError, match="arun_tools"):
        run_tools(FakeLLM([EMAIL]), USER, TOOLS, confirm=confirm)  # type: ignore[arg-type]


async def test_async_loop_accepts_an_async_confirm_callback() -> None:
    async def confirm(call: ToolCall) -> bool:
        return str(call.arguments["to"]).endswith("@example.com")

    result = await arun_tools(FakeLLM([EMAIL, "Sent."]), USER, TOOLS, confirm=confirm)
    assert result.status is ToolLoopStatus.COMPLETED
    assert sent == ["ana@example.com"]


async def test_async_resume_runs_approved_calls() -> None:
    llm = FakeLLM([EMAIL, "Sent."])
    result = await arun_tools(llm, USER, TOOLS)
    assert result.pending is not None
    resumed = await aresume_tools(llm, result.pending, TOOLS, approve=True)
    assert resumed.status is ToolLoopStatus.COMPLETED
    assert sent == ["ana@example.com"]
