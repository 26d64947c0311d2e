"""Import cost: `import llmport; llmport.get_default_llm()` vs `import litellm`.

Each command runs in a fresh interpreter; the parent measures its wall time and
reads the child's own peak RSS and CPU time with `wait4`. Rounds interleave the
commands. Two cache states are measured:

- bytecode cached (.pyc written once to a private PYCACHE_DIR): an installed package;
- no .pyc for site-packages (PYTHONDONTWRITEBYTECODE=1 and a venv installed without
  them, as here): llmport, litellm and their dependencies compile from source each time.

Also checked: litellm is absent from `sys.modules` after the llmport command. The
biggest imports under llmport are listed from `python -X importtime`.
Goal: llmport's wall time <= 0.10x litellm's (bytecode cached).

    python benchmarks/import_cost.py [--quick]
"""

from __future__ import annotations

import functools
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field

from _common import (
    ChildRun,
    child_env,
    goal,
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

LLMPORT_CODE = "import llmport; llmport.get_default_llm()"
LITELLM_CODE = "import litellm"
BASELINE_CODE = "pass"
COMMANDS = {
    "python -c 'pass' (interpreter)": BASELINE_CODE,
    "import llmport; get_default_llm()": LLMPORT_CODE,
    "import litellm": LITELLM_CODE,
}
LLMPORT = "import llmport; get_default_llm()"
LITELLM = "import litellm"


def cached_env() -> dict[str, str]:
    return child_env(LITELLM_CHAT_MODEL="openai/x")


def as_installed_env() -> dict[str, str]:
    """This venv as it is: PYTHONDONTWRITEBYTECODE=1 and no .pyc for site-packages, so
    llmport, litellm and their dependencies compile from source (the stdlib has .pyc)."""
    env = child_env(LITELLM_CHAT_MODEL="openai/x", PYTHONDONTWRITEBYTECODE="1")
    del env["PYTHONPYCACHEPREFIX"]
    return env


def run(code: str, env: dict[str, str]) -> ChildRun:
    return run_child([sys.executable, "-c", code], env)


def measure(env: dict[str, str], rounds: int) -> dict[str, list[ChildRun]]:
    variants = {name: functools.partial(run, code, env) for name, code in COMMANDS.items()}
    return interleaved_rounds(variants, rounds)


def report(title: str, results: dict[str, list[ChildRun]]) -> list[float]:
    """Print one cache state's table and ratios; return the per-round wall-time ratios."""
    print(title)
    rows = []
    for name, runs in results.items():
        walls = [r.wall_s * 1000 for r in runs]
        rows.append(
            [
                name,
                f"{median(walls):.0f}",
                spread(walls),
                f"{median([r.cpu_s * 1000 for r in runs]):.0f}",
                f"{median([r.maxrss_mb for r in runs]):.1f}",
            ]
        )
    print_table(["command", "wall ms", "rounds", "cpu ms", "peak RSS MB"], rows)
    wall = round_ratios(*([r.wall_s for r in results[n]] for n in (LLMPORT, LITELLM)))
    rss = round_ratios(*([r.maxrss_mb for r in results[n]] for n in (LLMPORT, LITELLM)))
    base = [r.wall_s for r in results["python -c 'pass' (interpreter)"]]
    net = round_ratios(
        [r.wall_s - b for r, b in zip(results[LLMPORT], base, strict=True)],
        [r.wall_s - b for r, b in zip(results[LITELLM], base, strict=True)],
    )
    print("llmport / litellm, median (min..max) of per-round ratios:")
    print(f"wall {ratio_range(wall, 3)}, wall net of interpreter startup {ratio_range(net, 3)},")
    print(f"peak RSS {ratio_range(rss, 3)}\n")
    return wall


_IN_PROCESS = """\
import sys, time
began = time.perf_counter()
import llmport
imported = time.perf_counter()
llmport.get_default_llm()
built = time.perf_counter()
print((imported - began) * 1000, (built - imported) * 1000, "litellm" in sys.modules)
"""


def check_in_process() -> bool:
    """Time the import and the first `get_default_llm()` inside the child; is litellm loaded?"""
    output = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS],
        env=cached_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    import_ms, build_ms, loaded = float(output[0]), float(output[1]), output[2] == "True"
    print(f"inside the llmport child: import llmport {import_ms:.0f} ms, ", end="")
    print(f"get_default_llm() {build_ms:.0f} ms")
    print(f"litellm in sys.modules after the llmport command: {loaded} -> ", end="")
    print("LAZY IMPORT BROKEN" if loaded else "the lazy import holds")
    print()
    return not loaded


@dataclass
class ImportNode:
    """One module in the `-X importtime` tree; `cumulative_us` includes its children."""

    name: str
    cumulative_us: int
    children: list[ImportNode] = field(default_factory=list)


def import_tree(stderr: str) -> list[ImportNode]:
    """Rebuild the import tree from `-X importtime` output (children print before parents)."""
    pending: dict[int, list[ImportNode]] = defaultdict(list)
    for line in stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue  # the header line, or something that is not importtime output
        level = (len(fields[2]) - len(fields[2].lstrip()) - 1) // 2
        node = ImportNode(fields[2].strip(), int(fields[1]), pending.pop(level + 1, []))
        pending[level].append(node)
    return pending[0]


def import_breakdown(runs: int = 3, depth: int = 4, share: float = 0.03) -> None:
    """Print the import tree of the llmport command, modules above `share` of the total,
    from the `-X importtime` run with the median total of `runs` runs."""
    trees = []
    for _ in range(runs):
        stderr = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", LLMPORT_CODE],
            env=cached_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stderr
        roots = import_tree(stderr)
        trees.append((sum(node.cumulative_us for node in roots), roots))
    total, roots = sorted(trees, key=lambda tree: tree[0])[runs // 2]
    rows: list[list[str]] = []

    def visit(node: ImportNode, level: int) -> None:
        if level >= depth or node.cumulative_us < share * total:
            return
        us = node.cumulative_us
        rows.append(["  " * level + node.name, f"{us / 1000:.1f}", f"{100 * us / total:.0f}%"])
        for child in sorted(node.children, key=lambda child: -child.cumulative_us):
            visit(child, level + 1)

    for root in roots:
        visit(root, 0)
    print(f"import tree of `{LLMPORT_CODE}` (python -X importtime, bytecode")
    print(f"cached, the median of {runs} runs: {total / 1000:.0f} ms in all, importtime's overhead")
    print(f"included; cumulative times; modules under {share:.0%} of the total left out)")
    print_table(["module", "ms", "share"], rows)


def main() -> None:
    args = parse_args(__doc__ or "")
    cached_rounds, uncached_rounds = (3, 1) if args.quick else (7, 3)
    print_header("import cost: llmport vs litellm", args.quick)
    for code in COMMANDS.values():  # fill the bytecode cache
        run(code, cached_env())
    ratio = report(
        f"bytecode cached, {cached_rounds} interleaved rounds",
        measure(cached_env(), cached_rounds),
    )
    report(
        f"no .pyc for site-packages (compiled from source), {uncached_rounds} interleaved rounds",
        measure(as_installed_env(), uncached_rounds),
    )
    import_breakdown()
    lazy = check_in_process()
    goal("import_wall_vs_litellm", ratio, 0.10, at_most=True)
    print(f"goal litellm_not_imported: measured {lazy} (target True) -> ", end="")
    print("met" if lazy else "not met")


if __name__ == "__main__":
    main()
