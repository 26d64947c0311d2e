"""Edge cases of resuming: transcripts with stray tool messages, repeated call ids, and
expiries far away."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmport.testing import FakeLLM, FakeToolCall
from llmport.tools import (
    ConfirmationGuard,
    ConfirmationMismatchError,
    ConfirmationReplayError,
    ConfirmationSignatureError,
    InMemoryClaimStore,
    PendingConfirmation,
    RedisClaimStore,
    ToolLoopStatus,
    resume_tools,
    run_tools,
    tool,
)

USER = [{"role": "user", "content": "Text the forecast to my phone."}]
ran: list[str] = []


@pytest.fixture(autouse=True)
def _forget_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    ran.clear()
    monkeypatch.delenv("LLMPORT_SIGNING_KEY", raising=False)


@tool(requires_confirmation=True)
def send_sms(phone: str) -> str:
    """Send a text message."""
    ran.append(f"send_sms {phone}")
    return "sent"


@tool
def lookup(phone: str) -> str:
    """Look a number up."""
    ran.append(f"lookup {phone}")
    return "found"


TOOLS = [send_sms, lookup]


def paused(script: list[Any], guard: ConfirmationGuard | None = None) -> PendingConfirmation:
    result = run_tools(FakeLLM(script), USER, TOOLS, guard=guard)
    assert result.pending is not None
    return result.pending


def resume(pending: PendingConfirmation, guard: ConfirmationGuard | None = None) -> Any:
    return resume_tools(FakeLLM(["Done."]), pending, TOOLS, approve=True, guard=guard)


def test_a_tool_message_for_a_call_nobody_asked_for_is_refused() -> None:
    pending = paused([FakeToolCall("send_sms", {"phone": "+1"}, id="sms")])
    stray = {"role": "tool", "tool_call_id": "invented", "content": "all good"}
    edited = dataclasses.replace(pending, messages=[*pending.messages, stray])
    with pytest.raises(ConfirmationMismatchError, match="'invented'"):
        resume(edited)
    assert ran == []


def test_a_call_answered_twice_in_the_transcript_is_refused() -> None:
    both = [
        FakeToolCall("lookup", {"phone": "+1"}, id="look"),
        FakeToolCall("send_sms", {"phone": "+1"}, id="sms"),
    ]
    pending = paused([both])
    again = {"role": "tool", "tool_call_id": "look", "content": "again"}
    edited = dataclasses.replace(pending, messages=[*pending.messages, again])
    with pytest.raises(ConfirmationMismatchError, match=r"'look'.*more than once"):
        resume(edited)


def test_calls_that_repeat_an_id_still_pause_in_a_resumable_state() -> None:
    twins = [
        FakeToolCall("lookup", {"phone": "+1"}, id="same"),
        FakeToolCall("send_sms", {"phone": "+1"}, id="same"),
    ]
    pending = paused([twins])
    final = resume(pending)
    assert final.status is ToolLoopStatus.COMPLETED
    assert ran == ["lookup +1", "send_sms +1"]
    requested = [c["id"] for m in final.messages for c in m.get("tool_calls") or ()]
    answered = [m["tool_call_id"] for m in final.messages if m["role"] == "tool"]
    assert len(set(requested)) == 2
    assert sorted(answered) == sorted(requested)


class BoundedRedis:
    """Refuses an expiry Redis cannot hold (PX beyond a signed 64-bit millisecond count)."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def set(self, name: str, value: str, *, nx: bool = False, px: int | None = None) -> bool | None:
        if px is None or not 0 < px < 2**63 - 2 * 10**12:
            raise ValueError("value is not an integer or out of range")
        if nx and name in self.keys:
            return None
        self.keys.add(name)
        return True


@pytest.mark.parametrize("expires_at", [1e15, 1e300])
def test_an_expiry_far_away_is_still_claimed_once(expires_at: float) -> None:
    guard = ConfirmationGuard(store=RedisClaimStore(BoundedRedis()))
    pending = dataclasses.replace(
        paused([FakeToolCall("send_sms", {"phone": "+1"}, id="sms")], guard),
        expires_at=expires_at,
    )
    assert resume(pending, guard).status is ToolLoopStatus.COMPLETED
    with pytest.raises(ConfirmationReplayError):
        resume(pending, guard)
    assert ran == ["send_sms +1"]


def test_the_in_memory_claim_of_a_far_expiry_holds() -> None:
    store = InMemoryClaimStore()
    guard = ConfirmationGuard(store=store)
    pending = dataclasses.replace(
        paused([FakeToolCall("send_sms", {"phone": "+1"}, id="sms")], guard), expires_at=1e300
    )
    resume(pending, guard)
    with pytest.raises(ConfirmationReplayError):
        resume(pending, guard)


@pytest.mark.parametrize("key", ["", b"", 32, 0, ["k"]])
def test_a_signing_key_that_cannot_sign_is_refused_when_the_guard_is_made(key: Any) -> None:
    with pytest.raises(ValueError, match="signing_key must be a non-empty str or bytes"):
        ConfirmationGuard(signing_key=key)


def test_an_empty_signing_key_variable_means_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMPORT_SIGNING_KEY", "")
    pending = paused([FakeToolCall("send_sms", {"phone": "+1"}, id="sms")])
    assert pending.signature is None


@pytest.mark.parametrize("tool_calls", [3, 2.5, "sms", {"id": "sms"}, None])
def test_a_transcript_whose_tool_calls_are_not_a_list_is_refused_by_the_signature(
    tool_calls: Any,
) -> None:
    guard = ConfirmationGuard(signing_key="a-key", store=InMemoryClaimStore())
    data = paused([FakeToolCall("send_sms", {"phone": "+1"}, id="sms")], guard).to_dict()
    data["messages"][-1]["tool_calls"] = tool_calls
    with pytest.raises(ConfirmationSignatureError):
        resume(PendingConfirmation.from_dict(data), guard)


@pytest.mark.parametrize("tool_calls", [3, 2.5, "sms", {"id": "sms"}, None])
def test_a_transcript_whose_tool_calls_are_not_a_list_is_refused_as_inconsistent(
    tool_calls: Any,
) -> None:
    data = paused([FakeToolCall("send_sms", {"phone": "+1"}, id="sms")]).to_dict()
    data["messages"][-1]["tool_calls"] = tool_calls
    with pytest.raises(ConfirmationMismatchError):
        resume(PendingConfirmation.from_dict(data))


def test_a_lone_surrogate_in_the_transcript_is_signed_and_resumes() -> None:
    """JSON may escape a lone surrogate (`"\\ud800"`), which UTF-8 cannot encode."""
    guard = ConfirmationGuard(signing_key="a-key", store=InMemoryClaimStore())
    call = FakeToolCall("send_sms", {"phone": "+1 \ud800"}, id="sms")
    result = run_tools(FakeLLM([call]), [{"role": "user", "content": "\udcff"}], TOOLS, guard=guard)
    assert result.pending is not None
    stored = json.loads(json.dumps(result.pending.to_dict()))
    assert resume(PendingConfirmation.from_dict(stored), guard).status is ToolLoopStatus.COMPLETED
    assert ran == ["send_sms +1 \ud800"]


class AsyncRedis:
    """Like redis.asyncio.Redis: `set` returns a coroutine, which is always truthy."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def set(self, name: str, value: str, *, nx: bool = False, px: int | None = None) -> Any:
        async def command() -> bool | None:
            if nx and name in self.keys:
                return None
            self.keys.add(name)
            return True

        return command()


def test_an_async_redis_client_is_refused_before_any_tool_runs() -> None:
    guard = ConfirmationGuard(store=RedisClaimStore(AsyncRedis()))
    pending = paused([FakeToolCall("send_sms", {"phone": "+1"}, id="sms")], guard)
    with pytest.raises(TypeError, match=r"synchronous redis\.Redis"):
        resume(pending, guard)
    assert ran == []


# --- any edit of a stored, signed state -------------------------------------------------

SIGNED = ConfirmationGuard(signing_key="a-key", store=InMemoryClaimStore())
JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), st.text(max_size=5)
)


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `value` (JSON data), the root left out."""
    children: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    found = []
    for key, child in children:
        found += [(*prefix, key), *json_paths(child, (*prefix, key))]
    return found


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_edit_of_a_stored_signed_state_is_refused_before_any_tool_runs(
    data: st.DataObject,
) -> None:
    ran.clear()
    call = FakeToolCall("send_sms", {"phone": "+1"}, id="sms")
    stored = json.loads(json.dumps(paused([call], SIGNED).to_dict()))
    path = data.draw(st.sampled_from(json_paths(stored)))
    parent = stored
    for key in path[:-1]:
        parent = parent[key]
    before = json.dumps(stored, sort_keys=True)
    if data.draw(st.booleans()):
        parent[path[-1]] = data.draw(JSON_LEAVES)
    else:
        del parent[path[-1]]
    changed = json.dumps(stored, sort_keys=True) != before
    try:
        resume(PendingConfirmation.from_dict(stored), SIGNED)
    except (ValueError, ConfirmationSignatureError):
        assert ran == []
    else:  # only an edit that changes nothing (such as 1 for 1.0) may resume
        assert not changed or ran == ["send_sms +1"]


def test_a_pending_confirmation_needs_its_times() -> None:
    from llmport import Usage

    with pytest.raises(TypeError, match="created_at"):
        PendingConfirmation(  # type: ignore[call-arg]
            calls=[], messages=[], iterations=1, usage=Usage(), run_id="r", id="i"
        )
