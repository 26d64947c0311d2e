"""One worker process of the shared-routing-state test: a LiteLLMRouter driven over a pipe.

    python router_worker.py '<LiteLLMRouter settings as JSON>'

Builds the router (Redis settings come from the JSON or from REDIS_* variables), pins
litellm's rpm/tpm window to the minute named by the optional `pinned_minute` setting (an
ISO UTC time) so that a run cannot straddle two windows, makes one call to the group named
by the optional `warmup_model` setting so that later calls are not slowed by litellm's
lazy imports, and prints `{"ready": true}`. Then, for each line `{"model": "<group>",
"requests": n}` on stdin, it makes n calls one after the other and prints one JSON line:
a list of `{"ok", "attempts", "kind"}`. It exits at end of input.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from typing import Any

from llmport.providers.litellm_router import LiteLLMRouter

MESSAGES = [{"role": "user", "content": "hello"}]


def outcome(llm: LiteLLMRouter, model: str) -> dict[str, Any]:
    """One call, reduced to what the test checks."""
    response = llm.chat_completions(MESSAGES, model=model)
    error = response.error
    return {"ok": response.ok, "attempts": response.attempts, "kind": error and error.kind.value}


def pin_usage_window(minute: str) -> None:
    """Make usage-based routing count every call in the minute `minute` (ISO, UTC).

    litellm keys rpm/tpm counters by the current UTC minute, read through the
    `get_utc_datetime` name of its strategy module; the test decides that minute instead.
    """
    from litellm.router_strategy import lowest_tpm_rpm_v2

    if not callable(getattr(lowest_tpm_rpm_v2, "get_utc_datetime", None)):
        raise RuntimeError("this litellm has no lowest_tpm_rpm_v2.get_utc_datetime to pin")
    pinned = datetime.fromisoformat(minute).replace(tzinfo=timezone.utc)
    lowest_tpm_rpm_v2.get_utc_datetime = lambda: pinned  # type: ignore[attr-defined, unused-ignore]


def main() -> None:
    """Serve commands from stdin until it closes."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # whatever litellm prints goes to stderr
    settings = json.loads(sys.argv[1])
    warmup = settings.pop("warmup_model", None)
    pinned_minute = settings.pop("pinned_minute", None)
    llm = LiteLLMRouter(**settings)
    try:
        deployments = len(llm.router.model_list)  # imports litellm and builds the Router now
        if pinned_minute is not None:
            pin_usage_window(pinned_minute)
        if warmup is not None:
            outcome(llm, warmup)
        ready = {"ready": True, "pid": os.getpid(), "deployments": deployments}
        print(json.dumps(ready), file=replies)
        for line in sys.stdin:
            command = json.loads(line)
            results = [outcome(llm, command["model"]) for _ in range(command["requests"])]
            print(json.dumps(results), file=replies)
    finally:
        llm.close()


if __name__ == "__main__":
    main()
