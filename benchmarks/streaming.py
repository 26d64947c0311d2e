"""Streaming: time to first event and total time, llmport vs the raw stream it wraps.

For 50- and 200-chunk streams (gateway models `chunks-50`, `chunks-200`, in their
own process), variants take turns stream by stream, in rotated rounds:

- sync: llmport `LiteLLM.stream` vs raw `litellm.completion(stream=True)`, both with
  litellm's default logging and both with `disable_streaming_logging` (its fastest
  supported setting; llmport's `disable_streaming_logging=True`). Goal: <= 1.05x.
- sync: llmport `OpenAICompatible.stream` vs a raw httpx SSE read (`client.stream` +
  line parsing + `json.loads` per chunk). Goal: <= 1.5x.
- async: `OpenAICompatible.astream` vs a raw aiohttp SSE read; `LiteLLM.astream` vs
  `litellm.acompletion(stream=True)` (reported).

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
    rotated,
    round_ratios,
)

Timing = tuple[float, float]  # (first event, total) in seconds

#: Async clients to close before their event loop ends.
_CLOSERS: list[Callable[[], Awaitable[None]]] = []


def timed(events: Iterator[Any]) -> Timing:
    began = time.perf_counter()
    first = 0.0
    for _ in events:
        if not first:
            first = time.perf_counter() - began
    return first, time.perf_counter() - began


async def atimed(events: AsyncIterator[Any]) -> Timing:
    began = time.perf_counter()
    first = 0.0
    async for _ in events:
        if not first:
            first = time.perf_counter() - began
    return first, time.perf_counter() - began


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


def by_pairs(variants: dict[str, Any]) -> list[dict[str, Any]]:
    return [{name: variants[name] for name in pair} for pair in PAIRS if pair[0] in variants]


def alternate(
    variants: dict[str, Callable[[], Timing]], streams: int, rounds: int
) -> dict[str, list[Timing]]:
    """Per pair and round: the two take turns stream by stream; the round's median is kept."""
    results: dict[str, list[Timing]] = {}
    for pair in by_pairs(variants):
        time.sleep(0.5)  # let background work of the previous pair settle
        results.update(_alternate(pair, streams, rounds))
    return results


def _alternate(
    variants: dict[str, Callable[[], Timing]], streams: int, rounds: int
) -> dict[str, list[Timing]]:
    results: dict[str, list[Timing]] = {name: [] for name in variants}
    for index in range(rounds):
        order = rotated(list(variants), index)
        samples: dict[str, list[Timing]] = {name: [] for name in order}
        for _ in range(streams):
            for name in order:
                samples[name].append(variants[name]())
        for name, values in samples.items():
            results[name].append((median([v[0] for v in values]), median([v[1] for v in values])))
    return results


async def aalternate(
    variants: dict[str, Callable[[], Awaitable[Timing]]], streams: int, rounds: int
) -> dict[str, list[Timing]]:
    results: dict[str, list[Timing]] = {}
    for pair in by_pairs(variants):
        await asyncio.sleep(0.5)
        results.update(await _aalternate(pair, streams, rounds))
    return results


async def _aalternate(
    variants: dict[str, Callable[[], Awaitable[Timing]]], streams: int, rounds: int
) -> dict[str, list[Timing]]:
    results: dict[str, list[Timing]] = {name: [] for name in variants}
    for index in range(rounds):
        order = rotated(list(variants), index)
        samples: dict[str, list[Timing]] = {name: [] for name in order}
        for _ in range(streams):
            for name in order:
                samples[name].append(await variants[name]())
        for name, values in samples.items():
            results[name].append((median([v[0] for v in values]), median([v[1] for v in values])))
    return results


def report(title: str, results: dict[str, list[Timing]]) -> None:
    print(f"-- {title}")
    rows = [
        [
            name,
            f"{median([r[0] for r in runs]) * 1000:.2f}",
            f"{median([r[1] for r in runs]) * 1000:.2f}",
        ]
        for name, runs in results.items()
    ]
    print_table(["variant", "first event ms", "total ms"], rows)


def ratio(results: dict[str, list[Timing]], a: str, b: str, part: int) -> float:
    return median(round_ratios([r[part] for r in results[a]], [r[part] for r in results[b]]))


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


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds, streams = (2, 5) if args.quick else (5, 20)
    print_header("streaming: time to first event and total", args.quick)
    litellm = import_litellm()
    met = True
    with gateway_process() as gateway:
        for chunks in (50, 200):
            model = f"chunks-{chunks}"
            for fast in (False, True):
                litellm.disable_streaming_logging = fast
                label = "disable_streaming_logging" if fast else "litellm default logging"
                results = alternate(sync_variants(gateway.base_url, model), streams, rounds)
                report(f"sync, {chunks} chunks, {label}", results)
                for part, what in ((0, "first event"), (1, "total")):
                    value = ratio(results, "llmport LiteLLM", "raw litellm", part)
                    met &= goal(
                        f"LiteLLM stream {what} {chunks} chunks ({label}) vs raw litellm",
                        value, 1.05, at_most=True,
                    )  # fmt: skip
                value = ratio(results, "llmport OpenAICompatible", "raw httpx SSE", 1)
                met &= goal(
                    f"OpenAICompatible stream total {chunks} chunks vs raw httpx SSE",
                    value, 1.5, at_most=True,
                )  # fmt: skip
            litellm.disable_streaming_logging = False
            loop = asyncio.new_event_loop()
            try:
                aresults = loop.run_until_complete(
                    aalternate(async_variants(gateway.base_url, model), streams, rounds)
                )
            finally:
                while _CLOSERS:
                    loop.run_until_complete(_CLOSERS.pop()())
                loop.close()
            report(f"async, {chunks} chunks", aresults)
            value = ratio(aresults, "llmport OpenAICompatible (async)", "raw aiohttp SSE", 1)
            goal(f"async OpenAICompatible total {chunks} chunks vs raw aiohttp", value, 1.5,
                 at_most=True)  # fmt: skip
    counts = connections_per_100(20 if args.quick else 100)
    print("-- TCP connections opened per 100 streams")
    print_table(["client", "connections"], [[k, v] for k, v in counts.items()])
    print("all streaming goals met" if met else "some streaming goals not met (see above)")


if __name__ == "__main__":
    main()
