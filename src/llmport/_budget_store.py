"""Where a budget's counters live, and the calendar periods they count in.

    BudgetStore            read / add a tenant's spend in a period (may raise)
      MemoryBudgetStore    this process, one lock
      RedisBudgetStore     shared by processes (`llmport._budget_redis`)

A tenant is stored under `tenant_slot(tenant)`, a period is a `Window`, and
`store_wait` says how long a call may wait for a remote store before its deadline;
`check_settings` refuses a `Budget` setting out of range.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal, Protocol

from llmport.errors import ConfigurationError
from llmport.redaction import known_secret_count, redact

__all__ = [
    "BudgetStore",
    "MemoryBudgetStore",
    "Period",
    "Window",
    "check_settings",
    "store_wait",
    "tenant_slot",
    "window_at",
]

Period = Literal["hour", "day", "month"]
PERIODS = ("hour", "day", "month")
FOREVER = float("inf")
#: Tenant ids the stores use as they are; any other id is stored by its digest.
_PLAIN_LENGTH = 64
_PLAIN_TENANT = re.compile(rf"[A-Za-z0-9_.@+=-]{{0,{_PLAIN_LENGTH}}}")


def tenant_slot(tenant: str) -> str:
    """The name a store keeps `tenant`'s counters under: short, ASCII, never a `:`.

    A plain id (letters, digits, `_.@+=-`, at most 64 characters) is its own slot. Any
    other (longer, unicode, with spaces or key separators) becomes `~` and a digest, so
    an attacker-chosen id can neither grow a key without bound nor reach another
    tenant's counters (`~` is never part of a plain id). So does an id that holds a
    secret (a configured API key, anything credential-shaped): it never reaches a
    Redis key.
    """
    if len(tenant) <= _PLAIN_LENGTH:  # short: the cache below never holds a long id
        return _short_slot(tenant, known_secret_count())
    return _digest(tenant)


@functools.lru_cache(maxsize=4096)
def _short_slot(tenant: str, secrets: int) -> str:
    """A short id's slot, cached per id while the registered secrets stay the same."""
    plain = _PLAIN_TENANT.fullmatch(tenant) and redact(tenant) == tenant
    return tenant if plain else _digest(tenant)


def _digest(tenant: str) -> str:
    digest = hashlib.sha256(tenant.encode("utf-8", "surrogatepass")).hexdigest()
    return f"~{digest[:40]}"


def check_settings(
    usd: float | None,
    tokens: int | None,
    per: str | None,
    key: str,
    redis_timeout: float,
    redis_cooldown: float,
) -> None:
    """Raise `ConfigurationError` for a `Budget` setting that is out of range."""
    if usd is None and tokens is None:
        raise ConfigurationError("Budget needs a limit: usd=..., tokens=... or both")
    for name, value in (
        ("usd", usd),
        ("tokens", tokens),
        ("redis_timeout", redis_timeout),
        ("redis_cooldown", redis_cooldown),
    ):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if value is not None and not (number and value >= 0):
            raise ConfigurationError(f"Budget {name} must be a number >= 0, got {value!r}")
    if not 0 < redis_timeout < FOREVER:  # 0 leaves a call no time to ask the store
        raise ConfigurationError(
            f"Budget redis_timeout must be a number of seconds > 0, got {redis_timeout!r}"
        )
    if per is not None and per not in PERIODS:
        raise ConfigurationError(f"Budget per must be one of {PERIODS} or None, got {per!r}")
    if tokens is not None and not isinstance(tokens, int):
        raise ConfigurationError(f"Budget tokens must be a whole number, got {tokens!r}")
    if not key or not isinstance(key, str):
        raise ConfigurationError(
            f"Budget key must name a metadata key, e.g. 'tenant_id', got {key!r}"
        )


@dataclass(frozen=True, slots=True)
class Window:
    """One budget period: `[start, end)` in Unix seconds (`end` is inf without a period)."""

    start: float
    end: float

    @property
    def reset_text(self) -> str:
        """When the period resets, for messages."""
        if self.end == FOREVER:
            return "it never resets"
        when = datetime.fromtimestamp(self.end, tz=timezone.utc)
        return f"it resets at {when.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def window_at(per: Period | None, now: float) -> Window:
    """The calendar period (UTC) of `per` that contains `now`."""
    if per is None:
        return Window(0.0, FOREVER)
    # Periods start on whole seconds: the second `now` falls in is in its period, and
    # a float a fraction of a microsecond before a boundary is not rounded across it.
    moment = datetime.fromtimestamp(math.floor(now), tz=timezone.utc)
    if per == "hour":
        start = moment.replace(minute=0, second=0, microsecond=0)
        end_ts = start.timestamp() + 3600
    elif per == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        end_ts = start.timestamp() + 86400
    else:
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        end_ts = start.replace(year=year, month=month).timestamp()
    return Window(start.timestamp(), end_ts)


class BudgetStore(Protocol):
    """Where a budget's counters live."""

    #: True when calls may block on the network (async callers use a worker thread).
    remote: bool

    def read(self, tenant: str, window: Window) -> tuple[float, int]:
        """USD and tokens spent by `tenant` (a `tenant_slot`) in `window`; may raise."""

    def add(self, tenant: str, window: Window, usd: float, tokens: int) -> None:
        """Add spend to `tenant` in `window`, atomically; may raise when unreachable."""


class MemoryBudgetStore:
    """Counters in this process, one lock around them, kept per tenant and period.

    Counters of periods that have ended are dropped, and so is a charge that arrives
    for one (a call read its period just before a boundary): it never touches the
    current period's count. Budgets of different periods may share a store.
    """

    remote = False

    def __init__(self) -> None:
        """Start with nothing spent."""
        self._lock = threading.Lock()
        #: (tenant, period start, period end) -> (usd, tokens)
        self._spent: dict[tuple[str, float, float], tuple[float, int]] = {}
        self._latest = float("-inf")  # the latest period start charged

    def __len__(self) -> int:
        """The number of counters kept (one per tenant and period)."""
        return len(self._spent)

    def read(self, tenant: str, window: Window) -> tuple[float, int]:
        """USD and tokens spent by `tenant` in `window`."""
        return self._spent.get((tenant, window.start, window.end), (0.0, 0))  # atomic read

    def add(self, tenant: str, window: Window, usd: float, tokens: int) -> None:
        """Add spend to `tenant` in `window`."""
        with self._lock:
            if window.end <= self._latest:  # a period already over: its counters are gone
                return
            if window.start > self._latest:  # a new period: the counters of ended ones go
                self._latest = window.start
                self._spent = {k: e for k, e in self._spent.items() if k[2] > window.start}
            key = (tenant, window.start, window.end)
            usd_spent, tokens_spent = self._spent.get(key, (0.0, 0))
            self._spent[key] = (usd_spent + usd, tokens_spent + tokens)


def store_wait(timeout: float, deadline: float, now: float) -> float:
    """How long a call due at `deadline` may wait for a remote store (monotonic seconds).

    The store's sockets give up after `timeout` per connect and per reply, so after
    2 x `timeout` for a cold connection; the name lookup before a connect has no such
    bound. The answer is `min(2 x timeout, deadline - now)`, and 0 once the deadline
    has passed (the store is not asked).
    """
    return max(min(2 * timeout, deadline - now), 0.0)
