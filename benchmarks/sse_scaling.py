"""SSE decoding scales linearly: one huge event, and many events in one read.

CPU time (`time.process_time`), interleaved rounds, nothing asserted:

- In this process, the decoder alone and then with the accumulator (which adds
  `json.loads` and the events): one content delta of 4 and 32 MiB fed in 64 KiB
  reads (what httpx hands over), and one read holding 10,000 and 80,000 events (what
  aiohttp hands over after a pause). The growth exponent is
  log(t_large / t_small) / log(8): 1.0 is linear, 2.0 quadratic. Goal for the
  decoder: <= 1.1 for both, measured with an allocator that reuses freed memory (a
  child process; see WARM below); the default allocator's figures are reported too.
- End to end, sync: `OpenAICompatible.stream` against a raw httpx SSE read
  (`iter_lines` + `json.loads`), one delta of 4 and 32 MiB from a loopback server in
  its own process (`_sse_server.py`). Goal: 32 MiB ratio <= 1.3x.

    python benchmarks/sse_scaling.py [--quick]
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from _common import (
    BENCHMARKS_DIR,
    MESSAGES,
    child_env,
    gateway_process,
    goal,
    interleaved_rounds,
    parse_args,
    print_header,
    print_table,
    ratio_range,
    round_ratios,
)

MIB = 1 << 20
READ = 64 * 1024
SIZES = (4 * MIB, 32 * MIB)
EVENTS = (10_000, 80_000)


def frame(text: str) -> bytes:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": None}
    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "m", "choices": [choice]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def decode_cpu(reads: list[bytes], accumulate: bool) -> float:
    """CPU seconds to decode `reads` (and, if `accumulate`, fold them into one response)."""
    from llmport.streaming import SSEDecoder, StreamAccumulator

    began = time.process_time()
    decoder, acc = SSEDecoder(), StreamAccumulator()
    for read in reads:
        for data in decoder.feed(read):
            if accumulate:
                acc.add_data(data)
    acc.response()
    return time.process_time() - began


def one_event(size: int) -> list[bytes]:
    body = frame("x" * size) + b"data: [DONE]\n\n"
    return [body[i : i + READ] for i in range(0, len(body), READ)]


def many_events(count: int) -> list[bytes]:
    return [b"".join(frame(f"tok{i} ") for i in range(count)) + b"data: [DONE]\n\n"]


def exponent(small: list[float], large: list[float], factor: float) -> list[float]:
    """Per-round growth exponents: 1.0 when the cost grows like the input."""
    return [math.log(b / a) / math.log(factor) for a, b in zip(small, large, strict=True)]


def decoder_alone(rounds: int, allocator: str) -> bool:
    inputs = {
        **{f"one delta of {size // MIB} MiB, 64 KiB reads": one_event(size) for size in SIZES},
        **{f"{count:,} events in one read": many_events(count) for count in EVENTS},
    }
    variants: dict[tuple[str, bool], Callable[[], float]] = {
        (name, accumulate): functools.partial(decode_cpu, reads, accumulate)
        for name, reads in inputs.items()
        for accumulate in (False, True)
    }
    results = interleaved_rounds(variants, rounds)
    print(f"-- decoding in one process, {allocator}; CPU ms: median (min..max) over rounds")
    print_table(
        ["input", "SSEDecoder.feed", "+ StreamAccumulator"],
        [
            [name, *(ratio_range([1000 * t for t in results[name, a]], 1, "") for a in (0, 1))]
            for name in inputs
        ],
    )
    met = True
    names = list(inputs)
    warm = allocator == WARM
    for accumulate, label in ((False, "decoder"), (True, "decoder+accumulator")):
        one = exponent(results[names[0], accumulate], results[names[1], accumulate], 8)
        many = exponent(results[names[2], accumulate], results[names[3], accumulate], 8)
        if warm and not accumulate:
            met &= goal("sse_decoder_growth_exponent_4_to_32_MiB", one, 1.1, at_most=True, unit="")
            met &= goal("sse_decoder_growth_exponent_10k_to_80k", many, 1.1, at_most=True, unit="")
            continue
        for what, values in (("4 -> 32 MiB", one), ("10k -> 80k events", many)):
            shown = ratio_range(values, 2, "")
            print(f"result {label} growth exponent {what} ({allocator}): {shown}")
    return met


def end_to_end(rounds: int) -> bool:
    import httpx

    from llmport import OpenAICompatible, RetryPolicy

    with gateway_process(script=[str(BENCHMARKS_DIR / "_sse_server.py")]) as server:
        client = httpx.Client(timeout=60)
        llms: dict[int, Any] = {
            size: OpenAICompatible(
                chat_model=f"delta-{size}", base_url=server.base_url, retry=RetryPolicy.never()
            )
            for size in SIZES
        }

        def ours(size: int) -> float:
            began = time.process_time()
            response = llms[size].stream(MESSAGES).response
            assert len(response.content) == size, response.error
            return time.process_time() - began

        def raw(size: int) -> float:
            body = json.dumps({"model": f"delta-{size}", "messages": MESSAGES, "stream": True})
            began = time.process_time()
            text: list[str] = []
            url = f"{server.base_url}/chat/completions"
            with client.stream("POST", url, content=body.encode()) as response:
                for line in response.iter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        chunk = json.loads(line[6:])
                        if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                            text.append(chunk["choices"][0]["delta"]["content"])
            assert len("".join(text)) == size
            return time.process_time() - began

        variants: dict[tuple[str, int], Callable[[], float]] = {}
        for size in SIZES:
            ours(size), raw(size)  # warm up: connections, the server's cached bodies
            variants["llmport OpenAICompatible.stream", size] = lambda s=size: ours(s)
            variants["raw httpx SSE", size] = lambda s=size: raw(s)
        try:
            results = interleaved_rounds(variants, rounds)
        finally:
            client.close()
            for llm in llms.values():
                llm.close()
    print("-- end to end, sync, one content delta (CPU ms per stream)")
    print_table(
        ["variant", *(f"{size // MIB} MiB" for size in SIZES)],
        [
            [name, *(ratio_range([1000 * t for t in results[name, s]], 1, "") for s in SIZES)]
            for name in ("llmport OpenAICompatible.stream", "raw httpx SSE")
        ],
    )
    ratios = {
        size: round_ratios(
            results["llmport OpenAICompatible.stream", size], results["raw httpx SSE", size]
        )
        for size in SIZES
    }
    for size in SIZES:
        print(f"llmport / raw httpx, {size // MIB} MiB: {ratio_range(ratios[size])}")
    growth = exponent(
        results["llmport OpenAICompatible.stream", SIZES[0]],
        results["llmport OpenAICompatible.stream", SIZES[1]],
        SIZES[1] / SIZES[0],
    )
    print(f"llmport growth exponent 4 -> 32 MiB, end to end: {ratio_range(growth, 2, '')}\n")
    return goal("sse_32_MiB_one_event_vs_raw_httpx", ratios[SIZES[1]], 1.3, at_most=True)


#: glibc maps every block over 32 MiB fresh from the kernel and returns it on free, so
#: each 32 MiB string pays page faults that a 4 MiB one, reusing freed heap, does not.
#: With mmap off and no trimming, both sizes reuse memory and the exponent shows the
#: decoder's own work. Both settings are reported.
WARM = "allocator reusing freed memory"
DEFAULT = "default allocator"
WARM_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 32)}
_CHILD = "LLMPORT_SSE_SCALING_WARM_ALLOCATOR"


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds = 3 if args.quick else 7
    if os.environ.get(_CHILD):
        raise SystemExit(0 if decoder_alone(rounds, WARM) else 1)
    print_header("SSE decoding: one huge event, many events per read", args.quick)
    met = decoder_alone(rounds, DEFAULT)
    print(flush=True)
    child = [sys.executable, __file__, *(["--quick"] if args.quick else [])]
    met &= subprocess.run(child, env=child_env(**WARM_ENV, **{_CHILD: "1"})).returncode == 0
    print()
    met &= end_to_end(rounds)
    print("all SSE scaling goals met" if met else "some SSE scaling goals not met (see above)")


if __name__ == "__main__":
    main()
