"""Child process of `memory.py`: import one client, make N calls, report memory as JSON.

    python benchmarks/_memory_child.py {openai_compatible|litellm_provider|litellm} BASE_URL N

Self-contained on purpose (it does not import `_common`), so the process holds only
what the measured client needs.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from collections.abc import Callable
from typing import Any

MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": "Say hello."}]


def current_mb() -> float:
    """Resident set size now (not the peak)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def make_call(variant: str, base_url: str) -> Callable[[], bool]:
    """Import what `variant` needs and return a function that makes one call."""
    if variant == "openai_compatible":
        from llmport.providers.openai_compatible import OpenAICompatible

        fast = OpenAICompatible(chat_model="fixed", base_url=base_url, api_key=None)
        return lambda: bool(fast.chat_completions(MESSAGES).status)
    if variant == "litellm_provider":
        from llmport import LiteLLM

        wrapped = LiteLLM(chat_model="openai/fixed", api_base=base_url, api_key="sk-bench")
        return lambda: bool(wrapped.chat_completions(MESSAGES).status)
    if variant == "litellm":
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        import litellm

        litellm.suppress_debug_info = True
        kwargs: dict[str, Any] = {
            "model": "openai/fixed",
            "messages": MESSAGES,
            "api_base": base_url,
            "api_key": "sk-bench",
            "num_retries": 0,
            "drop_params": True,
            "timeout": 60,
        }
        return lambda: bool(litellm.completion(**kwargs).choices[0].message.content)
    raise SystemExit(f"unknown variant {variant!r}")


def main() -> None:
    variant, base_url, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
    call = make_call(variant, base_url)
    imported = current_mb()
    if not call():
        raise SystemExit("the first call failed")
    first = current_mb()
    failures = sum(not call() for _ in range(calls - 1))
    report = {
        "imported_mb": imported,
        "first_call_mb": first,
        "end_mb": current_mb(),
        "peak_mb": peak_mb(),
        "failures": failures,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
