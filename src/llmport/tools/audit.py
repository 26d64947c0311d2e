"""Audit trail of a tool loop: typed events, and a JSONL writer that is safe to leave on.

Every step of `run_tools` is reported to the audit hooks it was given, in order:

    llm_call                one per LLM call: model, status, usage, latency, error
    tool_call               a tool is about to run: id, name, validated arguments
    tool_result             it returned: the tool-message content, duration (and a
                            warning when the result was not JSON-serialisable)
    tool_error              unknown tool, invalid arguments or an exception: the message sent
    confirmation_requested  the loop stopped for approval of this call
    confirmation            approve or reject decided (by `confirm=` or `resume_tools`)
    loop_end                the loop returned: status, iterations, summed usage

An audit hook is any callable taking an `AuditEvent`. A hook that raises is logged
and ignored: auditing never fails the loop. The values of secret-named arguments
(`password`, `api_key`, `*_token`...) never appear in an event of their run: wherever
they reappear (an exception's message, a result, another call's arguments) they are
replaced with "[REDACTED]".
"""

from __future__ import annotations

import enum
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeAlias

from llmport.errors import redact
from llmport.response import Usage

__all__ = [
    "AuditEvent",
    "AuditEventKind",
    "AuditHook",
    "JSONLAuditWriter",
    "emit_audit",
    "hide_secret_names",
    "hide_values",
    "secret_values",
]

logger = logging.getLogger(__name__)

REDACTED = "[REDACTED]"
_SECRET_WORDS = ("apikey", "authorization", "password", "passwd", "secret", "credential", "cookie")


class AuditEventKind(str, enum.Enum):
    """What an `AuditEvent` reports."""

    LLM_CALL = "llm_call"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    TOOL_ERROR = "tool_error"
    CONFIRMATION_REQUESTED = "confirmation_requested"
    CONFIRMATION = "confirmation"
    LOOP_END = "loop_end"


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditEvent:
    """One step of a tool loop. Fields that do not apply to the `kind` are None.

    `run_id` is the same for every event of one loop, across `resume_tools` too;
    `iteration` is the number of LLM calls made so far.
    """

    kind: AuditEventKind
    run_id: str
    iteration: int
    timestamp: float = field(default_factory=time.time)
    tool_call_id: str | None = None
    tool_name: str | None = None
    arguments: dict[str, Any] | None = None
    result: str | None = None
    error: str | None = None
    duration_ms: float | None = None
    approved: bool | None = None
    status: str | None = None
    model: str | None = None
    usage: Usage | None = None
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-safe data, without the fields that are None."""
        data: dict[str, Any] = {"kind": self.kind.value}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "kind" or value is None:
                continue
            data[name] = asdict(value) if isinstance(value, Usage) else value
        return data


AuditHook: TypeAlias = Callable[[AuditEvent], object]


def emit_audit(hooks: Iterable[AuditHook], event: AuditEvent) -> None:
    """Give `event` to every hook; log and swallow anything a hook raises."""
    for hook in hooks:
        try:
            hook(event)
        except Exception:
            logger.exception(
                "llmport audit hook %r failed; ignored", hook, extra={"event": event.kind.value}
            )


class JSONLAuditWriter:
    """An audit hook that appends one JSON object per event to a file.

    Secrets never reach the file: argument values under names like `api_key`,
    `authorization`, `password` or `token` become "[REDACTED]", and every string
    goes through `llmport.errors.redact` (credential shapes and registered keys).
    A failure to write is logged (once as a warning, then at debug level) and
    swallowed, so a full disk never stops an agent.
    """

    def __init__(self, path: str | os.PathLike[str], *, secrets: Iterable[str] = ()) -> None:
        self.path = os.fspath(path)
        self.secrets = tuple(secrets)
        self._lock = threading.Lock()
        self._failed = False

    def __repr__(self) -> str:
        return f"JSONLAuditWriter({self.path!r})"

    def __call__(self, event: AuditEvent) -> None:
        try:
            line = json.dumps(self.scrub(event.to_dict()), ensure_ascii=False, default=str)
            # A lone surrogate (valid in a JSON escape, not in UTF-8) is written back
            # as that escape, so the line stays valid JSON and the event is kept.
            with (
                self._lock,
                open(self.path, "a", encoding="utf-8", errors="backslashreplace") as file,
            ):
                file.write(line + "\n")
        except Exception as exc:
            level = logging.DEBUG if self._failed else logging.WARNING
            self._failed = True
            logger.log(
                level,
                "llmport audit writer could not write %s: %s",
                self.path,
                redact(str(exc), self.secrets),
                extra={"event": event.kind.value},
            )

    def scrub(self, data: dict[str, Any]) -> dict[str, Any]:
        """An event's data with secret-named arguments replaced and every string redacted."""
        if "arguments" in data:
            data = {**data, "arguments": hide_secret_names(data["arguments"])}
        return _redact_strings(data, self.secrets)  # type: ignore[no-any-return]


def _is_secret_name(key: str) -> bool:
    """True for names like `api_key`, `Authorization`, `password`, `access_token`."""
    normalised = re.sub(r"[^a-z0-9]", "", key.lower())
    return normalised.endswith("token") or any(word in normalised for word in _SECRET_WORDS)


#: Shorter values are not hidden elsewhere: replacing "no" or "1" everywhere would garble text.
_MIN_SECRET_LENGTH = 4


def secret_values(arguments: Any) -> set[str]:
    """The values (as text) under secret-named keys of `arguments`, at any depth."""
    found: set[str] = set()

    def collect(value: Any, secret: bool) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                collect(item, secret or _is_secret_name(str(key)))
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item, secret)
        elif secret and not isinstance(value, bool) and isinstance(value, (str, int, float)):
            text = str(value)
            if len(text) >= _MIN_SECRET_LENGTH:
                found.update(_written_forms(text))

    collect(arguments, False)
    return found


def _written_forms(text: str) -> set[str]:
    """`text` as it is, and as JSON or `repr()` write it inside quotes (escaped)."""
    return {
        text,
        json.dumps(text, ensure_ascii=False)[1:-1],
        json.dumps(text)[1:-1],
        repr(text)[1:-1],
    }


def hide_values(value: Any, secrets: Iterable[str]) -> Any:
    """`value` with each secret replaced by "[REDACTED]": inside strings, and numbers written so."""
    ordered = sorted(secrets, key=len, reverse=True)  # a longer secret may contain a shorter one
    if not ordered:
        return value

    def hide(item: Any) -> Any:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            return REDACTED if str(item) in ordered else item
        if isinstance(item, str):
            for secret in ordered:
                item = item.replace(secret, REDACTED)
            return item
        if isinstance(item, dict):
            return {k: hide(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [hide(v) for v in item]
        return item

    return hide(value)


def hide_secret_names(value: Any) -> Any:
    """`value` with the values under secret-named keys, at any depth, as "[REDACTED]"."""
    if isinstance(value, dict):
        return {
            k: REDACTED if _is_secret_name(str(k)) else hide_secret_names(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [hide_secret_names(item) for item in value]
    return value


def _redact_strings(value: Any, secrets: Iterable[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _redact_strings(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_strings(item, secrets) for item in value]
    return value
