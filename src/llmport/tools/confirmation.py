"""What a resume checks before any tool runs: the state is consistent, signed, fresh and unused.

    ConfirmationError                 (an LLMPortError; nothing has run when it is raised)
    ├── ConfirmationMismatchError     pending calls differ from the assistant message they answer
    ├── ConfirmationSignatureError    a key is configured and the state is unsigned or altered
    ├── ConfirmationExpiredError      the state is past its `expires_at`
    └── ConfirmationReplayError       the state was already resumed (its id is claimed)

A `ConfirmationGuard` makes pending states (id, expiry, signature) in `run_tools`
and checks them in `resume_tools`, in that order, then claims the id in its store.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from llmport.errors import LLMPortError
from llmport.parsing import parse_tool_arguments
from llmport.redaction import register_secret
from llmport.response import ToolCall, Usage
from llmport.tools.claims import ClaimStore, default_claim_store
from llmport.tools.result import PendingConfirmation

__all__ = [
    "DEFAULT_CONFIRMATION_TTL",
    "SIGNING_KEY_ENV",
    "ConfirmationError",
    "ConfirmationExpiredError",
    "ConfirmationGuard",
    "ConfirmationMismatchError",
    "ConfirmationReplayError",
    "ConfirmationSignatureError",
]

#: The environment variable holding the key that signs pending states.
SIGNING_KEY_ENV = "LLMPORT_SIGNING_KEY"
#: How long a pending state may wait for its answer, in seconds.
DEFAULT_CONFIRMATION_TTL = 600.0
#: The longest lifetime a guard gives (about 31 years).
_MAX_TTL = 1e9
#: How long a claim outlives its state's expiry, for clocks that differ between workers.
_CLAIM_MARGIN = 300.0


class ConfirmationError(LLMPortError):
    """A pending confirmation cannot be resumed; no tool has run."""


class ConfirmationMismatchError(ConfirmationError):
    """The pending calls do not match the assistant message they answer."""


class ConfirmationSignatureError(ConfirmationError):
    """A signing key is configured and the state is unsigned, or its signature does not match."""


class ConfirmationExpiredError(ConfirmationError):
    """The pending state is past its expiry."""


class ConfirmationReplayError(ConfirmationError):
    """The pending state was already resumed once."""


@dataclass(frozen=True)
class ConfirmationGuard:
    """How pending states are made and checked: signing key, lifetime, claim store, clock.

    Args:
        signing_key: signs states with HMAC-SHA256 (a non-empty str or bytes); None
            reads `LLMPORT_SIGNING_KEY` (when that is unset or empty, states are not
            signed).
        ttl: seconds a pending state stays valid (10 minutes by default).
        store: where resumed state ids are claimed; the process-wide in-memory store by
            default, a `RedisClaimStore` to share claims between workers.
        clock: seconds since the epoch (`time.time`); tests pass a fake clock.
    """

    signing_key: str | bytes | None = field(default=None, repr=False)
    ttl: float = DEFAULT_CONFIRMATION_TTL
    store: ClaimStore = field(default_factory=default_claim_store)
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        ttl = self.ttl
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl < _MAX_TTL:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
        key = self.signing_key
        if key is not None and (not isinstance(key, (str, bytes)) or not key):
            # bytes(32) would be 32 zero bytes, and "" would quietly turn signing off.
            raise ValueError(
                "signing_key must be a non-empty str or bytes (or None to read "
                f"{SIGNING_KEY_ENV}), got {type(key).__name__}"
            )
        if not isinstance(self.store, ClaimStore):
            raise TypeError(f"store must have claim(key, ttl), got {type(self.store).__name__}")

    def key(self) -> bytes | None:
        """The signing key: the argument, else `LLMPORT_SIGNING_KEY`, else None."""
        key = self.signing_key if self.signing_key is not None else os.environ.get(SIGNING_KEY_ENV)
        if not key:
            return None
        if isinstance(key, str):
            register_secret(key)
            return key.encode()
        return key

    def new_pending(
        self,
        calls: list[ToolCall],
        messages: list[dict[str, Any]],
        iterations: int,
        usage: Usage,
        run_id: str,
        cost: float | None = None,
    ) -> PendingConfirmation:
        """A fresh state with a unique id and an expiry, signed when a key is configured."""
        now = self.clock()
        pending = PendingConfirmation(
            calls=calls,
            messages=messages,
            iterations=iterations,
            usage=usage,
            run_id=run_id,
            cost=cost,
            id=uuid.uuid4().hex,
            created_at=now,
            expires_at=now + self.ttl,
        )
        key = self.key()
        return pending if key is None else replace(pending, signature=_sign(key, pending))

    def check(self, pending: PendingConfirmation) -> None:
        """Refuse a state that is altered, inconsistent or expired.

        Raises:
            ConfirmationSignatureError: a key is configured and the state is unsigned or altered.
            ConfirmationMismatchError: the pending calls differ from their assistant message.
            ConfirmationExpiredError: the state is past its expiry.
        """
        if not isinstance(pending, PendingConfirmation):
            raise TypeError(f"pending must be a PendingConfirmation, got {type(pending).__name__}")
        self._check_signature(pending)
        check_consistency(pending)
        if self.clock() >= pending.expires_at:
            raise ConfirmationExpiredError(
                f"pending confirmation {pending.id} expired at {pending.expires_at:.0f} "
                "(seconds since the epoch); ask the user again"
            )

    def claim(self, pending: PendingConfirmation) -> None:
        """Mark the state as used.

        Raises:
            ConfirmationReplayError: it was already resumed.
        """
        # No guard makes a state that lives longer than _MAX_TTL: an expiry beyond that was
        # edited (or comes from a far-off clock), and a store could not hold it.
        remaining = min(max(pending.expires_at - self.clock(), 0.0), _MAX_TTL)
        ttl = remaining + _CLAIM_MARGIN
        if not self.store.claim(pending.id, ttl):
            raise ConfirmationReplayError(
                f"pending confirmation {pending.id} was already resumed; its tools do not run again"
            )

    def _check_signature(self, pending: PendingConfirmation) -> None:
        key = self.key()
        if key is None:
            if pending.signature is not None:
                raise ConfirmationSignatureError(
                    "the pending confirmation is signed but no signing key is configured: "
                    f"pass ConfirmationGuard(signing_key=...) or set {SIGNING_KEY_ENV}"
                )
            return
        if pending.signature is None:
            raise ConfirmationSignatureError(
                "the pending confirmation is not signed, and a signing key is configured"
            )
        if not hmac.compare_digest(pending.signature.encode(), _sign(key, pending).encode()):
            raise ConfirmationSignatureError(
                "the pending confirmation's signature does not match: it was altered "
                "or signed with another key"
            )


def _sign(key: bytes, pending: PendingConfirmation) -> str:
    content = _canonical(pending.signed_content()).encode("utf-8", "surrogatepass")
    return hmac.new(key, content, hashlib.sha256).hexdigest()


_ABSENT = object()


def _canonical(value: Any) -> str:
    """One text per JSON value (sorted keys, no spaces): `1` and `true` stay different."""
    if value is _ABSENT:
        return "<absent>"
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def check_consistency(pending: PendingConfirmation) -> None:
    """Refuse pending calls that differ from the unanswered calls of the last assistant message.

    Raises:
        ConfirmationMismatchError: naming the call and what differs (id, tool name, the
            argument names whose values differ, or calls neither answered nor pending).
    """
    messages = pending.messages
    index = next(
        (i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "assistant"),
        None,
    )
    if index is None:
        raise ConfirmationMismatchError("the transcript holds no assistant message to answer")
    requested = _requested_calls(messages[index])
    later = messages[index + 1 :]
    if any(m.get("role") != "tool" for m in later):
        raise ConfirmationMismatchError(
            "the transcript goes on after the assistant message the pending calls answer"
        )
    answered = _answered_ids(later, requested)
    pending_ids = [call.id for call in pending.calls]
    if len(set(pending_ids)) != len(pending_ids):
        raise ConfirmationMismatchError(f"pending call ids repeat: {pending_ids}")
    for call in pending.calls:
        _check_call(call, requested, answered)
    left = [i for i in requested if i not in answered and i not in pending_ids]
    if left:
        raise ConfirmationMismatchError(
            f"calls {left} of the assistant message are neither answered nor pending"
        )


def _answered_ids(tool_messages: list[dict[str, Any]], requested: Mapping[str, Any]) -> set[str]:
    """The call ids the tool messages answer, each a requested call answered once."""
    answered: set[str] = set()
    for message in tool_messages:
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or call_id not in requested:
            raise ConfirmationMismatchError(
                f"a tool message answers call {call_id!r}, which the assistant message "
                f"did not ask for (it asked for {sorted(requested)})"
            )
        if call_id in answered:
            raise ConfirmationMismatchError(f"call {call_id!r} is answered more than once")
        answered.add(call_id)
    return answered


def _requested_calls(message: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    entries = message.get("tool_calls")
    if not isinstance(entries, list):
        raise ConfirmationMismatchError("the last assistant message asks for no tool calls")
    requested: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            function = entry.get("function")
            requested[entry["id"]] = function if isinstance(function, Mapping) else {}
    return requested


def _check_call(
    call: ToolCall, requested: dict[str, Mapping[str, Any]], answered: set[Any]
) -> None:
    function = requested.get(call.id)
    if function is None:
        raise ConfirmationMismatchError(
            f"pending call id {call.id!r} is not one the assistant message asked for "
            f"(it asked for {sorted(requested)})"
        )
    if call.id in answered:
        raise ConfirmationMismatchError(f"pending call {call.id!r} already has a tool message")
    name = function.get("name")
    if name != call.name:
        raise ConfirmationMismatchError(
            f"pending call {call.id!r} names tool {call.name!r}, "
            f"but the assistant message asked for {name!r}"
        )
    arguments, _, error = parse_tool_arguments(function.get("arguments"))
    if error is not None or _canonical(arguments) != _canonical(call.arguments):
        asked, held = arguments, call.arguments
        keys = {*asked, *held}
        differ = sorted(
            k for k in keys if _canonical(asked.get(k, _ABSENT)) != _canonical(held.get(k, _ABSENT))
        )
        raise ConfirmationMismatchError(
            f"pending call {call.id!r} ({call.name}) has arguments that differ from the "
            f"assistant message's: {', '.join(map(repr, differ)) or 'unreadable'}"
        )
