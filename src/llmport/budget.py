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
N calls' cost (see docs/cost-and-budgets.md). Neither a check nor a charge waits for
a remote store past the call's deadline (`total_timeout`); a charge the store has not
taken by then is sent later by one worker thread per budget, not dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from llmport._budget_charges import ChargeSender
from llmport._budget_store import (
    FOREVER,
    BudgetStore,
    MemoryBudgetStore,
    Period,
    Window,
    check_settings,
    store_wait,
    tenant_slot,
    window_at,
)
from llmport._deadline import TotalTimeoutError, acall_before, call_before
from llmport.errors import ConfigurationError, ErrorKind
from llmport.redaction import redact
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
    "store_wait",
    "tenant_slot",
    "window_at",
]

logger = logging.getLogger(__name__)

#: How much of a tenant id a refusal message quotes.
_QUOTED_TENANT = 64


class _NoTimeLeftError(Exception):
    """The call's deadline came before the remote store answered (or could be asked)."""


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
        redis_timeout: seconds (> 0) allowed for connecting to and each reply from Redis. A
            check of a call with a `total_timeout` waits for Redis in a worker thread,
            at most 2 x `redis_timeout` and never past the call's deadline.
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
        check_settings(usd, tokens, per, key, redis_timeout, redis_cooldown)
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
        self.redis_timeout = redis_timeout
        self.redis_cooldown = redis_cooldown
        self._down_until = float("-inf")
        self._down_reason = ""
        self._window = Window(0.0, -1.0)
        self._start_without_threads()
        _budgets.add(self)

    def _start_without_threads(self) -> None:
        """No worker thread yet: at creation, and in a forked child, which has none of
        its parent's (the parent sends the charges it queued)."""
        #: Set once no worker thread is left waiting on the store for a call that gave up.
        self._straggler = threading.Event()
        self._straggler.set()
        #: Sends charges to a remote store for calls that cannot wait for it.
        self._sender = ChargeSender(self._send)

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
        allowed |= {"redis_cooldown", "prefix"}
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ConfigurationError(
                f"budget has no setting {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
            )
        return cls(**value)

    def window(self) -> Window:
        """The current period; recomputed only when the clock has left the last one."""
        return self._window_at(self.clock())

    def _window_at(self, now: float) -> Window:
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

    def check(self, metadata: Mapping[str, Any], deadline: float | None = None) -> LLMError | None:
        """None when the call may go ahead; otherwise why not (`budget`, `budget_unavailable`).

        `deadline` is the call's (`time.monotonic()` seconds): a remote store is waited on
        until then at most, and not asked at all once it has passed; either way the
        budget then fails closed or open as for an unreachable store.
        """
        now = self.clock()
        tenant, window = self.tenant(metadata), self._window_at(now)
        if now < self._down_until:  # the store failed less than `redis_cooldown` ago
            return self._unavailable("checked", f"could not be reached ({self._down_reason})")
        try:
            usd, tokens = self._read(tenant_slot(tenant), window, deadline)
        except _NoTimeLeftError as exc:
            return self._unavailable("checked", str(exc))
        except Exception:
            return self._unavailable("checked", f"could not be reached ({self._down_reason})")
        return self._over(tenant, window, usd, tokens)

    def record(
        self, metadata: Mapping[str, Any], usd: float, tokens: int, deadline: float | None = None
    ) -> None:
        """Charge a finished call's spend to its tenant; a store failure is logged, not raised.

        `deadline` is the call's (`time.monotonic()` seconds): a remote store is waited on
        until then at most, and at most 2 x `redis_timeout`. A charge the store has not
        taken by then, or made while the store rests after a failure (not waited on), is
        not dropped: the budget's worker thread sends it when the store answers (while the
        process lives). Without a deadline, a charge made while the store rests is dropped.
        """
        usd = usd if math.isfinite(usd) and usd > 0 else 0.0  # NaN would poison the counter
        tokens = max(tokens, 0)
        if usd == 0 and tokens == 0:
            return
        at = self.clock()
        slot, window = tenant_slot(self.tenant(metadata)), self._window_at(at)
        resting = at < self._down_until  # the store failed less than `redis_cooldown` ago
        if deadline is None or not self.store.remote:
            if resting:
                self._unavailable("charged", f"could not be reached ({self._down_reason})")
            else:
                self._send(slot, window, usd, tokens)
            return
        # The worker sends even while the store rests; a call waits for it only otherwise.
        now = time.monotonic()
        wait = 0.0 if resting else store_wait(self.redis_timeout, deadline, now)
        try:
            sent = self._sender.charge(slot, window, usd, tokens, until=now + wait)
        except RuntimeError as exc:  # no thread now: the store is fine, the charge waits
            logger.warning("llm budget charge queued: no worker thread could start (%s)", exc)
            return
        if not sent and not resting and now + wait < deadline:  # slower than its socket bounds
            self._failed(TimeoutError())

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every charge still queued for a slow Redis has been sent (or failed).

        Charges of calls that could not wait for Redis (see `record`) live in this
        process until sent; call this at a worker's shutdown so none is lost. Returns
        False if `timeout` seconds passed first.
        """
        return self._sender.wait_sent(timeout)

    def _send(self, slot: str, window: Window, usd: float, tokens: int) -> None:
        """Add a charge to the store now; a failure rests the store and drops the charge."""
        try:
            self.store.add(slot, window, usd, tokens)
        except Exception as exc:
            self._failed(exc)
            self._unavailable("charged", f"could not be reached ({self._down_reason})")

    async def acheck(
        self, metadata: Mapping[str, Any], deadline: float | None = None
    ) -> LLMError | None:
        """`check` for async callers: a remote store is asked from a worker thread, which
        the call waits for no longer than its deadline (the executor may have none free)."""
        if not self.store.remote:
            return self.check(metadata)
        started = threading.Event()

        def check() -> LLMError | None:
            started.set()
            return self.check(metadata, deadline)

        if deadline is None:
            return await asyncio.to_thread(check)
        try:
            return await acall_before(deadline, None, asyncio.to_thread(check))
        except TotalTimeoutError:
            # The thread's own wait for the store ends at the same deadline: whichever
            # came first, the reason is the same when the store was asked.
            why = (
                "did not answer within the call's remaining total_timeout"
                if started.is_set()
                else "was not asked: no thread was free in time"
            )
            return self._unavailable("checked", why)

    async def arecord(
        self, metadata: Mapping[str, Any], usd: float, tokens: int, deadline: float | None = None
    ) -> None:
        """`record` for async callers: a remote store is sent to from a worker thread.

        The charge goes on when the call is cancelled meanwhile (a cancel scope cancels
        every await in it, the one in `finally` too), or its deadline passes before a
        thread of the executor was free for it.
        """
        if self.store.remote and (usd > 0 or tokens > 0):
            charge = asyncio.shield(asyncio.to_thread(self.record, metadata, usd, tokens, deadline))
            with contextlib.suppress(TotalTimeoutError):  # it goes on, and is sent later
                await (charge if deadline is None else acall_before(deadline, None, charge))
        else:
            self.record(metadata, usd, tokens)

    # --- the request path's hook points ------------------------------------------------------

    def refuse(self, request: ChatRequest, provider: str) -> LLMResponse | None:
        """The ERROR response for a call whose tenant is over budget; None when it may go."""
        error = self.check(request.metadata, request.deadline)
        return None if error is None else refusal(error, request.model, provider)

    async def arefuse(self, request: ChatRequest, provider: str) -> LLMResponse | None:
        """Async twin of `refuse`."""
        error = await self.acheck(request.metadata, request.deadline)
        return None if error is None else refusal(error, request.model, provider)

    def charge(self, request: ChatRequest, spend: Spend) -> None:
        """Charge a finished call's `spend` to its tenant, by the call's deadline (`record`)."""
        self.record(request.metadata, spend.known_cost, spend.tokens, request.deadline)

    async def acharge(self, request: ChatRequest, spend: Spend) -> None:
        """Async twin of `charge`."""
        await self.arecord(request.metadata, spend.known_cost, spend.tokens, request.deadline)

    def _over(self, tenant: str, window: Window, usd: float, tokens: int) -> LLMError | None:
        if self.usd is not None and usd >= self.usd:
            limit, spent = f"${self.usd:g}", f"${usd:.6g}"
        elif self.tokens is not None and tokens >= self.tokens:
            limit, spent = f"{self.tokens} tokens", f"{tokens} tokens"
        else:
            return None
        quoted = redact(tenant)  # an id that holds a key never shows it
        quoted = quoted if len(quoted) <= _QUOTED_TENANT else f"{quoted[:_QUOTED_TENANT]}..."
        who = f"tenant {quoted!r}" if tenant else f"calls without metadata[{self.key!r}]"
        period = f" per {self.per}" if self.per else " in total"
        retry_after = None if window.end == FOREVER else max(0.0, window.end - self.clock())
        return LLMError(
            kind=ErrorKind.BUDGET,
            message=f"budget: {who} reached the limit of {limit}{period} "
            f"(spent {spent}); {window.reset_text}",
            retry_after=retry_after,
        )

    def _read(self, slot: str, window: Window, deadline: float | None) -> tuple[float, int]:
        """The store's counters, waited for no longer than the call's `deadline` allows."""
        if not self.store.remote or deadline is None:
            return self._ask(slot, window)
        now = time.monotonic()
        wait = store_wait(self.redis_timeout, deadline, now)
        if wait <= 0:
            raise _NoTimeLeftError("was not asked: the call's total_timeout had run out")
        if not self._straggler.is_set():  # one thread waits on a slow store, not one per call
            raise _NoTimeLeftError("was not asked: it has not yet answered a call that ran out")
        until = min(now + wait, deadline)
        answered = threading.Event()

        def ask() -> tuple[float, int]:
            try:
                return self._ask(slot, window)
            finally:
                answered.set()

        try:  # the worker goes on alone: a failure it meets still rests the store
            return call_before(until, None, ask)
        except TotalTimeoutError:
            self._straggler = answered
            if now + wait < deadline:  # slower than its own socket bounds (a hung lookup)
                self._failed(TimeoutError())
                raise TimeoutError from None
            # the store may be fine, only slower than this call's time
            raise _NoTimeLeftError(
                f"did not answer within the call's remaining total_timeout ({wait:.3g} s)"
            ) from None

    def _ask(self, slot: str, window: Window) -> tuple[float, int]:
        try:
            return self.store.read(slot, window)
        except Exception as exc:
            self._failed(exc)
            raise

    def _failed(self, exc: Exception) -> None:
        """A fresh store failure: leave the store alone for the cooldown."""
        self._down_until = self.clock() + self.redis_cooldown
        self._down_reason = type(exc).__name__

    def _unavailable(self, action: str, why: str) -> LLMError | None:
        """What a check (or a charge) does when the store `why` (e.g. "could not be reached")."""
        if action == "charged" or self.fail_open:
            verb = "not charged" if action == "charged" else "not checked (fail_open)"
            logger.warning("llm budget store %s: spend %s", why, verb)
            return None
        return LLMError(
            kind=ErrorKind.BUDGET_UNAVAILABLE,
            message=f"budget_unavailable: the budget store {why}; the call is refused "
            "(Budget(fail_open=True) lets calls through when the store cannot answer)",
            retryable=True,
        )


#: Every budget alive, for a forked child to drop its parent's worker threads from.
_budgets: weakref.WeakSet[Budget] = weakref.WeakSet()


def _forget_parent_threads() -> None:
    for budget in list(_budgets):
        budget._start_without_threads()


if hasattr(os, "register_at_fork"):  # POSIX: a prefork worker pool forks a loaded app
    os.register_at_fork(after_in_child=_forget_parent_threads)


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
