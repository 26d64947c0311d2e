"""Single-use claims for pending confirmations: the first resume wins, every later one is refused.

ClaimStore            anything with `claim(key, ttl) -> bool` (True only the first time)
InMemoryClaimStore    one process (the default)
RedisClaimStore       every worker sharing one Redis (`SET key 1 NX PX ttl`)
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["ClaimStore", "InMemoryClaimStore", "RedisClaimStore", "default_claim_store"]

_CLEANUP_SIZE = 1024


@runtime_checkable
class ClaimStore(Protocol):
    """Where resumed pending states are marked as used."""

    def claim(self, key: str, ttl: float) -> bool:
        """Mark `key` as used for at least `ttl` seconds; True only for the first caller."""
        ...


class InMemoryClaimStore:
    """Claims held in this process (thread-safe); forgotten `ttl` seconds after they are made.

    Workers in other processes do not see them: use `RedisClaimStore` when several
    processes may resume the same state.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._cleanup_at = _CLEANUP_SIZE

    def __repr__(self) -> str:
        return f"InMemoryClaimStore({len(self)} claims)"

    def __len__(self) -> int:
        """Claims held, lapsed ones included until the next clean-up."""
        return len(self._expiry)

    def claim(self, key: str, ttl: float) -> bool:
        """True the first time `key` is claimed (until its claim lapses)."""
        now = self._clock()
        with self._lock:
            if self._expiry.get(key, -math.inf) > now:
                return False
            if len(self._expiry) >= self._cleanup_at:  # amortised: memory stays bounded
                self._expiry = {k: t for k, t in self._expiry.items() if t > now}
                self._cleanup_at = max(_CLEANUP_SIZE, 2 * len(self._expiry))
            self._expiry[key] = now + ttl
            return True


class RedisClaimStore:
    """Claims shared by every process using one Redis: `SET <prefix><key> 1 NX PX <ttl>`.

    Args:
        client: a synchronous `redis.Redis` client (the `redis` package); async resumes
            call it in a worker thread.
        prefix: put before each state id to make the Redis key.
    """

    def __init__(self, client: Any, *, prefix: str = "llmport:confirmation:") -> None:
        if not callable(getattr(client, "set", None)):
            raise TypeError(f"client must be a redis.Redis client, got {type(client).__name__}")
        self.client = client
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"RedisClaimStore(prefix={self.prefix!r})"

    def claim(self, key: str, ttl: float) -> bool:
        """True when this call set the key, False when it already existed."""
        milliseconds = max(1, math.ceil(ttl * 1000))
        answer = self.client.set(self.prefix + key, "1", nx=True, px=milliseconds)
        if inspect.isawaitable(answer):  # an unawaited coroutine is truthy: every claim would win
            if inspect.iscoroutine(answer):
                answer.close()
            raise TypeError(
                "RedisClaimStore needs a synchronous redis.Redis client, not redis.asyncio's "
                "(async resumes already call it in a worker thread)"
            )
        return bool(answer)


_DEFAULT = InMemoryClaimStore()


def default_claim_store() -> InMemoryClaimStore:
    """The process-wide store used when a `ConfirmationGuard` is given none."""
    return _DEFAULT
