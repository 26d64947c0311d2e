"""Async throughput: requests/s and latency at concurrency 32 and 128.

`OpenAICompatible.achat_completions` against `litellm.acompletion` and raw aiohttp
(the floor llmport's async path sits on), plus raw `httpx.AsyncClient` at concurrency
32, the measurement behind OpenAICompatible's choice of aiohttp for async. The pooled
clients all get OpenAICompatible's default pool of 100 connections. Runs are
interleaved over rounds; litellm runs send fewer requests because it is slow. The
gateway runs in a separate process. Goal: OpenAICompatible >= 5x litellm's req/s.

    python benchmarks/throughput.py [--quick]
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from _common import (
    API_KEY,
    MESSAGES,
    GatewayProcess,
    Load,
    drive,
    gateway_process,
    goal,
    import_litellm,
    interleaved_rounds,
    parse_args,
    print_header,
    print_table,
    ratio_range,
    round_ratios,
)
from gateway_ceiling import LOAD_HEADERS, LOAD_NOTE, load_row

CONCURRENCY = (32, 128)
POOL = 100  # OpenAICompatible's default max_connections
HEADERS = {"content-type": "application/json", "accept": "application/json"}
LLMPORT = "OpenAICompatible.achat_completions"
LITELLM = "litellm.acompletion"
AIOHTTP = "raw aiohttp"
HTTPX = "raw httpx.AsyncClient"


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds, lean, slow = (2, 500, 150) if args.quick else (6, 1500, 300)
    print_header("async throughput: OpenAICompatible vs litellm vs raw clients", args.quick)
    print(f"{rounds} interleaved rounds; {lean} requests per run for llmport and raw aiohttp,")
    print(f"{slow} for litellm and raw httpx (slow). Pools hold {POOL} connections.\n")
    loop = asyncio.new_event_loop()
    try:
        with gateway_process() as gateway:
            results = measure(gateway, loop, rounds, lean, slow)
    finally:
        loop.close()
    report(results)


def measure(
    gateway: GatewayProcess, loop: asyncio.AbstractEventLoop, rounds: int, lean: int, slow: int
) -> dict[tuple[str, int], list[Load]]:
    litellm = import_litellm()
    import aiohttp
    import httpx

    from llmport import RetryPolicy
    from llmport.providers.openai_compatible import OpenAICompatible

    url = f"{gateway.base_url}/chat/completions"
    body = {"model": "fixed", "messages": MESSAGES}
    fast = OpenAICompatible(
        chat_model="fixed", base_url=gateway.base_url, api_key=None, retry=RetryPolicy.never()
    )
    litellm_kwargs: dict[str, Any] = {
        "model": "openai/fixed",
        "messages": MESSAGES,
        "api_base": gateway.base_url,
        "api_key": API_KEY,
        "num_retries": 0,
        "drop_params": True,
        "timeout": 60,
    }

    async def open_clients() -> tuple[aiohttp.ClientSession, httpx.AsyncClient]:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=POOL),
            headers=HEADERS,
            timeout=aiohttp.ClientTimeout(total=None, connect=60, sock_read=60),
        )
        limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL)
        client = httpx.AsyncClient(headers=HEADERS, timeout=60, limits=limits)
        return session, client

    session, client = loop.run_until_complete(open_clients())

    async def send_llmport() -> bool:
        return bool((await fast.achat_completions(MESSAGES)).status)

    async def send_litellm() -> bool:
        response = await litellm.acompletion(**litellm_kwargs)
        return bool(response.choices[0].message.content)

    async def send_aiohttp() -> bool:
        async with session.post(url, data=json.dumps(body).encode()) as response:
            content = await response.read()
        return response.status == 200 and bool(json.loads(content)["choices"])

    async def send_httpx() -> bool:
        response = await client.post(url, content=json.dumps(body).encode())
        return response.status_code == 200 and bool(json.loads(response.content)["choices"])

    def run(send: Callable[[], Awaitable[bool]], total: int, concurrency: int) -> Load:
        return loop.run_until_complete(drive(send, total, concurrency, gateway=gateway))

    senders = {LLMPORT: send_llmport, LITELLM: send_litellm, AIOHTTP: send_aiohttp}
    counts = {LLMPORT: lean, LITELLM: slow, AIOHTTP: lean}
    variants: dict[tuple[str, int], Callable[[], Load]] = {
        (name, concurrency): functools.partial(run, send, counts[name], concurrency)
        for concurrency in CONCURRENCY
        for name, send in senders.items()
    }
    variants[HTTPX, 32] = functools.partial(run, send_httpx, slow, 32)
    try:
        for send in [*senders.values(), send_httpx]:
            run(send, 2 * max(CONCURRENCY), max(CONCURRENCY))  # warm up, open the pools
        return interleaved_rounds(variants, rounds)
    finally:
        loop.run_until_complete(session.close())
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(fast.aclose())


def report(results: dict[tuple[str, int], list[Load]]) -> None:
    for concurrency in CONCURRENCY:
        print(f"concurrency {concurrency}")
        rows = [load_row(name, loads) for (name, c), loads in results.items() if c == concurrency]
        print_table(LOAD_HEADERS, rows)
    print(LOAD_NOTE, end="\n\n")

    def ratio(a: str, b: str, concurrency: int, cpu: bool = False) -> list[float]:
        def value(load: Load) -> float:
            return load.client_cpu_s / load.requests if cpu else load.rps

        return round_ratios(
            [value(x) for x in results[a, concurrency]],
            [value(x) for x in results[b, concurrency]],
        )

    def cells(a: str, b: str, levels: tuple[int, ...] = CONCURRENCY) -> list[str]:
        rps = [ratio_range(ratio(a, b, c)) for c in levels]
        cpu = [ratio_range(ratio(a, b, c, cpu=True)) for c in levels]
        blank = ["-"] * (len(CONCURRENCY) - len(levels))
        return [f"{a} / {b}", *rps, *blank, *cpu, *blank]

    print("ratios: median (min..max) of per-round ratios. req/s moves with the machine's")
    print("load; CPU per request (this process's CPU time over its requests) barely does.")
    print_table(
        [
            "first / second",
            *(f"req/s c={c}" for c in CONCURRENCY),
            *(f"cpu/req c={c}" for c in CONCURRENCY),
        ],
        [cells(LLMPORT, LITELLM), cells(LLMPORT, AIOHTTP), cells(AIOHTTP, HTTPX, (32,))],
    )
    for concurrency in CONCURRENCY:
        measured = ratio(LLMPORT, LITELLM, concurrency)
        goal(f"async_rps_vs_litellm_c{concurrency}", measured, 5.0, at_most=False)
        cpu = ratio(LITELLM, LLMPORT, concurrency, cpu=True)
        print(f"result async_cpu_per_request_litellm_over_llmport_c{concurrency}: "
              f"{ratio_range(cpu, 1)}")  # fmt: skip


if __name__ == "__main__":
    main()
