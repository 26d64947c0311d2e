"""Per-call overhead: llmport providers vs the raw call they wrap, one request at a time.

Pairs, each measured side by side in interleaved rounds against a gateway that runs
in its own process:

- `LiteLLM` provider vs `litellm.completion` with the same arguments (sync), and
  vs `litellm.acompletion` (async, sequential awaits). Goal: <= 1.05x.
- `OpenAICompatible` vs `httpx.Client.post` + `json.loads` with the same pool settings
  (sync). Goal: <= 1.5x. Async: vs `aiohttp` post + `json.loads` (reported only).
- `OpenAICompatible` vs `litellm.completion` (reported).

Wall time is the median of single calls; CPU time (`time.process_time`, all threads of
this process) is the batch total divided by the calls, which excludes the gateway.

    python benchmarks/call_overhead.py [--quick]
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from _common import (
    API_KEY,
    MESSAGES,
    gateway_process,
    goal,
    import_litellm,
    interleaved_rounds,
    median,
    parse_args,
    print_header,
    print_table,
    round_ratios,
    spread,
)


@dataclass(frozen=True)
class Batch:
    """One batch of sequential calls: median wall time and mean CPU time per call."""

    wall_s: float
    cpu_s: float


def measure_sync(call: Callable[[], None], calls: int) -> Batch:
    walls: list[float] = []
    cpu_started = time.process_time()
    for _ in range(calls):
        began = time.perf_counter()
        call()
        walls.append(time.perf_counter() - began)
    return Batch(median(walls), (time.process_time() - cpu_started) / calls)


async def _measure_async(call: Callable[[], Awaitable[None]], calls: int) -> Batch:
    walls: list[float] = []
    cpu_started = time.process_time()
    for _ in range(calls):
        began = time.perf_counter()
        await call()
        walls.append(time.perf_counter() - began)
    return Batch(median(walls), (time.process_time() - cpu_started) / calls)


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds, calls, warmup = (3, 40, 20) if args.quick else (5, 200, 50)
    print_header("call overhead: llmport vs the raw call", args.quick)
    print(f"{rounds} interleaved rounds x {calls} sequential calls per variant, after {warmup}")
    print("warm-up calls each; the gateway runs in a separate process.\n")

    litellm = import_litellm()
    import httpx

    from llmport import LiteLLM, RetryPolicy
    from llmport.providers.openai_compatible import OpenAICompatible

    loop = asyncio.new_event_loop()
    with gateway_process() as base_url:
        llmport_litellm = LiteLLM(
            chat_model="openai/fixed", api_base=base_url, api_key=API_KEY, retry=RetryPolicy.never()
        )
        raw_kwargs: dict[str, Any] = {
            "model": "openai/fixed",
            "messages": MESSAGES,
            "api_base": base_url,
            "api_key": API_KEY,
            "num_retries": 0,
            "drop_params": True,
            "timeout": 60,
        }
        provider_kwargs = llmport_litellm.completion_kwargs(llmport_litellm.build_request(MESSAGES))
        if provider_kwargs != raw_kwargs:
            raise RuntimeError(f"arguments differ: {provider_kwargs} vs {raw_kwargs}")

        fast = OpenAICompatible(
            chat_model="fixed", base_url=base_url, api_key=None, retry=RetryPolicy.never()
        )
        # The same settings OpenAICompatible gives its own pooled clients.
        url = f"{base_url}/chat/completions"
        headers = {"content-type": "application/json", "accept": "application/json"}
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        client = httpx.Client(headers=headers, timeout=60, limits=limits, follow_redirects=False)
        session = loop.run_until_complete(_open_session(headers))

        def ok(response: Any) -> None:
            if not response.status:
                raise RuntimeError(f"call failed: {response.error}")

        def raw_body() -> bytes:
            return json.dumps({"model": "fixed", "messages": MESSAGES}).encode()

        def raw_httpx() -> None:
            response = client.post(url, content=raw_body())
            response.raise_for_status()
            json.loads(response.content)["choices"][0]["message"]["content"]

        async def raw_aiohttp() -> None:
            async with session.post(url, data=raw_body()) as response:
                response.raise_for_status()
                content = await response.read()
            json.loads(content)["choices"][0]["message"]["content"]

        async def llmport_litellm_async() -> None:
            ok(await llmport_litellm.achat_completions(MESSAGES))

        async def raw_litellm_async() -> None:
            (await litellm.acompletion(**raw_kwargs)).choices[0].message.content

        async def fast_async() -> None:
            ok(await fast.achat_completions(MESSAGES))

        sync_calls: dict[str, Callable[[], None]] = {
            "LiteLLM provider (sync)": lambda: ok(llmport_litellm.chat_completions(MESSAGES)),
            "litellm.completion": lambda: litellm.completion(**raw_kwargs).choices[0],
            "OpenAICompatible (sync)": lambda: ok(fast.chat_completions(MESSAGES)),
            "httpx.Client.post + json.loads": raw_httpx,
        }
        async_calls: dict[str, Callable[[], Awaitable[None]]] = {
            "LiteLLM provider (async)": llmport_litellm_async,
            "litellm.acompletion": raw_litellm_async,
            "OpenAICompatible (async)": fast_async,
            "aiohttp post + json.loads": raw_aiohttp,
        }
        def measure_async(call: Callable[[], Awaitable[None]], count: int) -> Batch:
            return loop.run_until_complete(_measure_async(call, count))

        variants: dict[str, Callable[[], Batch]] = {}
        for name, sync_call in sync_calls.items():
            measure_sync(sync_call, warmup)
            variants[name] = functools.partial(measure_sync, sync_call, calls)
        for name, async_call in async_calls.items():
            measure_async(async_call, warmup)
            variants[name] = functools.partial(measure_async, async_call, calls)
        try:
            results = interleaved_rounds(variants, rounds)
        finally:
            client.close()
            fast.close()
            loop.run_until_complete(session.close())
            loop.run_until_complete(fast.aclose())
            loop.close()
    report(results)


async def _open_session(headers: dict[str, str]) -> Any:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, connect=60, sock_read=60)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100), headers=headers, timeout=timeout
    )


def report(results: dict[str, list[Batch]]) -> None:
    rows = []
    for name, batches in results.items():
        walls = [b.wall_s * 1e6 for b in batches]
        cpus = [b.cpu_s * 1e6 for b in batches]
        rows.append([name, f"{median(walls):.0f}", spread(walls), f"{median(cpus):.0f}"])
    print_table(["variant", "wall us/call", "rounds", "cpu us/call"], rows)

    def ratios(a: str, b: str) -> tuple[float, float]:
        wall = round_ratios([x.wall_s for x in results[a]], [x.wall_s for x in results[b]])
        cpu = round_ratios([x.cpu_s for x in results[a]], [x.cpu_s for x in results[b]])
        return median(wall), median(cpu)

    pairs = [
        ("LiteLLM provider (sync)", "litellm.completion"),
        ("LiteLLM provider (async)", "litellm.acompletion"),
        ("OpenAICompatible (sync)", "httpx.Client.post + json.loads"),
        ("OpenAICompatible (async)", "aiohttp post + json.loads"),
        ("OpenAICompatible (sync)", "litellm.completion"),
        ("OpenAICompatible (async)", "litellm.acompletion"),
    ]
    measured = {pair: ratios(*pair) for pair in pairs}
    print("ratios (median of per-round ratios; < 1 means the first is faster)")
    print_table(
        ["first / second", "wall", "cpu"],
        [[f"{a} / {b}", f"{w:.3f}x", f"{c:.3f}x"] for (a, b), (w, c) in measured.items()],
    )
    goal("litellm_provider_sync_overhead", measured[pairs[0]][0], 1.05, at_most=True)
    goal("litellm_provider_async_overhead", measured[pairs[1]][0], 1.05, at_most=True)
    goal("openai_compatible_vs_raw_httpx", measured[pairs[2]][0], 1.5, at_most=True)


if __name__ == "__main__":
    main()
