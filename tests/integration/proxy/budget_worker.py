"""A worker process that spends one tenant's budget kept in Redis (a Celery-style worker).

    python budget_worker.py '{"base_url": ..., "redis_url": ..., "usd": ..., "calls": 6}'

Makes `calls` calls, one after another, for tenant "acme" through an OpenAICompatible
provider with a Redis-backed Budget, then prints one JSON line: every call's outcome
(ok, error kind, cost).
"""

from __future__ import annotations

import json
import sys

from llmport import Budget, OpenAICompatible, RetryPolicy


def main() -> None:
    settings = json.loads(sys.argv[1])
    budget = Budget(usd=settings["usd"], per="day", redis_url=settings["redis_url"])
    llm = OpenAICompatible(
        chat_model="chunks-4",
        base_url=settings["base_url"],
        input_cost_per_token=settings["input_cost_per_token"],
        output_cost_per_token=settings["output_cost_per_token"],
        retry=RetryPolicy.never(),
        budget=budget,
    )
    outcomes = []
    for _ in range(settings["calls"]):
        response = llm.chat_completions(
            [{"role": "user", "content": "say something"}], metadata={"tenant_id": "acme"}
        )
        kind = response.error.kind.value if response.error else None
        outcomes.append({"ok": response.ok, "kind": kind, "cost": response.cost})
    llm.close()
    print(json.dumps(outcomes), flush=True)


if __name__ == "__main__":
    main()
