"""One worker process of the single-use confirmation test: resumes states read from stdin.

    python resume_worker.py <redis port> <redis password> <store: redis | memory>

Prints `{"ready": true}` once connected. Then, for each line holding a stored pending
state (`PendingConfirmation.to_dict()` as JSON), it approves and resumes it with
`send_email`, a tool that counts its runs in Redis (`INCR runs:<state id>`), and prints
`{"outcome": "completed" | "<error class name>"}`. It exits at end of input.
"""

from __future__ import annotations

import json
import os
import sys

import redis  # type: ignore[import-not-found, unused-ignore]  # optional

from llmport.testing import FakeLLM
from llmport.tools import (
    ConfirmationError,
    ConfirmationGuard,
    InMemoryClaimStore,
    PendingConfirmation,
    RedisClaimStore,
    resume_tools,
    tool,
)


def main() -> None:
    """Serve states from stdin until it closes."""
    port, password, store_name = sys.argv[1], sys.argv[2], sys.argv[3]
    client = redis.Redis(host="127.0.0.1", port=int(port), password=password)
    client.ping()
    store = RedisClaimStore(client) if store_name == "redis" else InMemoryClaimStore()
    guard = ConfirmationGuard(store=store)
    state_id = ""

    @tool(requires_confirmation=True)
    def send_email(to: str, body: str) -> str:
        """Send an email."""
        client.incr(f"runs:{state_id}")
        return f"sent to {to}"

    print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        pending = PendingConfirmation.from_dict(json.loads(line))
        state_id = pending.id
        try:
            result = resume_tools(FakeLLM(["Sent."]), pending, [send_email], True, guard=guard)
        except ConfirmationError as exc:
            outcome = type(exc).__name__
        else:
            outcome = result.status.value
        print(json.dumps({"outcome": outcome}), flush=True)
    client.close()


if __name__ == "__main__":
    main()
