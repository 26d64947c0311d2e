"""LiteLLMRouter workers in separate processes share routing state through a real Redis.

A `redis-server` (the Debian package) runs on 127.0.0.1 for the module; each test starts
worker processes (tests/integration/proxy/router_worker.py), each with its own
LiteLLMRouter over the same model list and Redis, against LocalGateways. Everything is
bounded in count and time and stopped by process id. Without redis-server or the redis
package the module is skipped, unless LLMPORT_REQUIRE_INTEGRATION=1 makes that a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from llmport.testing import LocalGateway

PROXY_DIR = Path(__file__).resolve().parent / "proxy"
sys.path.insert(0, str(PROXY_DIR))
from line_worker import LineWorker  # noqa: E402
from redis_harness import PASSWORD as REDIS_PASSWORD  # noqa: E402
from redis_harness import redis_fixtures, require_redis  # noqa: E402

require_redis()

import redis  # type: ignore[import-not-found, unused-ignore]  # noqa: E402  (optional)

pytestmark = pytest.mark.integration
redis_port, redis_client = redis_fixtures()

WORKER_READY_TIMEOUT = 180.0  # two fresh interpreters importing litellm at once on 2 cores
WORKER_CALLS_TIMEOUT = 90.0
RPM = 4
WORKERS = 2
REQUESTS_PER_WORKER = 8
#: The minute litellm's rpm/tpm counters use in the workers (see router_worker.py).
PINNED_MINUTE = "2031-05-05T10:17:00"
#: How often litellm re-reads from Redis a cooldown key it found missing
#: (DEFAULT_COOLDOWN_REDIS_READ_INTERVAL_SECONDS): how stale a peer's view can be.
COOLDOWN_READ_INTERVAL = 1.0


class Worker(LineWorker):
    """A router_worker.py process: send it commands, read its JSON answers."""

    def __init__(self, settings: Mapping[str, Any], env: Mapping[str, str], log: Path) -> None:
        super().__init__(PROXY_DIR / "router_worker.py", [json.dumps(settings)], env, log)

    def send(self, model: str, requests: int) -> None:
        self.send_line(json.dumps({"model": model, "requests": requests}))


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


def rpm_pool(limited: LocalGateway, spare: LocalGateway, **redis_settings: Any) -> dict[str, Any]:
    """A group of two deployments, one limited to RPM calls a minute, counted in one
    minute the test pins (litellm keys usage by UTC minute; a run cannot straddle two)."""
    return {
        "model_list": [
            deployment("pool", "pool-limited", limited, "fixed", rpm=RPM),
            deployment("pool", "pool-spare", spare, "fixed"),
            deployment("warmup", "warmup", spare, "echo"),
        ],
        "routing_strategy": "usage-based-routing-v2",
        "retry": {"max_attempts": 6, "initial_backoff": 0.05, "max_backoff": 0.5},
        "warmup_model": "warmup",
        "pinned_minute": PINNED_MINUTE,
        **redis_settings,
    }


def serve_pool(redis_settings: Mapping[str, Any], logs: Path) -> tuple[list[Any], int, int]:
    """Both workers send their requests at once: (results, served by limited, by spare)."""
    with LocalGateway() as limited, LocalGateway() as spare:
        settings = rpm_pool(limited, spare, **redis_settings)
        with workers(WORKERS, settings, logs) as pool:
            for worker in pool:
                worker.send("pool", REQUESTS_PER_WORKER)
            results = [result for worker in pool for result in worker.reply(WORKER_CALLS_TIMEOUT)]
        return results, posts(limited, "fixed"), posts(spare, "fixed")


def test_rpm_limit_holds_across_workers_and_traffic_spills_over(
    redis_client: redis.Redis, redis_port: int, tmp_path: Path
) -> None:
    url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{redis_port}/0"
    results, served_by_limited, served_by_spare = serve_pool({"redis_url": url}, tmp_path)

    assert len(results) == WORKERS * REQUESTS_PER_WORKER
    assert all(r["ok"] for r in results), results
    assert served_by_limited == RPM  # the shared count stops the sum of both workers
    assert served_by_spare == len(results) - RPM
    assert redis_client.keys(f"pool-limited:*:rpm:{PINNED_MINUTE[11:16].replace(':', '-')}")


def test_without_redis_the_same_workers_exceed_the_limit(tmp_path: Path) -> None:
    """The negative control: each worker counts alone, so together they pass RPM."""
    results, served_by_limited, served_by_spare = serve_pool({}, tmp_path)

    assert all(r["ok"] for r in results), results
    assert served_by_limited > RPM  # the sharing assertion above fails without Redis
    assert served_by_limited <= WORKERS * RPM  # each worker still holds its own limit
    assert served_by_spare == len(results) - served_by_limited


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
