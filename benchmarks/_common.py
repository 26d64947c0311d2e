"""Shared helpers for the benchmarks: the gateway process, interleaved rounds, stats, RSS.

The benchmarks run on small, noisy machines, so none of them trusts one absolute
number: every comparison runs its variants side by side in the same process, in
several interleaved rounds (the order rotates each round), and reports medians and
ratios. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

BENCHMARKS_DIR = Path(__file__).resolve().parent

#: Bytecode cache for child processes, outside the repository and the venv. The venv
#: here sets PYTHONDONTWRITEBYTECODE and ships no .pyc files; without this every child
#: would compile litellm from source, which is not what an installed package does.
PYCACHE_DIR = Path(tempfile.gettempdir()) / "llmport-bench-pycache"

MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": "Say hello."}]
API_KEY = "sk-bench"


def parse_args(description: str) -> argparse.Namespace:
    """The command line every benchmark shares: `--quick` for a smoke run."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds and requests (smoke test)"
    )
    return parser.parse_args()


def setup_litellm_env() -> None:
    """Keep litellm off the network; call before anything imports litellm."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"


def import_litellm() -> Any:
    """Import litellm quietly (no network, no banners)."""
    setup_litellm_env()
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def child_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: bytecode cached in PYCACHE_DIR, litellm offline."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE_DIR)
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env.update(extra)
    return env


# --- machine ------------------------------------------------------------------------------


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_header(title: str, quick: bool) -> None:
    """Title, machine and load, so a pasted result says where it came from."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"== {title}{' (--quick)' if quick else ''} ==")
    print(
        f"cpus={os.cpu_count()} cpu={cpu_model()!r} python={platform.python_version()} "
        f"litellm={package_version('litellm')} httpx={package_version('httpx')} "
        f"aiohttp={package_version('aiohttp')} load=[{load}]"
    )
    print()


# --- statistics and reporting -------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, `q` in [0, 100]."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def spread(values: Sequence[float], digits: int = 0) -> str:
    """`min..max` of the rounds, to show how noisy a median is."""
    return f"{min(values):.{digits}f}..{max(values):.{digits}f}"


def interleaved_rounds(variants: Mapping[K, Callable[[], T]], rounds: int) -> dict[K, list[T]]:
    """Run every variant once per round, rotating the order each round.

    Rotation keeps a slow moment of the machine (or a warm cache) from always
    favouring the same variant; the caller compares variants round by round.
    """
    names = list(variants)
    results: dict[K, list[T]] = {name: [] for name in names}
    for index in range(rounds):
        for name in rotated(names, index):
            gc.collect()
            results[name].append(variants[name]())
    return results


def rotated(items: Sequence[T], index: int) -> list[T]:
    """`items` rotated left by `index` places (round `index` starts with a different one)."""
    shift = index % len(items)
    return [*items[shift:], *items[:shift]]


def round_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Per-round ratios of two variants measured side by side."""
    return [a / b for a, b in zip(numerators, denominators, strict=True)]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain, aligned table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        first = row[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))
    print()


def ratio_range(values: Sequence[float], digits: int = 2, unit: str = "x") -> str:
    """`median (min..max)` of per-round values, e.g. `1.08x (1.02..1.15x)`."""
    low, mid, high = (f"{v:.{digits}f}" for v in (min(values), median(values), max(values)))
    return f"{mid}{unit} ({low}..{high}{unit})"


def goal(
    name: str,
    measured: float | Sequence[float],
    target: float,
    *,
    at_most: bool,
    unit: str = "x",
) -> bool:
    """Print `goal <name>: measured M (min..max) (target T) -> met/not met`; return whether met.

    `measured` is one value or the per-round values; the goal is judged on their median.
    """
    rounds = [measured] if isinstance(measured, (int, float)) else list(measured)
    value = median(rounds)
    met = value <= target if at_most else value >= target
    sign = "<=" if at_most else ">="
    shown = f"{value:.3g}{unit}" if len(rounds) == 1 else ratio_range(rounds, 3, unit)
    print(
        f"goal {name}: measured {shown} (target {sign} {target:g}{unit}) -> "
        f"{'met' if met else 'not met'}"
    )
    return met


# --- load ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """The outcome of one run of `drive`."""

    requests: int
    errors: int
    seconds: float
    latencies_s: list[float]
    client_cpu_s: float
    gateway_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_s, 50) * 1000

    @property
    def p95_ms(self) -> float:
        return percentile(self.latencies_s, 95) * 1000


async def drive(
    send: Callable[[], Awaitable[bool]],
    total: int,
    concurrency: int,
    timeout: float = 120,
    gateway: GatewayProcess | None = None,
) -> Load:
    """Send `total` requests with `concurrency` always in flight; `send` returns success.

    Each of `concurrency` workers sends its next request as soon as the last one
    answers, so the load is closed-loop: the rate is what client and server sustain.
    """
    latencies: list[float] = []
    errors = 0
    remaining = total

    async def worker() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            began = time.perf_counter()
            try:
                succeeded = await send()
            except Exception:
                succeeded = False
            latencies.append(time.perf_counter() - began)
            errors += not succeeded

    gateway_began = gateway.cpu_seconds() if gateway else 0.0
    cpu_began, began = time.process_time(), time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), timeout)
    seconds = time.perf_counter() - began
    return Load(
        requests=total,
        errors=errors,
        seconds=seconds,
        latencies_s=latencies,
        client_cpu_s=time.process_time() - cpu_began,
        gateway_cpu_s=(gateway.cpu_seconds() - gateway_began) if gateway else 0.0,
    )


# --- child processes ----------------------------------------------------------------------


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Terminate a child we started, then kill it if it does not exit promptly."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@dataclass(frozen=True)
class ChildRun:
    """One finished child process: wall time, its own peak RSS and CPU, its stdout."""

    wall_s: float
    maxrss_mb: float
    cpu_s: float
    returncode: int
    stdout: str


def run_child(args: Sequence[str], env: Mapping[str, str], timeout: float = 120) -> ChildRun:
    """Run a command and measure it with `wait4`, which gives that child's own rusage.

    `RUSAGE_CHILDREN` would report the largest child ever waited for, so a litellm
    child would hide a smaller llmport one; `wait4` is per process.
    """
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT, env=dict(env))
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            stop_process(process)
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {process.returncode}:\n{text[-2000:]}")
    return ChildRun(
        wall_s=wall,
        maxrss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        cpu_s=usage.ru_utime + usage.ru_stime,
        returncode=process.returncode,
        stdout=text,
    )


_GATEWAY_CODE = """\
from llmport.testing import LocalGateway

gateway = LocalGateway(port=0, record=False).start()
print(gateway.port, flush=True)
gateway.serve_forever()
"""


@dataclass(frozen=True)
class GatewayProcess:
    """The local gateway running in a child process."""

    base_url: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time the gateway process has used so far (user + system)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def gateway_process(
    startup_timeout: float = 60, script: Sequence[str] = ("-c", _GATEWAY_CODE)
) -> Iterator[GatewayProcess]:
    """Run the local gateway in its own process (own CPU time and GIL) until the block ends.

    `script` (the interpreter's arguments) may name another server that prints its port
    and answers `GET /health` the same way.

    Requests are not recorded, so memory stays flat over thousands of calls. The
    process is terminated on exit, whatever happens inside the block.
    """
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [sys.executable, *script],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=child_env(),
            text=True,
        )
        try:
            yield GatewayProcess(_wait_for_gateway(process, startup_timeout), process.pid)
        except BaseException:
            if process.poll() is not None:
                errors.seek(0)
                sys.stderr.write(errors.read().decode("utf-8", "replace")[-2000:])
            raise
        finally:
            stop_process(process)


def _wait_for_gateway(process: subprocess.Popen[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline().strip() if ready else ""
    if not line.isdigit():
        raise RuntimeError(f"the gateway process did not report its port (got {line!r})")
    base_url = f"http://127.0.0.1:{int(line)}/v1"
    health = base_url.removesuffix("/v1") + "/health"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        try:
            with opener.open(health, timeout=2) as response:
                if response.status == 200:
                    return base_url
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the gateway process did not become healthy")
        time.sleep(0.05)
