"""Budget counters in Redis, shared by every process that uses the same URL and prefix.

Each tenant and period has two keys, `{prefix}:{tenant slot}:{start}-{end}:usd` and
`...:tokens`, named by the period's bounds, so an hourly and a daily budget never share
one. The slot is the tenant id itself when it is short and plain, and a digest otherwise,
or when it holds a secret (`llmport.budget.tenant_slot`): no tenant id
can add a `:`, grow a key, or put a secret in one.
A charge is one MULTI/EXEC pipeline: INCRBYFLOAT, INCRBY, and EXPIREAT
at the end of the period, so counters update atomically and vanish when their
period is over. Sockets time out after `timeout` seconds and nothing is retried,
so an unreachable Redis costs a call at most a connect timeout plus a read timeout
(a hung name lookup aside),
and a check no more than what is left of the call's `total_timeout` (`Budget.check`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from llmport.errors import ConfigurationError

if TYPE_CHECKING:
    from llmport._budget_store import Window

__all__ = ["RedisBudgetStore"]


class RedisBudgetStore:
    """Budget counters in Redis (needs the `redis` package: `pip install 'llmport[router]'`)."""

    remote = True

    def __init__(self, url: str, *, prefix: str = "llmport:budget", timeout: float = 0.25) -> None:
        """Connect lazily to `url`; `timeout` bounds connecting and each reply.

        Raises:
            ConfigurationError: the `redis` package is missing or the URL is malformed.
        """
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            raise ConfigurationError(
                "Budget(redis_url=...) needs the redis package: pip install 'llmport[router]'"
            ) from None
        try:
            self.client: Any = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
                decode_responses=True,
            )
        except ValueError as exc:
            raise ConfigurationError(f"Budget redis_url is not a Redis URL: {exc}") from None
        self.prefix = prefix

    def _keys(self, tenant: str, window: Window) -> tuple[str, str]:
        end = "forever" if math.isinf(window.end) else str(int(window.end))
        base = f"{self.prefix}:{tenant}:{int(window.start)}-{end}"
        return f"{base}:usd", f"{base}:tokens"

    def read(self, tenant: str, window: Window) -> tuple[float, int]:
        """USD and tokens spent by `tenant` in `window`."""
        usd, tokens = self.client.mget(self._keys(tenant, window))
        return float(usd or 0.0), int(tokens or 0)

    def add(self, tenant: str, window: Window, usd: float, tokens: int) -> None:
        """Add spend atomically and let the keys expire at the end of the period."""
        usd_key, tokens_key = self._keys(tenant, window)
        pipe = self.client.pipeline(transaction=True)
        pipe.incrbyfloat(usd_key, usd)
        pipe.incrby(tokens_key, tokens)
        if not math.isinf(window.end):
            expires = math.ceil(window.end)
            pipe.expireat(usd_key, expires)
            pipe.expireat(tokens_key, expires)
        pipe.execute()
