"""LiteLLMRouter workers in separate processes share routing state through a real Redis.

A `redis-server` (the Debian package) runs on 127.0.0.1 for the module; each test starts
worker processes (tests/integration/proxy/router_worker.py), each with its own
LiteLLMRouter over the same model list and Redis, against LocalGateways. Everything is
bounded in count and time and stopped by process id. Without redis-server or the redis
package the module is skipped, unless LLMPORT_REQUIRE_INTEGRATION=1 makes that a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from llmport.testing import LocalGateway

PROXY_DIR = Path(__file__).resolve().parent / "proxy"
sys.path.insert(0, str(PROXY_DIR))
from proxy_harness import free_port  # noqa: E402

_REDIS_SERVER = shutil.which("redis-server")
if _REDIS_SERVER is None or importlib.util.find_spec("redis") is None:
    _REASON = "needs redis-server on PATH (apt-get install redis-server) and the redis package"
    if os.environ.get("LLMPORT_REQUIRE_INTEGRATION") == "1":
        pytest.fail(_REASON, pytrace=False)
    pytest.skip(_REASON, allow_module_level=True)

import redis  # type: ignore[import-not-found, unused-ignore]  # noqa: E402  (optional)

pytestmark = pytest.mark.integration

REDIS_PASSWORD = "llmport-redis-secret"
WORKER_READY_TIMEOUT = 180.0  # two fresh interpreters importing litellm at once on 2 cores
WORKER_CALLS_TIMEOUT = 90.0
RPM = 4
WORKERS = 2
REQUESTS_PER_WORKER = 8
#: How often litellm re-reads from Redis a cooldown key it found missing
#: (DEFAULT_COOLDOWN_REDIS_READ_INTERVAL_SECONDS): how stale a peer's view can be.
COOLDOWN_READ_INTERVAL = 1.0


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A password-protected redis-server on 127.0.0.1 without persistence."""
    assert _REDIS_SERVER is not None
    workdir = tmp_path_factory.mktemp("redis")
    port = free_port()
    command = [_REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(workdir), "--requirepass", REDIS_PASSWORD]
    with (workdir / "redis.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        client = redis.Redis(host="127.0.0.1", port=port, password=REDIS_PASSWORD)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((workdir / "redis.log").read_text()) from None
                time.sleep(0.1)
        client.close()
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture
def redis_client(redis_port: int) -> Iterator[redis.Redis]:
    """A client of the test Redis, emptied before the test."""
    client = redis.Redis(host="127.0.0.1", port=redis_port, password=REDIS_PASSWORD)
    client.flushall()
    yield client
    client.close()


class Worker:
    """A router_worker.py process: send it commands, read its JSON answers."""

    def __init__(self, settings: Mapping[str, Any], env: Mapping[str, str], log: Path) -> None:
        with log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(PROXY_DIR / "router_worker.py"), json.dumps(settings)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=dict(env),
                text=True,
            )
        self.log = log

    def reply(self, timeout: float) -> Any:
        """The next JSON line the worker prints."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            tail = "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-40:])
            raise RuntimeError(f"worker {self.process.pid} gave no answer in {timeout} s:\n{tail}")
        return json.loads(line)

    def send(self, model: str, requests: int) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"model": model, "requests": requests}) + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        """Close its input (it exits), then terminate and kill by pid if it lingers."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        for end in (None, self.process.terminate, self.process.kill):
            if end is not None:
                end()
            try:
                self.process.wait(10)
                break
            except subprocess.TimeoutExpired:
                continue
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextlib.contextmanager
def workers(
    count: int, settings: Mapping[str, Any], logs: Path, **env: str
) -> Iterator[list[Worker]]:
    """`count` workers, all ready (router built, warm) before the block starts."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "LITELLM_"))}
    environment.update(LITELLM_LOCAL_MODEL_COST_MAP="True", **env)
    started: list[Worker] = []
    try:
        for number in range(count):
            started.append(Worker(settings, environment, logs / f"worker-{number}.log"))
        for worker in started:
            assert worker.reply(WORKER_READY_TIMEOUT)["ready"] is True
        yield started
    finally:
        for worker in started:
            worker.stop()


def deployment(group: str, ident: str, gateway: LocalGateway, model: str, **extra: Any) -> Any:
    params = {"model": f"openai/{model}", "api_base": gateway.base_url, "api_key": "sk-unused"}
    return {"model_name": group, "litellm_params": {**params, **extra}, "model_info": {"id": ident}}


def posts(gateway: LocalGateway, model: str) -> int:
    """Chat completions the gateway received for `model`."""
    return sum(1 for r in gateway.requests if r.body is not None and r.body.get("model") == model)


def minute() -> datetime:
    """The current rpm window: litellm keys usage by UTC minute."""
    return datetime.now(timezone.utc).replace(second=0, microsecond=0)


def wait_for_a_fresh_window(needed: float = 25.0) -> None:
    """Sleep into the next minute if fewer than `needed` seconds are left in this one."""
    now = datetime.now(timezone.utc)
    left = 60 - now.second - now.microsecond / 1e6
    if left < needed:
        time.sleep(left + 0.2)


def test_rpm_limit_holds_across_workers_and_traffic_spills_over(
    redis_client: redis.Redis, redis_port: int, tmp_path: Path
) -> None:
    url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{redis_port}/0"
    with LocalGateway() as limited, LocalGateway() as spare:
        settings = {
            "model_list": [
                deployment("pool", "pool-limited", limited, "fixed", rpm=RPM),
                deployment("pool", "pool-spare", spare, "fixed"),
                deployment("warmup", "warmup", spare, "echo"),
            ],
            "routing_strategy": "usage-based-routing-v2",
            "redis_url": url,
            "retry": {"max_attempts": 6, "initial_backoff": 0.05, "max_backoff": 0.5},
            "warmup_model": "warmup",
        }
        with workers(WORKERS, settings, tmp_path) as pool:
            wait_for_a_fresh_window()
            first = minute()
            for worker in pool:
                worker.send("pool", REQUESTS_PER_WORKER)
            results = [result for worker in pool for result in worker.reply(WORKER_CALLS_TIMEOUT)]
            last = minute()
        windows = (last - first) // timedelta(minutes=1) + 1
        served_by_limited, served_by_spare = posts(limited, "fixed"), posts(spare, "fixed")

    assert len(results) == WORKERS * REQUESTS_PER_WORKER
    assert all(r["ok"] for r in results), results
    # Each worker alone stays under the limit; only the count shared in Redis stops the sum.
    assert REQUESTS_PER_WORKER > RPM
    assert RPM <= served_by_limited <= RPM * windows
    assert served_by_spare == len(results) - served_by_limited
    assert redis_client.keys("pool-limited:*:rpm:*")


def test_a_failing_deployment_is_cooled_down_for_every_worker(
    redis_client: redis.Redis, redis_port: int, tmp_path: Path
) -> None:
    with LocalGateway() as gateway:
        settings = {
            "model_list": [
                deployment("mixed", "mixed-failing", gateway, "error-500", order=1),
                deployment("mixed", "mixed-healthy", gateway, "fixed", order=2),
                deployment("warmup", "warmup", gateway, "echo"),
            ],
            "allowed_fails": 0,
            "cooldown_time": 60,
            "retry": {"max_attempts": 3, "initial_backoff": 0.05, "jitter": False},
            "warmup_model": "warmup",
        }
        # Redis from the shared variables, as a deployment would set them.
        redis_env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_port)}
        redis_env["REDIS_PASSWORD"] = REDIS_PASSWORD
        with workers(2, settings, tmp_path, **redis_env) as (first, second):
            first.send("mixed", 1)
            [noticed] = first.reply(WORKER_CALLS_TIMEOUT)
            # The preferred deployment (order 1) failed and was cooled down; within the same
            # Router call the order-2 deployment answered (an order fallback, not a retry).
            assert noticed == {"ok": True, "attempts": 1, "kind": None}
            assert (posts(gateway, "error-500"), posts(gateway, "fixed")) == (1, 1)
            time.sleep(COOLDOWN_READ_INTERVAL + 0.5)
            second.send("mixed", 5)
            results = second.reply(WORKER_CALLS_TIMEOUT)
        failing_calls, healthy_calls = posts(gateway, "error-500"), posts(gateway, "fixed")

    # The second worker never tried the preferred, failing deployment: it read the cooldown
    # from Redis (on its own it would try order 1 first on every call).
    assert results == [{"ok": True, "attempts": 1, "kind": None}] * 5
    assert (failing_calls, healthy_calls) == (1, 6)
    assert redis_client.exists("deployment:mixed-failing:cooldown")
