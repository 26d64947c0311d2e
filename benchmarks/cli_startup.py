"""CLI start-up: wall time of `llmport` commands, each in a fresh interpreter.

Commands that do not call litellm should cost about as much as `import llmport`;
`chat` through the LiteLLM provider pays for importing litellm. Each command runs
against the local gateway on 127.0.0.1 (started in a child process), with bytecode
cached. Rounds interleave the commands, and the installs when several are given:
`--llmport LABEL=PATH` (repeatable) times those installs' `llmport` scripts side by
side, e.g. a venv of an older commit against this one, for a before/after comparison.

    python benchmarks/cli_startup.py [--quick] [--llmport before=/old/venv/bin/llmport ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import (
    child_env,
    gateway_process,
    interleaved_rounds,
    median,
    print_header,
    print_table,
    run_child,
    spread,
)


def commands(base_url: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    direct = {
        "DEFAULT_LLM": "openai_compatible",
        "OPENAI_COMPATIBLE_BASE_URL": base_url,
        "OPENAI_COMPATIBLE_CHAT_MODEL": "echo",
    }
    through_litellm = {
        "DEFAULT_LLM": "litellm",
        "LITELLM_CHAT_MODEL": "openai/echo",
        "LITELLM_API_BASE": base_url,
        "LITELLM_API_KEY": "sk-local",
    }
    return {
        "llmport --help": (["--help"], {}),
        "llmport config --llm fake": (["config", "--llm", "fake"], {}),
        "llmport ping (openai_compatible)": (["ping"], direct),
        "llmport chat hi (openai_compatible)": (["chat", "hi"], direct),
        "llmport chat hi (litellm)": (["chat", "hi"], through_litellm),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of 7")
    parser.add_argument(
        "--llmport", action="append", default=[], help="LABEL=PATH of an llmport script"
    )
    args = parser.parse_args()
    scripts = dict(item.split("=", 1) for item in args.llmport) or {
        "this": str(Path(sys.executable).with_name("llmport"))
    }
    rounds = 2 if args.quick else 7
    print_header("CLI start-up", args.quick)
    for label, script in scripts.items():
        print(f"{label}: {script}")
    with gateway_process() as gateway:
        runs = {
            (name, label): (
                lambda argv=argv, env=env, script=script: run_child(
                    [script, *argv], child_env(**env)
                )
            )
            for name, (argv, env) in commands(gateway.base_url).items()
            for label, script in scripts.items()
        }
        results = interleaved_rounds(runs, rounds)
    rows = []
    for (name, label), measured in results.items():
        walls = [run.wall_s * 1000 for run in measured]
        rows.append([f"`{name}`", label, f"{median(walls):,.0f}", spread(walls)])
        print(f"result {name} [{label}]: {median(walls):.0f} ms")
    print_table(["command", "install", "wall ms (median)", "rounds"], rows)


if __name__ == "__main__":
    main()
