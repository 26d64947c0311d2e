"""Memory: peak RSS of a fresh process that imports a client and makes 1,000 calls.

`OpenAICompatible` (sync) against `litellm.completion`, plus the `LiteLLM` provider
(llmport on top of litellm), each in its own subprocess (`_memory_child.py`), in
interleaved rounds. The peak is the child's own `ru_maxrss` read by the parent with
`wait4`; the child also reports its resident size after the import, after the first
call and at the end, so growth over the calls is visible. The gateway runs in a
separate process.

    python benchmarks/memory.py [--quick]
"""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass

from _common import (
    BENCHMARKS_DIR,
    child_env,
    gateway_process,
    interleaved_rounds,
    median,
    parse_args,
    print_header,
    print_table,
    ratio_range,
    round_ratios,
    run_child,
    spread,
)

VARIANTS = {
    "OpenAICompatible": "openai_compatible",
    "litellm.completion": "litellm",
    "LiteLLM provider": "litellm_provider",
}


@dataclass(frozen=True)
class Sample:
    """One child process: its memory checkpoints (MB) and wall time."""

    peak_mb: float
    imported_mb: float
    first_call_mb: float
    end_mb: float
    wall_s: float


def run(variant: str, base_url: str, calls: int) -> Sample:
    child = BENCHMARKS_DIR / "_memory_child.py"
    result = run_child([sys.executable, str(child), variant, base_url, str(calls)], child_env())
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if report["failures"]:
        raise RuntimeError(f"{variant}: {report['failures']} of {calls} calls failed")
    return Sample(
        peak_mb=result.maxrss_mb,
        imported_mb=report["imported_mb"],
        first_call_mb=report["first_call_mb"],
        end_mb=report["end_mb"],
        wall_s=result.wall_s,
    )


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds, calls = (1, 200) if args.quick else (3, 1000)
    print_header("memory: peak RSS of a process making sequential calls", args.quick)
    print(f"{rounds} interleaved rounds; each child imports its client and makes {calls} calls.\n")
    with gateway_process() as gateway:
        for variant in VARIANTS.values():  # fill the bytecode cache
            run(variant, gateway.base_url, 2)
        variants = {
            name: functools.partial(run, variant, gateway.base_url, calls)
            for name, variant in VARIANTS.items()
        }
        results = interleaved_rounds(variants, rounds)
    report(results, calls)


def report(results: dict[str, list[Sample]], calls: int) -> None:
    rows = []
    for name, samples in results.items():
        peaks = [s.peak_mb for s in samples]
        rows.append(
            [
                name,
                f"{median(peaks):.1f}",
                spread(peaks, 1),
                f"{median([s.imported_mb for s in samples]):.1f}",
                f"{median([s.first_call_mb for s in samples]):.1f}",
                f"{median([s.end_mb - s.first_call_mb for s in samples]):+.1f}",
                f"{median([s.wall_s for s in samples]):.1f}",
            ]
        )
    headers = ["client", "peak MB", "rounds", "after import", "after 1 call"]
    print_table([*headers, f"growth over {calls - 1}", "wall s"], rows)

    def ratio(a: str, b: str) -> list[float]:
        return round_ratios(*([s.peak_mb for s in results[n]] for n in (a, b)))

    print("peak RSS ratios: median (min..max) of per-round ratios")
    pairs = [
        ("OpenAICompatible", "litellm.completion"),
        ("LiteLLM provider", "litellm.completion"),
    ]
    print_table(
        ["first / second", "peak RSS"],
        [[f"{a} / {b}", ratio_range(ratio(a, b), 3)] for a, b in pairs],
    )
    measured = ratio_range(ratio(*pairs[0]), 3)
    print(f"result peak_rss_openai_compatible_vs_litellm: {measured}")


if __name__ == "__main__":
    main()
