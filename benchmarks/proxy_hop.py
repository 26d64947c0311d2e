"""The cost of each scaling-out hop, per call, against the local gateway.

Variants of a group take turns call by call (A B A B ...), in rounds whose order
rotates, so every variant sees the same machine load. Reported: median and p90 latency
per call, the median of the per-round ratios to the group's baseline, and the extra
milliseconds per call.

- proxy hop: `OpenAICompatible` straight to the gateway vs through a real LiteLLM
  proxy (tests/integration/proxy/config.yaml, model `gateway/fixed`) to the same gateway.
- shared state: the `LiteLLM` provider vs `litellm.Router.completion` called directly vs
  `LiteLLMRouter` with routing state in process vs in Redis (`usage-based-routing-v2`,
  which counts every call in Redis). Needs `redis-server` on PATH; without it only the
  in-process router is measured.

The gateway, the proxy and Redis each run in their own process. Needs `litellm[proxy]`
and `redis`, as in the integration session:

    .nox/integration/bin/python benchmarks/proxy_hop.py [--quick]
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from _common import (
    API_KEY,
    BENCHMARKS_DIR,
    MESSAGES,
    gateway_process,
    median,
    parse_args,
    percentile,
    print_header,
    print_table,
    rotated,
    setup_litellm_env,
    stop_process,
)

sys.path.insert(0, str(BENCHMARKS_DIR.parent / "tests" / "integration" / "proxy"))
from proxy_harness import free_port, start_proxy

PROXY_KEY = "sk-bench-proxy"

Call = Callable[[], None]


def alternate(variants: dict[str, Call], calls: int) -> dict[str, list[float]]:
    """Call the variants in turn, `calls` times each; the wall time of every call."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(calls):
        for name, call in variants.items():
            began = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - began)
    return times


def measure(group: dict[str, Call], rounds: int, calls: int, warmup: int) -> dict[str, Any]:
    """Per variant: every call's latency, and each round's median."""
    alternate(group, warmup)
    latencies: dict[str, list[float]] = {name: [] for name in group}
    round_medians: dict[str, list[float]] = {name: [] for name in group}
    for index in range(rounds):
        order = {name: group[name] for name in rotated(list(group), index)}
        for name, times in alternate(order, calls).items():
            latencies[name] += times
            round_medians[name].append(median(times))
    return {"latencies": latencies, "round_medians": round_medians}


def report(title: str, result: dict[str, Any]) -> None:
    latencies, medians = result["latencies"], result["round_medians"]
    baseline = next(iter(latencies))
    rows = []
    for name, times in latencies.items():
        ratios = [a / b for a, b in zip(medians[name], medians[baseline], strict=True)]
        extra = (median(times) - median(latencies[baseline])) * 1000
        rows.append(
            [
                name,
                f"{median(times) * 1000:.2f}",
                f"{percentile(times, 90) * 1000:.2f}",
                f"{median(ratios):.2f}x",
                "-" if name == baseline else f"{extra:+.2f}",
            ]
        )
        if name != baseline:
            print(f"result {title}: {name}: {median(ratios):.2f}x, {extra:+.2f} ms per call")
    print()
    print(f"-- {title} --")
    print_table(["variant", "median ms", "p90 ms", "vs first", "extra ms"], rows)


@contextmanager
def redis_server() -> Iterator[str | None]:
    """A throwaway redis-server on 127.0.0.1, or None when it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None or importlib.util.find_spec("redis") is None:
        yield None
        return
    import redis

    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process)


def main() -> None:
    args = parse_args(__doc__ or "")
    if importlib.util.find_spec("fastapi") is None:
        sys.exit(
            "needs litellm[proxy]: run it with .nox/integration/bin/python (nox -s integration)"
        )
    rounds, calls, warmup = (2, 25, 10) if args.quick else (3, 100, 20)
    print_header("scaling-out hops: proxy and shared routing state", args.quick)
    print(f"{rounds} rounds x {calls} calls per variant, alternating call by call, after")
    print(f"{warmup} warm-up calls; gateway, proxy and Redis run in their own processes.")
    setup_litellm_env()

    from llmport import LiteLLM, LLMResponse, OpenAICompatible, RetryPolicy
    from llmport.providers.litellm_router import LiteLLMRouter

    def ok(response: LLMResponse) -> None:
        if not response.ok:
            raise RuntimeError(f"call failed: {response.error}")

    def expect_text(payload: Any) -> None:
        if not payload.choices[0].message.content:
            raise RuntimeError("the raw Router call returned no text")

    never = RetryPolicy.never()
    with ExitStack() as stack:
        gateway = stack.enter_context(gateway_process())
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        proxy = start_proxy(gateway_url=gateway.base_url, proxy_key=PROXY_KEY, workdir=workdir)
        stack.callback(proxy.stop)
        print(f"\nproxy live after {proxy.wait_ready(timeout=180):.1f} s")
        redis_url = stack.enter_context(redis_server())

        direct = OpenAICompatible(chat_model="fixed", base_url=gateway.base_url, retry=never)
        hopped = OpenAICompatible(
            chat_model="gateway/fixed", base_url=proxy.base_url, api_key=PROXY_KEY, retry=never
        )
        hop = measure(
            {
                "OpenAICompatible -> gateway": lambda: ok(direct.chat_completions(MESSAGES)),
                "OpenAICompatible -> proxy -> gateway": lambda: ok(
                    hopped.chat_completions(MESSAGES)
                ),
            },
            rounds,
            calls,
            warmup,
        )

        params = {"model": "openai/fixed", "api_base": gateway.base_url, "api_key": API_KEY}
        model_list = [{"model_name": "fixed", "litellm_params": params}]
        plain = LiteLLM(chat_model="openai/fixed", api_base=gateway.base_url, api_key=API_KEY)
        local = stack.enter_context(LiteLLMRouter(model_list=model_list, retry=never))
        # The raw Router with the arguments LiteLLMRouter passes: what llmport itself adds.
        raw_kwargs = local.completion_kwargs(local.build_request(MESSAGES))
        group: dict[str, Call] = {
            "LiteLLM -> gateway": lambda: ok(plain.chat_completions(MESSAGES)),
            "litellm.Router.completion (raw)": lambda: expect_text(
                local.router.completion(**raw_kwargs)
            ),
            "LiteLLMRouter (in-process state)": lambda: ok(local.chat_completions(MESSAGES)),
        }
        if redis_url is not None:
            shared = LiteLLMRouter(
                model_list=[{**model_list[0], "rpm": 1_000_000}],
                routing_strategy="usage-based-routing-v2",
                redis_url=redis_url,
                retry=never,
            )
            stack.enter_context(shared)
            group["LiteLLMRouter (Redis state, rpm counted)"] = lambda: ok(
                shared.chat_completions(MESSAGES)
            )
        state = measure(group, rounds, calls, warmup)

    report("proxy hop", hop)
    report("shared routing state", state)
    if redis_url is None:
        print("redis-server or the redis package is missing: the Redis variant was skipped.")


if __name__ == "__main__":
    main()
