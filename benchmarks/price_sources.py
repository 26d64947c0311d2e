"""Price sources compared: litellm's bundled price map vs the `genai-prices` package.

Each measurement runs in a fresh interpreter with llmport already imported: the
time and memory (RSS growth) of the first lookup, which loads the source, then the
cost of one more lookup, and which of a list of current models each source prices.
`genai-prices` is not a dependency of llmport; install it to run this
(`pip install genai-prices`).

    python benchmarks/price_sources.py
"""

from __future__ import annotations

import json
import subprocess
import sys

#: Current models as apps name them: bare, and with litellm's provider prefix.
MODELS = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "o3-mini",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "claude-opus-4-1",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "mistral-large-latest",
    "deepseek-chat",
    "openai/gpt-4o",
    "anthropic/claude-sonnet-4-5",
    "gemini/gemini-2.5-pro",
    "mistral/mistral-large-latest",
    "groq/llama-3.3-70b-versatile",
)

_CHILD = r"""
import json, resource, sys, time
source, models = sys.argv[1], json.loads(sys.argv[2])
def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
if source == "litellm":
    from llmport import cost
    def lookup(model):
        return cost.table_prices(model)
else:
    import importlib
    def lookup(model):
        genai_prices = importlib.import_module("genai_prices")
        usage = genai_prices.Usage(input_tokens=1000, output_tokens=100)
        try:
            return genai_prices.calc_price(usage, model)
        except LookupError:
            return None
before = rss_kb()
began = time.perf_counter()
first = lookup(models[0])
load_ms = (time.perf_counter() - began) * 1000
grown_mb = (rss_kb() - before) / 1024
n = 2000
began = time.perf_counter()
for _ in range(n):
    lookup(models[0])
lookup_us = (time.perf_counter() - began) / n * 1e6
covered = [m for m in models if lookup(m) is not None]
print(json.dumps({"load_ms": load_ms, "rss_mb": grown_mb, "lookup_us": lookup_us,
                  "covered": covered}))
"""


def measure(source: str) -> dict[str, object]:
    """Run one source's measurement in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, source, json.dumps(MODELS)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def main() -> None:
    for source in ("litellm", "genai-prices"):
        result = measure(source)
        covered = result["covered"]
        assert isinstance(covered, list)
        missing = sorted(set(MODELS) - set(covered))
        print(
            f"{source:13} first lookup {result['load_ms']:.0f} ms, RSS +{result['rss_mb']:.1f} MB, "
            f"then {result['lookup_us']:.2f} us/lookup; prices {len(covered)}/{len(MODELS)} "
            f"common models; missing: {', '.join(missing) or 'none'}"
        )


if __name__ == "__main__":
    main()
