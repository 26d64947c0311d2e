"""Run every benchmark in sequence and print a summary of results and goals.

    python benchmarks/run_all.py [--quick]

Each benchmark runs as its own process (a fresh interpreter, so one benchmark's
imports and threads do not disturb the next); its output is shown as it comes.
The summary collects the `goal ...` and `result ...` lines. The exit status is
non-zero when a benchmark fails to run, not when a goal is missed.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from _common import BENCHMARKS_DIR, child_env, parse_args, print_header, print_table

BENCHMARKS = (
    "gateway_ceiling",
    "import_cost",
    "call_overhead",
    "throughput",
    "memory",
    "streaming",
    "sse_scaling",
)
TIMEOUT_S = 900  # per benchmark; a full run of all of them takes a few minutes


def run(name: str, quick: bool) -> tuple[int, float, list[str]]:
    """Run one benchmark, echo its output; return its status, duration and summary lines."""
    command = [sys.executable, str(BENCHMARKS_DIR / f"{name}.py"), *(["--quick"] if quick else [])]
    began = time.perf_counter()
    summary: list[str] = []
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_env()
    )
    watchdog = threading.Timer(TIMEOUT_S, process.kill)  # a hung benchmark ends the run
    watchdog.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            if line.startswith(("goal ", "result ")):
                summary.append(line.rstrip())
        status = process.wait(timeout=30)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    return status, time.perf_counter() - began, summary


def main() -> None:
    args = parse_args(__doc__ or "")
    print_header("llmport benchmarks", args.quick)
    began = time.perf_counter()
    outcomes: dict[str, tuple[int, float, list[str]]] = {}
    for name in BENCHMARKS:
        print(f"\n{'#' * 8} {name} {'#' * 8}\n", flush=True)
        outcomes[name] = run(name, args.quick)
    total = time.perf_counter() - began

    print(f"\n{'#' * 8} summary {'#' * 8}\n")
    rows = [
        [name, "ok" if status == 0 else f"FAILED ({status})", f"{seconds:.0f}"]
        for name, (status, seconds, _) in outcomes.items()
    ]
    print_table(["benchmark", "status", "seconds"], rows)
    for _, _, lines in outcomes.values():
        for line in lines:
            print(line)
    goals = [line for _, _, lines in outcomes.values() for line in lines if line.startswith("goal")]
    met = sum(line.endswith("-> met") for line in goals)
    print(f"\n{met} of {len(goals)} goals met; total {total:.0f} s")
    if any(status != 0 for status, _, _ in outcomes.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
