"""`Budget`: cap what each tenant spends, in USD and tokens, per hour, day or month.

    call -> tenant = metadata[key]  ("" when absent: one shared bucket)
         -> spent >= limit?  ERROR of kind `budget`, before any network I/O
         -> the call runs
         -> spent += the call's cost and tokens (every billed attempt)

Counters live in this process (thread- and task-safe) or, with `redis_url`, in
Redis, where several worker processes share them; each key expires at the end of
its period. Periods are calendar hours, days and months in UTC. A limit is
checked before the call and charged after it, so calls already in flight when a
tenant crosses the limit still finish: at concurrency N the overshoot is at most
N calls' cost (see docs/cost-and-budgets.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, Protocol

from llmport.errors import ConfigurationError, ErrorKind
from llmport.response import LLMError, LLMResponse, LLMResponseStatus

if TYPE_CHECKING:
    from llmport.base import ChatRequest
    from llmport.cost import Spend

__all__ = [
    "Budget",
    "BudgetStore",
    "MemoryBudgetStore",
    "Period",
    "Window",
    "refusal",
    "tenant_slot",
]

logger = logging.getLogger(__name__)

Period = Literal["hour", "day", "month"]
_PERIODS = ("hour", "day", "month")
_FOREVER = float("inf")
#: Tenant ids the stores use as they are; any other id is stored by its digest.
_PLAIN_TENANT = re.compile(r"[A-Za-z0-9_.@+=-]{0,64}")
#: How much of a tenant id a refusal message quotes.
_QUOTED_TENANT = 64


def tenant_slot(tenant: str) -> str:
    """The name a store keeps `tenant`'s counters under: short, ASCII, never a `:`.

    A plain id (letters, digits, `_.@+=-`, at most 64 characters) is its own slot. Any
    other (longer, unicode, with spaces or key separators) becomes `~` and a digest, so
    an attacker-chosen id can neither grow a key without bound nor reach another
    tenant's counters (`~` is never part of a plain id).
    """
    if _PLAIN_TENANT.fullmatch(tenant):
        return tenant
    digest = hashlib.sha256(tenant.encode("utf-8", "surrogatepass")).hexdigest()
    return f"~{digest[:40]}"


@dataclass(frozen=True, slots=True)
class Window:
    """One budget period: `[start, end)` in Unix seconds (`end` is inf without a period)."""

    start: float
    end: float

    @property
    def reset_text(self) -> str:
        """When the period resets, for messages."""
        if self.end == _FOREVER:
            return "it never resets"
        when = datetime.fromtimestamp(self.end, tz=timezone.utc)
        return f"it resets at {when.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def window_at(per: Period | None, now: float) -> Window:
    """The calendar period (UTC) of `per` that contains `now`."""
    if per is None:
        return Window(0.0, _FOREVER)
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
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
    """Counters in this process, one lock around them; past periods are dropped."""

    remote = False

    def __init__(self) -> None:
        """Start with nothing spent."""
        self._lock = threading.Lock()
        self._spent: dict[str, tuple[float, float, int]] = {}  # tenant -> (start, usd, tokens)
        self._latest = float("-inf")

    def __len__(self) -> int:
        """The number of tenants with counters kept."""
        return len(self._spent)

    def read(self, tenant: str, window: Window) -> tuple[float, int]:
        """USD and tokens spent by `tenant` in `window`."""
        entry = self._spent.get(tenant)  # one dict read: atomic, no lock needed
        if entry is None or entry[0] != window.start:
            return 0.0, 0
        return entry[1], entry[2]

    def add(self, tenant: str, window: Window, usd: float, tokens: int) -> None:
        """Add spend to `tenant` in `window`."""
        with self._lock:
            if window.start > self._latest:  # a new period: the counters of past ones go
                self._latest = window.start
                self._spent = {t: e for t, e in self._spent.items() if e[0] >= window.start}
            entry = self._spent.get(tenant)
            if entry is None or entry[0] != window.start:
                entry = (window.start, 0.0, 0)
            self._spent[tenant] = (window.start, entry[1] + usd, entry[2] + tokens)


class Budget:
    """A spending limit per tenant, passed to a provider or group as `budget=`.

    >>> budget = Budget(usd=5.0, per="day")                   # $5 a day per tenant_id
    >>> budget = Budget(tokens=100_000, per="hour", key="org")  # tokens, by metadata["org"]

    Args:
        usd: the most USD a tenant may spend in a period (None: no USD limit).
        tokens: the most tokens (prompt + completion) a tenant may use in a period.
        per: "hour", "day" or "month" (calendar periods in UTC), or None for no reset.
        key: the `metadata` key that names the tenant; calls without it share one bucket.
        redis_url: keep the counters in this Redis (needs the `redis` package), shared by
            every process that uses the same URL and `prefix`.
        fail_open: when Redis cannot be reached, let calls through (True) or refuse them
            with kind `budget_unavailable` (False, the default).
        redis_timeout: seconds allowed for connecting to and each reply from Redis; keep
            it well under the calls' timeout.
        redis_cooldown: seconds after a failed Redis call during which the store is not
            asked (calls fail closed or open at once), so a down or flapping Redis costs
            at most one `redis_timeout` wait per cooldown, not one per call.
        prefix: the Redis key prefix; budgets with different limits need different ones.
        clock: returns Unix seconds (tests pass a fake one).
        store: counters to use instead of the default ones.

    Raises:
        ConfigurationError: no limit, a negative limit, or an unknown period.
    """

    def __init__(
        self,
        usd: float | None = None,
        tokens: int | None = None,
        per: Period | None = None,
        key: str = "tenant_id",
        redis_url: str | None = None,
        *,
        fail_open: bool = False,
        redis_timeout: float = 0.25,
        redis_cooldown: float = 1.0,
        prefix: str = "llmport:budget",
        clock: Callable[[], float] = time.time,
        store: BudgetStore | None = None,
    ) -> None:
        """Check the limits and pick the store (see the class docstring)."""
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
        if per is not None and per not in _PERIODS:
            raise ConfigurationError(f"Budget per must be one of {_PERIODS} or None, got {per!r}")
        if tokens is not None and not isinstance(tokens, int):
            raise ConfigurationError(f"Budget tokens must be a whole number, got {tokens!r}")
        if not key or not isinstance(key, str):
            raise ConfigurationError(
                f"Budget key must name a metadata key, e.g. 'tenant_id', got {key!r}"
            )
        self.usd = usd
        self.tokens = tokens
        self.per = per
        self.key = key
        self.fail_open = fail_open
        self.clock = clock
        self.redis_url = redis_url
        if store is None and redis_url is not None:
            from llmport._budget_redis import RedisBudgetStore

            store = RedisBudgetStore(redis_url, prefix=prefix, timeout=redis_timeout)
        self.store: BudgetStore = store if store is not None else MemoryBudgetStore()
        self.redis_cooldown = redis_cooldown
        self._down_until = float("-inf")
        self._down_reason = ""
        self._window = Window(0.0, -1.0)

    def __repr__(self) -> str:
        where = "redis" if self.redis_url else "memory"
        return f"Budget(usd={self.usd!r}, tokens={self.tokens!r}, per={self.per!r}, {where})"

    @classmethod
    def from_setting(cls, value: Budget | Mapping[str, Any]) -> Budget:
        """A `Budget` from itself or from a profile's table (`budget = {usd = 5, per = "day"}`).

        Raises:
            ConfigurationError: the table has an unknown key or a bad value.
        """
        if isinstance(value, Budget):
            return value
        if not isinstance(value, Mapping):
            raise ConfigurationError(f"budget must be a Budget or a table, got {value!r}")
        allowed = {"usd", "tokens", "per", "key", "redis_url", "fail_open", "redis_timeout"}
        allowed |= {"redis_cooldown"}
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ConfigurationError(
                f"budget has no setting {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
            )
        return cls(**value)

    def window(self) -> Window:
        """The current period; recomputed only when the clock has left the last one."""
        now = self.clock()
        current = self._window
        if not current.start <= now < current.end:
            current = self._window = window_at(self.per, now)
        return current

    def tenant(self, metadata: Mapping[str, Any]) -> str:
        """The tenant a call belongs to ("" for calls without `metadata[key]`)."""
        value = metadata.get(self.key)
        return "" if value is None else str(value)

    def spent(self, tenant: str = "") -> tuple[float, int]:
        """USD and tokens `tenant` has spent in the current period."""
        return self.store.read(tenant_slot(tenant), self.window())

    def check(self, metadata: Mapping[str, Any]) -> LLMError | None:
        """None when the call may go ahead; otherwise why not (`budget`, `budget_unavailable`)."""
        tenant, window = self.tenant(metadata), self.window()
        if self._store_down():
            return self._unavailable("checked")
        try:
            usd, tokens = self.store.read(tenant_slot(tenant), window)
        except Exception as exc:
            return self._unavailable("checked", exc)
        return self._over(tenant, window, usd, tokens)

    def record(self, metadata: Mapping[str, Any], usd: float, tokens: int) -> None:
        """Charge a finished call's spend to its tenant; a store failure is logged, not raised."""
        usd = usd if math.isfinite(usd) and usd > 0 else 0.0  # NaN would poison the counter
        tokens = max(tokens, 0)
        if usd == 0 and tokens == 0:
            return
        if self._store_down():
            self._unavailable("charged")
            return
        try:
            self.store.add(tenant_slot(self.tenant(metadata)), self.window(), usd, tokens)
        except Exception as exc:
            self._unavailable("charged", exc)

    async def acheck(self, metadata: Mapping[str, Any]) -> LLMError | None:
        """`check` for async callers: a remote store is asked from a worker thread."""
        if self.store.remote:
            return await asyncio.to_thread(self.check, metadata)
        return self.check(metadata)

    async def arecord(self, metadata: Mapping[str, Any], usd: float, tokens: int) -> None:
        """`record` for async callers."""
        if self.store.remote and (usd > 0 or tokens > 0):
            await asyncio.to_thread(self.record, metadata, usd, tokens)
        else:
            self.record(metadata, usd, tokens)

    # --- the request path's hook points ------------------------------------------------------

    def refuse(self, request: ChatRequest, provider: str) -> LLMResponse | None:
        """The ERROR response for a call whose tenant is over budget; None when it may go."""
        error = self.check(request.metadata)
        return None if error is None else refusal(error, request.model, provider)

    async def arefuse(self, request: ChatRequest, provider: str) -> LLMResponse | None:
        """Async twin of `refuse`."""
        error = await self.acheck(request.metadata)
        return None if error is None else refusal(error, request.model, provider)

    def charge(self, request: ChatRequest, spend: Spend) -> None:
        """Charge a finished call's `spend` to its tenant."""
        self.record(request.metadata, spend.known_cost, spend.tokens)

    async def acharge(self, request: ChatRequest, spend: Spend) -> None:
        """Async twin of `charge`."""
        await self.arecord(request.metadata, spend.known_cost, spend.tokens)

    def _over(self, tenant: str, window: Window, usd: float, tokens: int) -> LLMError | None:
        if self.usd is not None and usd >= self.usd:
            limit, spent = f"${self.usd:g}", f"${usd:.6g}"
        elif self.tokens is not None and tokens >= self.tokens:
            limit, spent = f"{self.tokens} tokens", f"{tokens} tokens"
        else:
            return None
        quoted = tenant if len(tenant) <= _QUOTED_TENANT else f"{tenant[:_QUOTED_TENANT]}..."
        who = f"tenant {quoted!r}" if tenant else f"calls without metadata[{self.key!r}]"
        period = f" per {self.per}" if self.per else " in total"
        retry_after = None if window.end == _FOREVER else max(0.0, window.end - self.clock())
        return LLMError(
            kind=ErrorKind.BUDGET,
            message=f"budget: {who} reached the limit of {limit}{period} "
            f"(spent {spent}); {window.reset_text}",
            retry_after=retry_after,
        )

    def _store_down(self) -> bool:
        """Whether the store failed less than `redis_cooldown` seconds ago (not asked then)."""
        return self.clock() < self._down_until

    def _unavailable(self, action: str, exc: Exception | None = None) -> LLMError | None:
        if exc is not None:  # a fresh failure: leave the store alone for the cooldown
            self._down_until = self.clock() + self.redis_cooldown
            self._down_reason = type(exc).__name__
        name = self._down_reason
        if action == "charged" or self.fail_open:
            verb = "not charged" if action == "charged" else "not checked (fail_open)"
            logger.warning("llm budget store unreachable (%s): spend %s", name, verb)
            return None
        return LLMError(
            kind=ErrorKind.BUDGET_UNAVAILABLE,
            message=f"budget_unavailable: the budget store could not be reached ({name}); "
            "calls are refused until it can (Budget(fail_open=True) lets them through)",
            retryable=True,
        )


def refusal(error: LLMError, model: str, provider: str) -> LLMResponse:
    """The ERROR response of a call that a budget stopped before it was sent."""
    return LLMResponse(
        status=LLMResponseStatus.ERROR,
        finish_reason="error",
        model=model,
        provider=provider,
        error=error,
        attempts=0,
    )
