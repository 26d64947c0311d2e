"""Gateway ceiling: the request rate the local gateway sustains for a lean raw client.

The other benchmarks measure clients against this gateway; this one shows how far
above their rates the gateway itself goes, so that it is not what limits them. The
gateway runs in its own process; raw aiohttp drives it at concurrency 32 and 128,
and a sync `httpx.Client` sends requests one after another. The CPU columns show
who is busy: a gateway near 100% of a core is the limit, a client near 100% is.

    python benchmarks/gateway_ceiling.py [--quick]
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable
from typing import Any

from _common import (
    MESSAGES,
    GatewayProcess,
    Load,
    drive,
    gateway_process,
    interleaved_rounds,
    median,
    parse_args,
    print_header,
    print_table,
    spread,
)

BODY = json.dumps({"model": "fixed", "messages": MESSAGES}).encode()
HEADERS = {"content-type": "application/json", "accept": "application/json"}


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds, total, sequential = (2, 1000, 300) if args.quick else (5, 8000, 2000)
    print_header("gateway ceiling: raw clients against the local gateway", args.quick)
    print(f"{rounds} interleaved rounds; aiohttp runs send {total} requests, the sequential")
    print(f"httpx run {sequential}. The gateway runs in a separate process.\n")
    loop = asyncio.new_event_loop()
    try:
        with gateway_process() as gateway:
            results = measure(gateway, loop, rounds, total, sequential)
    finally:
        loop.close()
    report(results)


def measure(
    gateway: GatewayProcess,
    loop: asyncio.AbstractEventLoop,
    rounds: int,
    total: int,
    sequential: int,
) -> dict[str, list[Load]]:
    import aiohttp
    import httpx

    url = f"{gateway.base_url}/chat/completions"

    async def open_session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256), headers=HEADERS)

    session = loop.run_until_complete(open_session())
    client = httpx.Client(headers=HEADERS, timeout=60)

    async def send() -> bool:
        async with session.post(url, data=BODY) as response:
            content = await response.read()
        return response.status == 200 and bool(json.loads(content)["choices"])

    def send_sync() -> bool:
        response = client.post(url, content=BODY)
        return response.status_code == 200 and bool(json.loads(response.content)["choices"])

    def run_async(concurrency: int, count: int) -> Load:
        return loop.run_until_complete(drive(send, count, concurrency, gateway=gateway))

    variants: dict[str, Callable[[], Load]] = {
        "aiohttp, concurrency 32": functools.partial(run_async, 32, total),
        "aiohttp, concurrency 128": functools.partial(run_async, 128, total),
        "httpx.Client, sequential": functools.partial(drive_sync, send_sync, sequential, gateway),
    }
    try:
        run_async(128, 256)  # warm up: open the connections
        drive_sync(send_sync, 50, gateway)
        return interleaved_rounds(variants, rounds)
    finally:
        client.close()
        loop.run_until_complete(session.close())


def drive_sync(send: Callable[[], bool], total: int, gateway: GatewayProcess) -> Load:
    """`drive` for a sync client: one request at a time."""
    latencies: list[float] = []
    errors = 0
    gateway_began = gateway.cpu_seconds()
    cpu_began, began = time.process_time(), time.perf_counter()
    for _ in range(total):
        sent = time.perf_counter()
        errors += not send()
        latencies.append(time.perf_counter() - sent)
    seconds = time.perf_counter() - began
    return Load(
        requests=total,
        errors=errors,
        seconds=seconds,
        latencies_s=latencies,
        client_cpu_s=time.process_time() - cpu_began,
        gateway_cpu_s=gateway.cpu_seconds() - gateway_began,
    )


def load_row(name: str, loads: list[Load]) -> list[Any]:
    """A table row for one variant: medians over rounds, plus the spread of req/s."""
    return [
        name,
        f"{median([x.rps for x in loads]):.0f}",
        spread([x.rps for x in loads]),
        f"{median([x.p50_ms for x in loads]):.2f}",
        f"{median([x.p95_ms for x in loads]):.2f}",
        f"{median([1e6 * x.client_cpu_s / x.requests for x in loads]):.0f}",
        f"{median([1e6 * x.gateway_cpu_s / x.requests for x in loads]):.0f}",
        f"{median([100 * x.client_cpu_s / x.seconds for x in loads]):.0f}%",
        f"{median([100 * x.gateway_cpu_s / x.seconds for x in loads]):.0f}%",
        sum(x.errors for x in loads),
    ]


LOAD_HEADERS = [
    *("variant", "req/s", "rounds", "p50 ms", "p95 ms"),
    *("cpu us/req", "gw us/req", "client cpu", "gw cpu", "errors"),
]
LOAD_NOTE = (
    "cpu us/req, gw us/req: CPU time per request of this process and of the gateway process\n"
    "(less sensitive to other processes than req/s); client cpu, gw cpu: share of one core\n"
    "each used. A client well below 100% with an idle gateway was starved by other processes."
)


def report(results: dict[str, list[Load]]) -> None:
    print_table(LOAD_HEADERS, [load_row(name, loads) for name, loads in results.items()])
    print(LOAD_NOTE, end="\n\n")
    # One gateway core's capacity under concurrent load, from its CPU time per request:
    # unlike req/s, this does not drop when other processes take the client's CPU.
    concurrent = [x for name, loads in results.items() if "concurrency" in name for x in loads]
    gateway_us = median([1e6 * x.gateway_cpu_s / x.requests for x in concurrent])
    client_us = median([1e6 * x.client_cpu_s / x.requests for x in concurrent])
    print(
        f"Under concurrent load the gateway spends {gateway_us:.0f} us of CPU per request, so one"
    )
    print(f"core of it serves about {1e6 / gateway_us:.0f} req/s. Even raw aiohttp spends")
    print(f"{client_us:.0f} us per request on the client side: the client sets the pace.")
    for name, loads in results.items():
        print(f"result gateway_ceiling[{name}]: {median([x.rps for x in loads]):.0f} req/s")
    print(f"result gateway_capacity_per_core: {1e6 / gateway_us:.0f} req/s")


if __name__ == "__main__":
    main()
