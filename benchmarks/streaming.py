"""Streaming: time to first event, total time and CPU, llmport vs the raw stream it wraps.

The gateway runs in its own process, so `time.process_time` counts the client alone.
Each pair takes turns stream by stream, in rotated rounds; every figure is printed as
the median (min..max) of the rounds' medians, and every ratio as the median
(min..max) of the per-round ratios.

- Direct provider, streams of 10, 1,000 and 20,000 chunks (gateway `chunks-<n>`):
  `OpenAICompatible.stream` vs a raw httpx SSE read (`client.stream` + `iter_lines` +
  `json.loads` per chunk), and `OpenAICompatible.astream` vs a raw aiohttp SSE read.
  Goals at 1,000 chunks: CPU per chunk <= 1.15x the raw client's, sync and async;
  async time to first event within +0.2 ms of raw aiohttp, judged on the client's
  CPU time up to the first event. The wall-clock gap is printed too, but on a loaded
  machine it moves by milliseconds from round to round; the server and the network
  cost both clients the same, so the CPU gap is what the client adds.
- `LiteLLM.stream` vs raw `litellm.completion(stream=True)` at 50 and 200 chunks,
  both with litellm's default logging and both with `disable_streaming_logging` (its
  fastest supported setting). Goal: <= 1.05x. `LiteLLM.astream` vs
  `litellm.acompletion(stream=True)` is reported.

Then, against an in-process gateway that counts TCP connections: connections opened
per 100 streams for OpenAICompatible, LiteLLM and raw litellm.

    python benchmarks/streaming.py [--quick]
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
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
)

Timing = tuple[float, float, float, float]  # first event, total, CPU, CPU to first event (s)

#: Async clients to close before their event loop ends.
_CLOSERS: list[Callable[[], Awaitable[None]]] = []


def timed(events: Iterator[Any]) -> Timing:
    cpu, began = time.process_time(), time.perf_counter()
    first = first_cpu = 0.0
    for _ in events:
        if not first:
            first, first_cpu = time.perf_counter() - began, time.process_time() - cpu
    return first, time.perf_counter() - began, time.process_time() - cpu, first_cpu


async def atimed(events: AsyncIterator[Any]) -> Timing:
    cpu, began = time.process_time(), time.perf_counter()
    first = first_cpu = 0.0
    async for _ in events:
        if not first:
            first, first_cpu = time.perf_counter() - began, time.process_time() - cpu
    return first, time.perf_counter() - began, time.process_time() - cpu, first_cpu


def sync_variants(base_url: str, model: str) -> dict[str, Callable[[], Timing]]:
    litellm = import_litellm()
    import httpx

    from llmport import LiteLLM, OpenAICompatible, RetryPolicy
    from llmport.streaming import TextDelta

    never = RetryPolicy.never()
    wrapped = LiteLLM(chat_model=f"openai/{model}", api_base=base_url, api_key=API_KEY, retry=never)
    direct = OpenAICompatible(chat_model=model, base_url=base_url, retry=never)
    client = httpx.Client(timeout=60)
    raw_kwargs: dict[str, Any] = {
        "model": f"openai/{model}",
        "messages": MESSAGES,
        "api_base": base_url,
        "api_key": API_KEY,
        "num_retries": 0,
        "drop_params": True,
        "timeout": 60,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    body = json.dumps({"model": model, "messages": MESSAGES, "stream": True}).encode()

    def raw_litellm() -> Iterator[Any]:
        for chunk in litellm.completion(**raw_kwargs):
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk

    def llmport_events(llm: Any) -> Iterator[Any]:
        with llm.stream(MESSAGES) as stream:
            yield from (e for e in stream if isinstance(e, TextDelta))

    def raw_sse() -> Iterator[Any]:
        with client.stream("POST", f"{base_url}/chat/completions", content=body) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    chunk = json.loads(line[6:])
                    if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                        yield chunk

    return {
        "llmport LiteLLM": lambda: timed(llmport_events(wrapped)),
        "raw litellm": lambda: timed(raw_litellm()),
        "llmport OpenAICompatible": lambda: timed(llmport_events(direct)),
        "raw httpx SSE": lambda: timed(raw_sse()),
    }


def async_variants(base_url: str, model: str) -> dict[str, Callable[[], Awaitable[Timing]]]:
    litellm = import_litellm()
    import aiohttp

    from llmport import LiteLLM, OpenAICompatible, RetryPolicy
    from llmport.streaming import TextDelta

    never = RetryPolicy.never()
    wrapped = LiteLLM(chat_model=f"openai/{model}", api_base=base_url, api_key=API_KEY, retry=never)
    direct = OpenAICompatible(chat_model=model, base_url=base_url, retry=never)
    sessions: list[aiohttp.ClientSession] = []

    async def close() -> None:
        for session in sessions:
            await session.close()
        await direct.aclose()

    _CLOSERS.append(close)
    body = json.dumps({"model": model, "messages": MESSAGES, "stream": True}).encode()

    async def raw_litellm() -> AsyncIterator[Any]:
        stream = await litellm.acompletion(
            model=f"openai/{model}", messages=MESSAGES, api_base=base_url, api_key=API_KEY,
            num_retries=0, drop_params=True, timeout=60, stream=True,
            stream_options={"include_usage": True},
        )  # fmt: skip
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk

    async def llmport_events(llm: Any) -> AsyncIterator[Any]:
        async with llm.astream(MESSAGES) as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    yield event

    async def raw_sse() -> AsyncIterator[Any]:
        if not sessions:
            sessions.append(aiohttp.ClientSession())
        url = f"{base_url}/chat/completions"
        async with sessions[0].post(url, data=body) as response:
            async for raw in response.content:
                line = raw.decode().strip()
                if line.startswith("data: ") and line != "data: [DONE]":
                    chunk = json.loads(line[6:])
                    if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                        yield chunk

    return {
        "llmport LiteLLM (async)": lambda: atimed(llmport_events(wrapped)),
        "raw litellm (async)": lambda: atimed(raw_litellm()),
        "llmport OpenAICompatible (async)": lambda: atimed(llmport_events(direct)),
        "raw aiohttp SSE": lambda: atimed(raw_sse()),
    }


#: Pairs compared side by side. litellm leaves logging work in background threads that
#: bills whatever runs next, so the litellm pair and the direct pair never interleave.
PAIRS = (
    ("llmport LiteLLM", "raw litellm"),
    ("llmport OpenAICompatible", "raw httpx SSE"),
    ("llmport LiteLLM (async)", "raw litellm (async)"),
    ("llmport OpenAICompatible (async)", "raw aiohttp SSE"),
)


def by_pairs(variants: dict[str, Any], pairs: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    return [{name: variants[name] for name in pair} for pair in pairs if pair[0] in variants]


def alternate(
    variants: dict[str, Callable[[], Timing]],
    streams: int,
    rounds: int,
    pairs: tuple[tuple[str, str], ...] = PAIRS,
) -> dict[str, list[Timing]]:
    """Per pair and round: the two take turns stream by stream; the round's median is kept."""
    results: dict[str, list[Timing]] = {}
    for pair in by_pairs(variants, pairs):
        time.sleep(0.5)  # let background work of the previous pair settle
        results.update(_alternate(pair, streams, rounds))
    return results


def _alternate(
    variants: dict[str, Callable[[], Timing]], streams: int, rounds: int
) -> dict[str, list[Timing]]:
    results: dict[str, list[Timing]] = {name: [] for name in variants}
    for variant in variants.values():
        variant()  # warm up: connection pools, first-call imports
    for index in range(rounds):
        order = rotated(list(variants), index)
        samples: dict[str, list[Timing]] = {name: [] for name in order}
        for _ in range(streams):
            for name in order:
                samples[name].append(variants[name]())
        for name, values in samples.items():
            results[name].append(medians(values))
    return results


async def aalternate(
    variants: dict[str, Callable[[], Awaitable[Timing]]],
    streams: int,
    rounds: int,
    pairs: tuple[tuple[str, str], ...] = PAIRS,
) -> dict[str, list[Timing]]:
    results: dict[str, list[Timing]] = {}
    for pair in by_pairs(variants, pairs):
        await asyncio.sleep(0.5)
        results.update(await _aalternate(pair, streams, rounds))
    return results


async def _aalternate(
    variants: dict[str, Callable[[], Awaitable[Timing]]], streams: int, rounds: int
) -> dict[str, list[Timing]]:
    results: dict[str, list[Timing]] = {name: [] for name in variants}
    for variant in variants.values():
        await variant()  # warm up: the session, first-call imports
    for index in range(rounds):
        order = rotated(list(variants), index)
        samples: dict[str, list[Timing]] = {name: [] for name in order}
        for _ in range(streams):
            for name in order:
                samples[name].append(await variants[name]())
        for name, values in samples.items():
            results[name].append(medians(values))
    return results


def medians(values: list[Timing]) -> Timing:
    first, total, cpu, first_cpu = (median([v[part] for v in values]) for part in range(4))
    return first, total, cpu, first_cpu


def report(title: str, results: dict[str, list[Timing]], chunks: int) -> None:
    print(f"-- {title}: median (min..max) of the rounds' medians")

    def cell(name: str, part: int, scale: float) -> str:
        return ratio_range([r[part] * scale for r in results[name]], 2, "")

    rows = [
        [name, *(cell(name, part, 1e3) for part in (0, 3, 1)), cell(name, 2, 1e6 / chunks)]
        for name in results
    ]
    headers = ["variant", "first event ms", "CPU to first ms", "total ms", "CPU us/chunk"]
    print_table(headers, rows)


def ratios(results: dict[str, list[Timing]], a: str, b: str, part: int) -> list[float]:
    """Per-round ratios of `a` to `b` for one part of `Timing`."""
    return round_ratios([r[part] for r in results[a]], [r[part] for r in results[b]])


def first_event_gap_ms(
    results: dict[str, list[Timing]], a: str, b: str, part: int = 0
) -> list[float]:
    """Per-round `a` minus `b`: time (part 0) or CPU (part 3) to the first event, in ms."""
    return [1000 * (x[part] - y[part]) for x, y in zip(results[a], results[b], strict=True)]


def compare(results: dict[str, list[Timing]], a: str, b: str) -> None:
    cpu, total = ratios(results, a, b, 2), ratios(results, a, b, 1)
    gap, cpu_gap = first_event_gap_ms(results, a, b), first_event_gap_ms(results, a, b, 3)
    print(f"{a} / {b}: CPU {ratio_range(cpu)}, total {ratio_range(total)}")
    print(f"  first event {ratio_range(gap, 2, ' ms')}, CPU to it {ratio_range(cpu_gap, 2, ' ms')}")


def connections_per_100(streams: int) -> dict[str, int]:
    litellm = import_litellm()

    from llmport import LiteLLM, OpenAICompatible, RetryPolicy
    from llmport.testing import LocalGateway

    counts: dict[str, int] = {}
    with LocalGateway(record=False) as gateway:
        never = RetryPolicy.never()
        direct = OpenAICompatible(chat_model="chunks-8", base_url=gateway.base_url, retry=never)
        wrapped = LiteLLM(
            chat_model="openai/chunks-8", api_base=gateway.base_url, api_key=API_KEY, retry=never
        )

        def raw() -> None:
            for _ in litellm.completion(
                model="openai/chunks-8", messages=MESSAGES, api_base=gateway.base_url,
                api_key=API_KEY, num_retries=0, stream=True,
            ):  # fmt: skip
                pass

        for name, run in (
            ("llmport OpenAICompatible", lambda: direct.stream(MESSAGES).response),
            ("llmport LiteLLM", lambda: wrapped.stream(MESSAGES).response),
            ("raw litellm", raw),
        ):
            before = gateway.connections_opened
            for _ in range(streams):
                run()
            counts[name] = round((gateway.connections_opened - before) * 100 / streams)
    return counts


#: The direct provider against the raw clients it wraps, at these stream lengths.
DIRECT_CHUNKS = (10, 1000, 20000)
DIRECT_PAIRS = PAIRS[1::2]
LITELLM_PAIRS = PAIRS[0::2]
SYNC = ("llmport OpenAICompatible", "raw httpx SSE")
ASYNC = ("llmport OpenAICompatible (async)", "raw aiohttp SSE")


def run_async(
    base_url: str, model: str, streams: int, rounds: int, pairs: tuple[tuple[str, str], ...]
) -> dict[str, list[Timing]]:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(
            aalternate(async_variants(base_url, model), streams, rounds, pairs)
        )
    finally:
        while _CLOSERS:
            loop.run_until_complete(_CLOSERS.pop()())
        loop.close()


def litellm_streams(base_url: str, streams: int, rounds: int) -> bool:
    """LiteLLM against raw litellm, sync (both logging settings) and async (reported)."""
    litellm = import_litellm()
    met = True
    for chunks in (50, 200):
        model = f"chunks-{chunks}"
        for fast in (False, True):
            litellm.disable_streaming_logging = fast
            label = "disable_streaming_logging" if fast else "litellm default logging"
            results = alternate(sync_variants(base_url, model), streams, rounds, LITELLM_PAIRS)
            report(f"sync, {chunks} chunks, {label}", results, chunks)
            compare(results, "llmport LiteLLM", "raw litellm")
            for part, what in ((0, "first event"), (1, "total")):
                met &= goal(
                    f"LiteLLM stream {what} {chunks} chunks ({label}) vs raw litellm",
                    ratios(results, "llmport LiteLLM", "raw litellm", part), 1.05, at_most=True,
                )  # fmt: skip
        litellm.disable_streaming_logging = False
        aresults = run_async(base_url, model, streams, rounds, LITELLM_PAIRS)
        report(f"async, {chunks} chunks", aresults, chunks)
        compare(aresults, "llmport LiteLLM (async)", "raw litellm (async)")
        print()
    return met


def direct_streams(base_url: str, streams: int, rounds: int) -> bool:
    """OpenAICompatible against raw httpx (sync) and raw aiohttp (async): CPU per chunk."""
    met = True
    for chunks in DIRECT_CHUNKS:
        model = f"chunks-{chunks}"
        count = max(3, min(streams, 20_000 // chunks))  # long streams: fewer per round
        results = alternate(sync_variants(base_url, model), count, rounds, DIRECT_PAIRS)
        results.update(run_async(base_url, model, count, rounds, DIRECT_PAIRS))
        report(f"direct provider, {chunks} chunks, {count} streams per round", results, chunks)
        compare(results, *SYNC)
        compare(results, *ASYNC)
        print()
        if chunks == 1000:
            sync_cpu, async_cpu = ratios(results, *SYNC, 2), ratios(results, *ASYNC, 2)
            gap = first_event_gap_ms(results, *ASYNC, 3)
            met &= goal("stream_cpu_per_chunk_1000_vs_raw_httpx", sync_cpu, 1.15, at_most=True)
            met &= goal("astream_cpu_per_chunk_1000_vs_raw_aiohttp", async_cpu, 1.15, at_most=True)
            met &= goal("astream_cpu_to_first_event_1000_minus_raw_aiohttp", gap, 0.2,
                        at_most=True, unit=" ms")  # fmt: skip
            print()
    return met


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds, streams = (2, 5) if args.quick else (5, 20)
    print_header("streaming: time to first event, total time and CPU", args.quick)
    with gateway_process() as gateway:
        met = direct_streams(gateway.base_url, streams, rounds)
        met &= litellm_streams(gateway.base_url, streams, rounds)
    counts = connections_per_100(20 if args.quick else 100)
    print("-- TCP connections opened per 100 streams")
    print_table(["client", "connections"], [[k, v] for k, v in counts.items()])
    print("all streaming goals met" if met else "some streaming goals not met (see above)")


if __name__ == "__main__":
    main()
