"""Two worker processes race to resume one pending confirmation; Redis lets only one run it.

Each worker (tests/integration/proxy/resume_worker.py) holds its own `ConfirmationGuard`
with a `RedisClaimStore` on one real redis-server (127.0.0.1). The test hands both the
same stored state at once, for several states, and counts the tool's runs in Redis. The
same race with the in-process store (no shared claim) runs the tool in both workers,
which shows that the test can tell the two apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmport.testing import FakeLLM, FakeToolCall

PROXY_DIR = Path(__file__).resolve().parent / "proxy"
sys.path.insert(0, str(PROXY_DIR))
from line_worker import LineWorker  # noqa: E402
from redis_harness import PASSWORD, redis_fixtures, require_redis  # noqa: E402

require_redis()

import redis  # type: ignore[import-not-found, unused-ignore]  # noqa: E402  (optional)

from llmport.tools import run_tools, tool  # noqa: E402

pytestmark = pytest.mark.integration
redis_port, redis_client = redis_fixtures()

RACES = 8
REPLY_TIMEOUT = 60.0
USER = [{"role": "user", "content": "Email the report to ana@example.com."}]


@tool(requires_confirmation=True)
def send_email(to: str, body: str) -> str:
    """Send an email (never run here: only the workers resume)."""
    raise AssertionError("the test process never runs the tool")


def resume_worker(port: int, store: str, log: Path) -> LineWorker:
    """A resume_worker.py process using `store` ("redis" or "memory") for its claims."""
    env = {k: v for k, v in os.environ.items() if k != "LLMPORT_SIGNING_KEY"}
    script = PROXY_DIR / "resume_worker.py"
    return LineWorker(script, [str(port), PASSWORD, store], env, log)


@contextlib.contextmanager
def two_workers(port: int, store: str, logs: Path) -> Iterator[tuple[LineWorker, LineWorker]]:
    """Two workers, both connected to Redis before the block starts."""
    started: list[LineWorker] = []
    try:
        for number in range(2):
            started.append(resume_worker(port, store, logs / f"{store}-{number}.log"))
        for worker in started:
            assert worker.reply(REPLY_TIMEOUT)["ready"] is True
        yield started[0], started[1]
    finally:
        for worker in started:
            worker.stop()


def stored_state() -> tuple[str, str]:
    """A fresh paused run, as a web app stores it: (state id, JSON)."""
    call = FakeToolCall("send_email", {"to": "ana@example.com", "body": "Report"})
    result = run_tools(FakeLLM([call]), USER, [send_email])
    assert result.pending is not None
    return result.pending.id, json.dumps(result.pending.to_dict())


def race(workers: tuple[LineWorker, LineWorker], client: redis.Redis) -> list[Any]:
    """Both workers resume the same state at once: (outcomes, tool runs) per state."""
    rounds = []
    for _ in range(RACES):
        state_id, state = stored_state()
        for worker in workers:
            worker.send_line(state)
        outcomes = sorted(worker.reply(REPLY_TIMEOUT)["outcome"] for worker in workers)
        rounds.append((outcomes, int(client.get(f"runs:{state_id}") or 0)))
    return rounds


def test_two_workers_sharing_redis_run_each_state_once(
    redis_client: redis.Redis, redis_port: int, tmp_path: Path
) -> None:
    with two_workers(redis_port, "redis", tmp_path) as workers:
        rounds = race(workers, redis_client)
    assert rounds == [(["ConfirmationReplayError", "completed"], 1)] * RACES
    assert len(redis_client.keys("llmport:confirmation:*")) == RACES


def test_without_a_shared_store_both_workers_run_the_tool(
    redis_client: redis.Redis, redis_port: int, tmp_path: Path
) -> None:
    """The negative control: claims kept in each process do not stop the other one."""
    with two_workers(redis_port, "memory", tmp_path) as workers:
        rounds = race(workers, redis_client)
    assert rounds == [(["completed", "completed"], 2)] * RACES
