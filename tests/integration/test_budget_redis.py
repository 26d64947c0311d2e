"""Budgets kept in a real Redis: atomic counters, expiry at the period's end, shared by processes.

A `redis-server` runs on 127.0.0.1 for the module (see proxy/redis_harness.py). The
two-process test starts two budget_worker.py processes against one LocalGateway and
one Redis, both spending tenant "acme"'s daily budget. Everything is bounded in count
and time and stopped by process id.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from llmport import Budget, ErrorKind
from llmport.testing import FakeLLM, LocalGateway

PROXY_DIR = Path(__file__).resolve().parent / "proxy"
sys.path.insert(0, str(PROXY_DIR))
from redis_harness import PASSWORD as REDIS_PASSWORD  # noqa: E402
from redis_harness import redis_fixtures, require_redis  # noqa: E402

require_redis()

pytestmark = pytest.mark.integration
redis_port, redis_client = redis_fixtures()

USER = [{"role": "user", "content": "hi"}]
#: Powers of two, so sums of costs are exact in floating point and in Redis.
INPUT, OUTPUT = 1 / 1024, 1 / 512
CALL_COST = 10 * INPUT + 5 * OUTPUT  # FakeLLM's default usage
PRICED: dict[str, Any] = {"input_cost_per_token": INPUT, "output_cost_per_token": OUTPUT}
#: A fake clock's day that is still ahead (Redis drops keys whose expiry has passed):
#: 13:30 UTC the day after tomorrow, and the midnight that ends that day.
_TODAY = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
MIDNIGHT = _TODAY.timestamp() + 3 * 86400
NOW = MIDNIGHT - 86400 + 13.5 * 3600
WORKER_TIMEOUT = 120.0


def redis_url(port: int) -> str:
    return f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"


def test_the_spend_is_kept_in_redis_and_refuses_when_reached(
    redis_client: Any, redis_port: int
) -> None:
    budget = Budget(
        usd=2 * CALL_COST, per="day", redis_url=redis_url(redis_port), clock=lambda: NOW
    )
    llm = FakeLLM(budget=budget, **PRICED)
    assert llm.chat_completions(USER, metadata={"tenant_id": "acme"}).ok
    assert llm.chat_completions(USER, metadata={"tenant_id": "acme"}).ok
    refused = llm.chat_completions(USER, metadata={"tenant_id": "acme"})
    assert refused.error is not None
    assert refused.error.kind is ErrorKind.BUDGET
    prefix = f"llmport:budget:acme:{int(MIDNIGHT - 86400)}-{int(MIDNIGHT)}"
    assert float(redis_client.get(f"{prefix}:usd")) == 2 * CALL_COST
    assert int(redis_client.get(f"{prefix}:tokens")) == 30


def test_the_keys_expire_at_the_end_of_the_period(redis_client: Any, redis_port: int) -> None:
    budget = Budget(usd=1, per="day", redis_url=redis_url(redis_port), clock=lambda: NOW)
    FakeLLM(budget=budget, **PRICED).chat_completions(USER, metadata={"tenant_id": "acme"})
    (key, *_) = redis_client.keys("llmport:budget:acme:*")
    assert redis_client.expiretime(key) == int(MIDNIGHT)


def test_an_hourly_and_a_daily_budget_on_one_redis_keep_separate_counters(
    redis_client: Any, redis_port: int
) -> None:
    at_midnight = MIDNIGHT  # the first hour of a day: both periods start here
    url = redis_url(redis_port)
    hourly = Budget(tokens=1_000, per="hour", redis_url=url, clock=lambda: at_midnight)
    daily = Budget(tokens=1_000, per="day", redis_url=url, clock=lambda: at_midnight)
    FakeLLM(budget=hourly, **PRICED).chat_completions(USER, metadata={"tenant_id": "acme"})
    keys = sorted(key.decode() for key in redis_client.keys("llmport:budget:acme:*:tokens"))
    assert keys == [f"llmport:budget:acme:{int(at_midnight)}-{int(at_midnight) + 3600}:tokens"]
    assert daily.spent("acme") == (0.0, 0)


def test_concurrent_charges_are_atomic(redis_client: Any, redis_port: int) -> None:
    budget = Budget(usd=1000, redis_url=redis_url(redis_port))

    def charge() -> None:
        for _ in range(50):
            budget.record({"tenant_id": "acme"}, 0.25, 3)

    threads = [threading.Thread(target=charge) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert budget.spent("acme") == (50.0, 600)


def test_async_calls_share_the_redis_budget(redis_client: Any, redis_port: int) -> None:
    budget = Budget(usd=CALL_COST, redis_url=redis_url(redis_port))
    llm = FakeLLM(budget=budget, **PRICED)
    first = asyncio.run(llm.achat_completions(USER))
    second = asyncio.run(llm.achat_completions(USER))
    assert first.ok
    assert second.error is not None
    assert second.error.kind is ErrorKind.BUDGET


def test_two_worker_processes_share_one_budget(
    redis_client: Any, redis_port: int, tmp_path: Path
) -> None:
    calls_allowed, calls_each, workers = 5, 6, 2
    prompt, completion = 3, 4  # the gateway's counts for one user message and chunks-4
    per_call = prompt * INPUT + completion * OUTPUT
    with LocalGateway() as gateway:
        settings = {
            "base_url": gateway.base_url,
            "redis_url": redis_url(redis_port),
            "usd": calls_allowed * per_call,
            "calls": calls_each,
            "input_cost_per_token": INPUT,
            "output_cost_per_token": OUTPUT,
        }
        processes = [
            subprocess.Popen(
                [sys.executable, str(PROXY_DIR / "budget_worker.py"), json.dumps(settings)],
                stdout=subprocess.PIPE,
                stderr=(tmp_path / f"worker-{n}.log").open("wb"),
                text=True,
            )
            for n in range(workers)
        ]
        try:
            outputs = [p.communicate(timeout=WORKER_TIMEOUT)[0] for p in processes]
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)
    outcomes = [o for output in outputs for o in json.loads(output)]
    served = [o for o in outcomes if o["ok"]]
    refused = [o for o in outcomes if not o["ok"]]
    # Each worker has at most one call in flight, so the overshoot is at most one call
    # per other worker: the documented bound of N - 1 calls past the limit.
    assert calls_allowed <= len(served) <= calls_allowed + workers - 1
    assert {o["kind"] for o in refused} == {ErrorKind.BUDGET.value}
    assert all(o["cost"] == per_call for o in served)
    usd, tokens = Budget(usd=1, per="day", redis_url=redis_url(redis_port)).spent("acme")
    assert usd == len(served) * per_call
    assert tokens == len(served) * (prompt + completion)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def test_an_unreachable_redis_refuses_calls_by_default(silent_port: int) -> None:
    budget = Budget(usd=1, redis_url=f"redis://127.0.0.1:{silent_port}", redis_timeout=0.05)
    llm = FakeLLM(budget=budget)
    response = llm.chat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.BUDGET_UNAVAILABLE
    assert "fail_open" in response.error.message
    assert llm.call_count == 0


def test_an_unreachable_redis_lets_calls_through_when_failing_open(silent_port: int) -> None:
    url = f"redis://127.0.0.1:{silent_port}"
    llm = FakeLLM(budget=Budget(usd=1, redis_url=url, redis_timeout=0.05, fail_open=True))
    assert llm.chat_completions(USER).ok


def test_a_hung_redis_is_given_up_on_at_the_calls_deadline(silent_port: int) -> None:
    # Redis's own timeout is far longer than the call's: the call's deadline must end the wait.
    url = f"redis://127.0.0.1:{silent_port}"
    llm = FakeLLM(budget=Budget(usd=1, redis_url=url, redis_timeout=30), total_timeout=0.2)
    response = llm.chat_completions(USER)
    assert response.error is not None
    assert response.error.kind is ErrorKind.BUDGET_UNAVAILABLE
    assert "remaining total_timeout" in response.error.message
    assert llm.call_count == 0


async def test_an_async_call_gives_up_on_a_hung_redis_at_its_deadline(silent_port: int) -> None:
    url = f"redis://127.0.0.1:{silent_port}"
    llm = FakeLLM(budget=Budget(usd=1, redis_url=url, redis_timeout=30), total_timeout=0.2)
    response = await llm.achat_completions(USER)
    assert response.error is not None
    assert "remaining total_timeout" in response.error.message


def test_a_live_redis_answers_a_call_with_little_time_left(
    redis_client: Any, redis_port: int
) -> None:
    budget = Budget(usd=1, redis_url=redis_url(redis_port), redis_timeout=5)
    llm = FakeLLM(budget=budget, total_timeout=5, **PRICED)  # within 2 x redis_timeout
    assert llm.chat_completions(USER).ok
    assert budget.spent() == (CALL_COST, 15)


async def test_an_unreachable_redis_does_not_block_the_event_loop(silent_port: int) -> None:
    url = f"redis://127.0.0.1:{silent_port}"
    llm = FakeLLM(budget=Budget(usd=1, redis_url=url, redis_timeout=0.05))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    response = await llm.achat_completions(USER)
    ticker.cancel()
    assert response.error is not None
    assert response.error.kind is ErrorKind.BUDGET_UNAVAILABLE
    assert ticks > 1


def test_a_hostile_tenant_id_makes_one_short_key_without_separators(
    redis_client: Any, redis_port: int
) -> None:
    budget = Budget(usd=1, per="day", redis_url=redis_url(redis_port), clock=lambda: NOW)
    hostile = "evil:0:usd\r\n*" + "x" * 10_000
    FakeLLM(budget=budget, **PRICED).chat_completions(USER, metadata={"tenant_id": hostile})
    keys = redis_client.keys("llmport:budget:~*")
    assert len(keys) == 2
    for key in keys:
        assert len(key) < 100
        assert key.count(b":") == 4
    assert budget.spent(hostile) == (CALL_COST, 15)
