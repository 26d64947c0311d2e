"""Per-call overhead: llmport providers vs the raw call they wrap, one request at a time.

The two variants of a pair take turns call by call (A B A B ...), so both see the
same machine load; rounds repeat this with the order rotated. The gateway runs in
its own process. Pairs:

- `LiteLLM` provider vs `litellm.completion` with the same arguments (sync), and
  vs `litellm.acompletion` (async, sequential awaits). Goal: <= 1.05x.
- `OpenAICompatible` vs `httpx.Client.post` + `json.loads` with the same pool settings
  (sync). Goal: <= 1.5x. Async: vs `aiohttp` post + `json.loads` (reported only).
- `OpenAICompatible` vs `litellm.completion` (reported).
- The `LiteLLM` provider as shipped, which looks `litellm` up in `sys.modules` at each
  call, vs the same provider holding the module it imported first. Goal: <= 1.02x
  (nothing measurable), printed as median (min-max) over the rounds; the lookup alone
  is also timed in a tight loop.
- `OpenAICompatible` priced by config with an in-process `Budget` vs the same provider
  with pricing stubbed out and no budget: what computing the cost and checking and
  charging the budget add. Goal: <= 1.05x in CPU per call, printed as median (min-max)
  over the rounds.

Wall time is the median of single calls; CPU time (`time.process_time`, all threads of
this process) is the batch total divided by the calls, which excludes the gateway.

    python benchmarks/call_overhead.py [--quick]
"""

from __future__ import annotations

import asyncio
import functools
import gc
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
    median,
    parse_args,
    print_header,
    print_table,
    ratio_range,
    rotated,
    round_ratios,
    spread,
)


@dataclass(frozen=True)
class Batch:
    """One variant in one round: median wall time and mean CPU time per call."""

    wall_s: float
    cpu_s: float


def _batches(walls: dict[str, list[float]], cpus: dict[str, float], calls: int) -> dict[str, Batch]:
    return {name: Batch(median(walls[name]), cpus[name] / calls) for name in walls}


def alternate_sync(variants: dict[str, Callable[[], None]], calls: int) -> dict[str, Batch]:
    """Call the variants in turn, one call each, `calls` times: A B C A B C ...

    Alternating single calls puts every variant under the same machine load, which
    on a noisy machine matters more than anything else.
    """
    walls: dict[str, list[float]] = {name: [] for name in variants}
    cpus = dict.fromkeys(variants, 0.0)
    for _ in range(calls):
        for name, call in variants.items():
            cpu_began, began = time.process_time(), time.perf_counter()
            call()
            walls[name].append(time.perf_counter() - began)
            cpus[name] += time.process_time() - cpu_began
    return _batches(walls, cpus, calls)


async def alternate_async(
    variants: dict[str, Callable[[], Awaitable[None]]], calls: int
) -> dict[str, Batch]:
    """`alternate_sync` for coroutines: one awaited call at a time."""
    walls: dict[str, list[float]] = {name: [] for name in variants}
    cpus = dict.fromkeys(variants, 0.0)
    for _ in range(calls):
        for name, call in variants.items():
            cpu_began, began = time.process_time(), time.perf_counter()
            await call()
            walls[name].append(time.perf_counter() - began)
            cpus[name] += time.process_time() - cpu_began
    return _batches(walls, cpus, calls)


def _run_sync(group: dict[str, Callable[[], None]], index: int, calls: int) -> dict[str, Batch]:
    return alternate_sync({name: group[name] for name in rotated(list(group), index)}, calls)


def _run_async(
    loop: asyncio.AbstractEventLoop,
    group: dict[str, Callable[[], Awaitable[None]]],
    index: int,
    calls: int,
) -> dict[str, Batch]:
    order = {name: group[name] for name in rotated(list(group), index)}
    return loop.run_until_complete(alternate_async(order, calls))


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds, calls, warmup = (3, 40, 20) if args.quick else (5, 200, 50)
    print_header("call overhead: llmport vs the raw call", args.quick)
    print(f"{rounds} rounds; in each, the two variants of a pair take turns call by call,")
    print(f"{calls} calls each (after {warmup} warm-up calls); orders rotate per round.")
    print("The gateway runs in a separate process.\n")
    loop = asyncio.new_event_loop()
    try:
        with gateway_process() as gateway:
            results = measure(gateway.base_url, loop, rounds, calls, warmup)
    finally:
        loop.close()
    report(results, lookup_cost_ns(rounds))


def measure(
    base_url: str, loop: asyncio.AbstractEventLoop, rounds: int, calls: int, warmup: int
) -> dict[str, list[Batch]]:
    litellm = import_litellm()
    import httpx

    from llmport import Budget, LiteLLM, LLMResponse, RetryPolicy
    from llmport.cost import Pricing
    from llmport.providers.openai_compatible import OpenAICompatible

    class NoPricing(Pricing):
        """Prices nothing: the baseline without cost computation."""

        def prices(self, model: str) -> None:
            return None

        def cost(self, response: LLMResponse, model: str) -> None:
            return None

    never = RetryPolicy.never()
    wrapped = LiteLLM(chat_model="openai/fixed", api_base=base_url, api_key=API_KEY, retry=never)

    class PinnedLiteLLM(LiteLLM):
        """The provider as it was before the per-call lookup: the module held once."""

        def _client(self) -> Any:
            return litellm

    pinned = PinnedLiteLLM(
        chat_model="openai/fixed", api_base=base_url, api_key=API_KEY, retry=never
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
    if wrapped.completion_kwargs(wrapped.build_request(MESSAGES)) != raw_kwargs:
        raise RuntimeError("the LiteLLM provider would not pass the same arguments")
    fast = OpenAICompatible(chat_model="fixed", base_url=base_url, api_key=None, retry=never)
    priced = OpenAICompatible(
        chat_model="fixed",
        base_url=base_url,
        api_key=None,
        retry=never,
        input_cost_per_token=1e-6,
        output_cost_per_token=2e-6,
        budget=Budget(usd=1e9, per="day"),
    )
    unpriced = OpenAICompatible(chat_model="fixed", base_url=base_url, api_key=None, retry=never)
    unpriced._pricing = NoPricing(unpriced.config)
    tenant = {"tenant_id": "bench"}
    # The same settings OpenAICompatible gives its own pooled clients.
    url = f"{base_url}/chat/completions"
    headers = {"content-type": "application/json", "accept": "application/json"}
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    client = httpx.Client(headers=headers, timeout=60, limits=limits, follow_redirects=False)
    session = loop.run_until_complete(_open_session(headers))

    def ok(response: LLMResponse) -> None:
        if not response.status:
            raise RuntimeError(f"call failed: {response.error}")

    def raw_body() -> bytes:
        return json.dumps({"model": "fixed", "messages": MESSAGES}).encode()

    def raw_httpx() -> None:
        response = client.post(url, content=raw_body())
        response.raise_for_status()
        expect_text(json.loads(response.content)["choices"][0]["message"]["content"])

    async def raw_aiohttp() -> None:
        async with session.post(url, data=raw_body()) as response:
            response.raise_for_status()
            content = await response.read()
        expect_text(json.loads(content)["choices"][0]["message"]["content"])

    async def wrapped_async() -> None:
        ok(await wrapped.achat_completions(MESSAGES))

    async def raw_litellm_async() -> None:
        expect_text((await litellm.acompletion(**raw_kwargs)).choices[0].message.content)

    async def fast_async() -> None:
        ok(await fast.achat_completions(MESSAGES))

    # Pairs alternate call by call. litellm leaves work to background threads after each
    # call, so its pairs never share a group with the lean variants (it would bill them).
    sync_groups: list[dict[str, Callable[[], None]]] = [
        {
            "LiteLLM provider (sync)": lambda: ok(wrapped.chat_completions(MESSAGES)),
            "litellm.completion": lambda: expect_text(
                litellm.completion(**raw_kwargs).choices[0].message.content
            ),
            PINNED: lambda: ok(pinned.chat_completions(MESSAGES)),
        },
        {
            "OpenAICompatible (sync)": lambda: ok(fast.chat_completions(MESSAGES)),
            "httpx.Client.post + json.loads": raw_httpx,
        },
        {
            PRICED: lambda: ok(priced.chat_completions(MESSAGES, metadata=tenant)),
            UNPRICED: lambda: ok(unpriced.chat_completions(MESSAGES, metadata=tenant)),
        },
    ]
    async_groups: list[dict[str, Callable[[], Awaitable[None]]]] = [
        {"LiteLLM provider (async)": wrapped_async, "litellm.acompletion": raw_litellm_async},
        {"OpenAICompatible (async)": fast_async, "aiohttp post + json.loads": raw_aiohttp},
    ]
    runs: list[Callable[[int, int], dict[str, Batch]]] = [
        *(functools.partial(_run_sync, group) for group in sync_groups),
        *(functools.partial(_run_async, loop, group) for group in async_groups),
    ]
    results: dict[str, list[Batch]] = {}
    try:
        for run in runs:
            run(0, warmup)
        for index in range(rounds):
            for run in rotated(runs, index):
                gc.collect()
                time.sleep(0.2)  # let the previous group's background threads finish
                for name, batch in run(index, calls).items():
                    results.setdefault(name, []).append(batch)
    finally:
        client.close()
        loop.run_until_complete(session.close())
        loop.run_until_complete(fast.aclose())
        for llm in (priced, unpriced):
            llm.close()
    if priced.chat_completions(MESSAGES).cost is None:
        raise RuntimeError("the priced provider computed no cost")
    return results


PINNED = "LiteLLM provider, module pinned (sync)"
PRICED = "OpenAICompatible, cost + in-process budget (sync)"
UNPRICED = "OpenAICompatible, no pricing, no budget (sync)"


def lookup_cost_ns(rounds: int, calls: int = 200_000) -> list[float]:
    """Nanoseconds per `import_litellm()` once litellm is imported, one value per round."""
    from llmport.providers.litellm import import_litellm as lookup

    per_round = []
    for _ in range(rounds):
        began = time.perf_counter()
        for _ in range(calls):
            lookup()
        per_round.append((time.perf_counter() - began) / calls * 1e9)
    return per_round


def expect_text(content: object) -> None:
    """The same success check the llmport variants make, for the raw ones."""
    if not isinstance(content, str) or not content:
        raise RuntimeError(f"unexpected answer: {content!r}")


async def _open_session(headers: dict[str, str]) -> Any:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, connect=60, sock_read=60)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100), headers=headers, timeout=timeout
    )


def report(results: dict[str, list[Batch]], lookup_ns: list[float]) -> None:
    rows = []
    for name, batches in results.items():
        walls = [b.wall_s * 1e6 for b in batches]
        cpus = [b.cpu_s * 1e6 for b in batches]
        rows.append([name, f"{median(walls):.0f}", spread(walls), f"{median(cpus):.0f}"])
    print_table(["variant", "wall us/call", "rounds", "cpu us/call"], rows)

    def ratios(a: str, b: str) -> tuple[list[float], list[float]]:
        wall = round_ratios([x.wall_s for x in results[a]], [x.wall_s for x in results[b]])
        cpu = round_ratios([x.cpu_s for x in results[a]], [x.cpu_s for x in results[b]])
        return wall, cpu

    pairs = [
        ("LiteLLM provider (sync)", "litellm.completion"),
        ("LiteLLM provider (async)", "litellm.acompletion"),
        ("OpenAICompatible (sync)", "httpx.Client.post + json.loads"),
        ("OpenAICompatible (async)", "aiohttp post + json.loads"),
        ("OpenAICompatible (sync)", "litellm.completion"),
        ("OpenAICompatible (async)", "litellm.acompletion"),
    ]
    measured = {pair: ratios(*pair) for pair in pairs}
    print("ratios: median (min..max) of per-round ratios; < 1 means the first is faster")
    print_table(
        ["first / second", "wall", "cpu"],
        [
            [f"{a} / {b}", ratio_range(w, 3), ratio_range(c, 3)]
            for (a, b), (w, c) in measured.items()
        ],
    )
    lookup = "LiteLLM provider (sync)"
    lookup_wall = round_ratios(
        [x.wall_s for x in results[lookup]], [x.wall_s for x in results[PINNED]]
    )
    cpu = round_ratios([x.cpu_s for x in results[lookup]], [x.cpu_s for x in results[PINNED]])
    print("\nlitellm looked up in sys.modules at each call vs the module pinned once")
    print("(per-round ratios, median (min..max); 1.000x means no difference)")
    print(f"  wall {ratio_range(lookup_wall, 3)}")
    print(f"  cpu  {ratio_range(cpu, 3)}")
    call_ns = median([x.wall_s for x in results[lookup]]) * 1e9
    print(
        f"  the lookup alone: {ratio_range(lookup_ns, 0, ' ns')} per call, "
        f"{median(lookup_ns) / call_ns:.1e} of a call\n"
    )
    wall = round_ratios([x.wall_s for x in results[PRICED]], [x.wall_s for x in results[UNPRICED]])
    cpu = round_ratios([x.cpu_s for x in results[PRICED]], [x.cpu_s for x in results[UNPRICED]])
    print("OpenAICompatible with cost + an in-process budget vs without (same provider)")
    print("(per-round ratios, median (min..max); 1.000x means no difference)")
    print(f"  wall {ratio_range(wall, 3)}")
    print(f"  cpu  {ratio_range(cpu, 3)}\n")
    goal("cost_and_budget_cpu_overhead", cpu, 1.05, at_most=True)
    goal("litellm_per_call_lookup", lookup_wall, 1.02, at_most=True)
    goal("litellm_provider_sync_overhead", measured[pairs[0]][0], 1.05, at_most=True)
    goal("litellm_provider_async_overhead", measured[pairs[1]][0], 1.05, at_most=True)
    goal("openai_compatible_vs_raw_httpx", measured[pairs[2]][0], 1.5, at_most=True)


if __name__ == "__main__":
    main()
