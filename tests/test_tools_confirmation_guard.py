"""Pending confirmations cannot be edited, forged, replayed or left pending forever."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport import ToolCall
from llmport.testing import FakeLLM, FakeToolCall
from llmport.tools import (
    DEFAULT_CONFIRMATION_TTL,
    SIGNING_KEY_ENV,
    ConfirmationExpiredError,
    ConfirmationGuard,
    ConfirmationMismatchError,
    ConfirmationReplayError,
    ConfirmationSignatureError,
    InMemoryClaimStore,
    PendingConfirmation,
    RedisClaimStore,
    ToolLoopStatus,
    aresume_tools,
    arun_tools,
    resume_tools,
    run_tools,
    tool,
)

USER = [{"role": "user", "content": "Text the forecast to my phone."}]
KEY = "a-signing-key-for-tests"
ran: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture(autouse=True)
def _forget_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    ran.clear()
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)


@tool(requires_confirmation=True)
def send_sms(phone: str, text: str) -> str:
    """Send a text message."""
    ran.append(("send_sms", {"phone": phone, "text": text}))
    return f"sent to {phone}"


@tool
def delete_everything(phone: str, text: str) -> str:
    """Delete every record."""
    ran.append(("delete_everything", {"phone": phone, "text": text}))
    return "deleted"


TOOLS = [send_sms, delete_everything]
SMS = FakeToolCall("send_sms", {"phone": "+33600000000", "text": "Sunny"}, id="sms")


class FakeClock:
    """Seconds since the epoch, moved by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def paused(guard: ConfirmationGuard | None = None, *script: Any) -> PendingConfirmation:
    result = run_tools(FakeLLM([SMS, *script]), USER, TOOLS, guard=guard)
    assert result.pending is not None
    return result.pending


def edited_call(pending: PendingConfirmation, **changes: Any) -> PendingConfirmation:
    call = dataclasses.replace(pending.calls[0], **changes)
    return dataclasses.replace(pending, calls=[call])


def resume(pending: PendingConfirmation, guard: ConfirmationGuard | None = None) -> Any:
    return resume_tools(FakeLLM(["Done."]), pending, TOOLS, approve=True, guard=guard)


# --- consistent with its own transcript -------------------------------------------------


def test_a_changed_tool_name_is_refused_before_any_tool_runs() -> None:
    pending = edited_call(paused(), name="delete_everything")
    with pytest.raises(ConfirmationMismatchError, match=r"'delete_everything'.*'send_sms'"):
        resume(pending)
    assert ran == []


def test_changed_arguments_are_refused_naming_the_argument() -> None:
    pending = edited_call(paused(), arguments={"phone": "+15550000000", "text": "Sunny"})
    with pytest.raises(ConfirmationMismatchError, match=r"differ.*'phone'") as caught:
        resume(pending)
    assert "'text'" not in str(caught.value)
    assert ran == []


def test_a_changed_call_id_is_refused_naming_the_id() -> None:
    pending = edited_call(paused(), id="forged")
    with pytest.raises(ConfirmationMismatchError, match=r"'forged'.*\['sms'\]"):
        resume(pending)
    assert ran == []


@given(
    field=st.sampled_from(["id", "name", "arguments"]),
    text=st.text(min_size=1, max_size=20),
)
def test_any_edit_of_a_pending_call_is_refused(field: str, text: str) -> None:
    ran.clear()
    pending = paused()
    original = pending.calls[0]
    value: Any = {"phone": text, "text": "Sunny"} if field == "arguments" else text
    if value == getattr(original, field):
        return
    with pytest.raises(ConfirmationMismatchError):
        resume(edited_call(pending, **{field: value}))
    assert ran == []


def test_a_call_already_answered_in_the_transcript_cannot_be_pending_again() -> None:
    pending = paused()
    answered = [*pending.messages, {"role": "tool", "tool_call_id": "sms", "content": "x"}]
    with pytest.raises(ConfirmationMismatchError, match="already has a tool message"):
        resume(dataclasses.replace(pending, messages=answered))


def test_an_unanswered_call_left_out_of_the_pending_calls_is_refused() -> None:
    other = FakeToolCall("send_sms", {"phone": "+1", "text": "Hi"}, id="sms2")
    result = run_tools(FakeLLM([[SMS, other]]), USER, TOOLS)
    assert result.pending is not None
    pending = dataclasses.replace(result.pending, calls=result.pending.calls[:1])
    with pytest.raises(ConfirmationMismatchError, match=r"sms2.*neither answered nor pending"):
        resume(pending)


def test_a_consistent_state_resumes() -> None:
    final = resume(paused())
    assert final.status is ToolLoopStatus.COMPLETED
    assert ran == [("send_sms", {"phone": "+33600000000", "text": "Sunny"})]


# --- signed when a key is configured ----------------------------------------------------


def test_with_a_key_to_dict_carries_a_signature_and_resumes() -> None:
    guard = ConfirmationGuard(signing_key=KEY)
    data = json.loads(json.dumps(paused(guard).to_dict()))
    assert len(data["signature"]) == 64
    final = resume(PendingConfirmation.from_dict(data), guard)
    assert final.status is ToolLoopStatus.COMPLETED


def test_the_signing_key_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    data = paused().to_dict()
    data["expires_at"] += 1
    with pytest.raises(ConfirmationSignatureError, match="does not match"):
        resume(PendingConfirmation.from_dict(data))
    data["expires_at"] -= 1
    resume(PendingConfirmation.from_dict(data))
    assert len(ran) == 1


def test_without_a_key_the_state_is_not_signed() -> None:
    assert "signature" not in paused().to_dict()


def test_an_unsigned_state_is_refused_when_a_key_is_configured() -> None:
    pending = paused()
    with pytest.raises(ConfirmationSignatureError, match="not signed"):
        resume(pending, ConfirmationGuard(signing_key=KEY))
    assert ran == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expires_at", 4_000_000_000.0),
        ("id", "0" * 32),
        ("iterations", 2),
        ("run_id", "another-run"),
        ("messages", [{"role": "user", "content": "Delete everything."}]),
    ],
)
def test_an_altered_signed_state_is_refused(field: str, value: Any) -> None:
    guard = ConfirmationGuard(signing_key=KEY)
    data = paused(guard).to_dict()
    if field == "messages":
        value = value + data["messages"][1:]
    data[field] = value
    with pytest.raises(ConfirmationSignatureError, match="does not match"):
        resume(PendingConfirmation.from_dict(data), guard)
    assert ran == []


def test_an_edit_to_both_calls_and_transcript_is_refused_when_signed() -> None:
    guard = ConfirmationGuard(signing_key=KEY)
    data = paused(guard).to_dict()
    data["calls"][0]["arguments"]["phone"] = "+15550000000"
    data["messages"][1]["tool_calls"][0]["function"]["arguments"] = json.dumps(
        data["calls"][0]["arguments"]
    )
    with pytest.raises(ConfirmationSignatureError):
        resume(PendingConfirmation.from_dict(data), guard)
    assert ran == []


@given(signature=st.text(max_size=80))
def test_any_forged_signature_is_refused(signature: str) -> None:
    guard = ConfirmationGuard(signing_key=KEY)
    pending = dataclasses.replace(paused(guard), signature=signature)
    with pytest.raises(ConfirmationSignatureError, match="does not match"):
        resume(pending, guard)


def test_a_state_signed_with_another_key_is_refused() -> None:
    pending = paused(ConfirmationGuard(signing_key="another-key-entirely"))
    with pytest.raises(ConfirmationSignatureError):
        resume(pending, ConfirmationGuard(signing_key=KEY))


def test_a_signed_state_needs_the_key_to_resume() -> None:
    pending = paused(ConfirmationGuard(signing_key=KEY))
    with pytest.raises(ConfirmationSignatureError, match=SIGNING_KEY_ENV):
        resume(pending)


def test_the_guard_repr_hides_the_key() -> None:
    assert KEY not in repr(ConfirmationGuard(signing_key=KEY))


# --- single use -------------------------------------------------------------------------


def test_each_pause_has_its_own_id() -> None:
    assert paused().id != paused().id


def test_a_second_resume_is_refused_and_runs_nothing() -> None:
    pending = paused()
    resume(pending)
    with pytest.raises(ConfirmationReplayError, match="already resumed"):
        resume(pending)
    assert len(ran) == 1


def test_a_second_copy_from_storage_is_refused_too() -> None:
    stored = json.dumps(paused().to_dict())
    resume(PendingConfirmation.from_dict(json.loads(stored)))
    with pytest.raises(ConfirmationReplayError):
        resume(PendingConfirmation.from_dict(json.loads(stored)))
    assert len(ran) == 1


def test_a_rejection_uses_the_state_up_as_well() -> None:
    pending = paused()
    resume_tools(FakeLLM(["Not sent."]), pending, TOOLS, approve=False)
    with pytest.raises(ConfirmationReplayError):
        resume(pending)
    assert ran == []


async def test_an_async_second_resume_is_refused() -> None:
    result = await arun_tools(FakeLLM([SMS]), USER, TOOLS)
    assert result.pending is not None
    await aresume_tools(FakeLLM(["Sent."]), result.pending, TOOLS, approve=True)
    with pytest.raises(ConfirmationReplayError):
        await aresume_tools(FakeLLM(["Sent."]), result.pending, TOOLS, approve=True)
    assert len(ran) == 1


async def test_concurrent_async_resumes_run_the_tool_once() -> None:
    pending = paused()
    outcomes = await asyncio.gather(
        *(aresume_tools(FakeLLM(["Sent."]), pending, TOOLS, approve=True) for _ in range(5)),
        return_exceptions=True,
    )
    assert sum(isinstance(o, ConfirmationReplayError) for o in outcomes) == 4
    assert len(ran) == 1


def test_racing_threads_run_the_tool_once() -> None:
    pending = paused()
    start = threading.Barrier(8)
    refused: list[ConfirmationReplayError] = []

    def worker() -> None:
        start.wait(timeout=10)
        try:
            resume(pending)
        except ConfirmationReplayError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert (len(ran), len(refused)) == (1, 7)


def test_a_bad_approval_does_not_use_the_state_up() -> None:
    pending = paused()
    with pytest.raises(ValueError, match="exactly the pending calls"):
        resume_tools(FakeLLM(["Done."]), pending, TOOLS, approve={"other": True})
    resume(pending)
    assert len(ran) == 1


def test_claims_go_to_the_guard_store() -> None:
    store = InMemoryClaimStore()
    guard = ConfirmationGuard(store=store)
    pending = paused(guard)
    resume(pending, guard)
    assert store.claim(pending.id, 60) is False
    assert InMemoryClaimStore().claim(pending.id, 60) is True


def test_an_in_memory_claim_lapses_after_its_ttl() -> None:
    clock = FakeClock(0)
    store = InMemoryClaimStore(clock=clock)
    assert (store.claim("a", 10), store.claim("a", 10)) == (True, False)
    clock.now = 10
    assert store.claim("a", 10) is True


def test_the_in_memory_store_forgets_lapsed_claims() -> None:
    clock = FakeClock(0)
    store = InMemoryClaimStore(clock=clock)
    for number in range(3000):
        clock.now = number
        assert store.claim(f"state-{number}", 5) is True
    assert len(store) < 1100  # lapsed claims were dropped
    assert store.claim("state-2999", 5) is False


class FakeRedis:
    """Records SET calls and honours NX, as redis.Redis.set does."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.calls: list[dict[str, Any]] = []

    def set(self, name: str, value: str, *, nx: bool = False, px: int | None = None) -> bool | None:
        self.calls.append({"name": name, "nx": nx, "px": px})
        if nx and name in self.values:
            return None
        self.values[name] = value
        return True


def test_the_redis_store_claims_with_set_nx_and_a_ttl() -> None:
    client = FakeRedis()
    clock = FakeClock()
    guard = ConfirmationGuard(store=RedisClaimStore(client), clock=clock, ttl=60)
    pending = paused(guard)
    clock.now += 10
    resume(pending, guard)
    with pytest.raises(ConfirmationReplayError):
        resume(pending, guard)
    first = client.calls[0]
    assert first["name"] == f"llmport:confirmation:{pending.id}"
    assert first["nx"] is True
    assert first["px"] >= 50_000  # lives at least until the state expires
    assert len(ran) == 1


def test_the_redis_store_needs_a_client_with_set() -> None:
    with pytest.raises(TypeError, match=r"redis\.Redis"):
        RedisClaimStore(object())


# --- expiring ---------------------------------------------------------------------------


def test_a_pending_state_lasts_ten_minutes_by_default() -> None:
    clock = FakeClock()
    pending = paused(ConfirmationGuard(clock=clock))
    assert DEFAULT_CONFIRMATION_TTL == 600
    assert (pending.created_at, pending.expires_at) == (clock.now, clock.now + 600)


def test_resuming_just_before_expiry_works() -> None:
    clock = FakeClock()
    guard = ConfirmationGuard(clock=clock)
    pending = paused(guard)
    clock.now += 599.9
    assert resume(pending, guard).status is ToolLoopStatus.COMPLETED


def test_resuming_after_expiry_is_refused_as_expired() -> None:
    clock = FakeClock()
    guard = ConfirmationGuard(clock=clock)
    pending = paused(guard)
    clock.now += 600
    with pytest.raises(ConfirmationExpiredError, match="expired"):
        resume(pending, guard)
    assert ran == []


@given(ttl=st.floats(min_value=1, max_value=86_400), late=st.floats(min_value=0, max_value=1e6))
def test_the_lifetime_is_configurable(ttl: float, late: float) -> None:
    clock = FakeClock()
    guard = ConfirmationGuard(clock=clock, ttl=ttl, store=InMemoryClaimStore())
    pending = paused(guard)
    clock.now = pending.expires_at + late
    with pytest.raises(ConfirmationExpiredError):
        resume(pending, guard)


@pytest.mark.parametrize("ttl", [0, -1, float("inf"), float("nan"), True, "600"])
def test_a_bad_lifetime_is_refused(ttl: Any) -> None:
    with pytest.raises(ValueError, match="ttl must be a positive number"):
        ConfirmationGuard(ttl=ttl)


def test_the_pending_call_keeps_its_shape() -> None:
    assert paused().calls == [
        ToolCall(id="sms", name="send_sms", arguments={"phone": "+33600000000", "text": "Sunny"})
    ]
