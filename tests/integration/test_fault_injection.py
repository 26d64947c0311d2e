"""2,000 requests at concurrency 64 through 20% injected faults, on loopback only.

The gateway's `chaos-<seed>` model answers 5% each of 429 (Retry-After: 0), 503,
connection resets and stalls; the rest echo the prompt. Every request must end in
exactly one SUCCESS or typed ERROR response, none may raise, be lost or be answered
with another request's text, no request may take more attempts than the policy
allows, and the Prometheus counters must add up to the requests made.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from llmport import ErrorKind, LLMResponse, LLMResponseStatus, OpenAICompatible, RetryPolicy
from llmport.observability.prometheus import PrometheusHooks
from llmport.testing import LocalGateway

pytestmark = pytest.mark.integration

REQUESTS = 2000
CONCURRENCY = 64
MODEL = "chaos-20260101"
POLICY = RetryPolicy(
    max_attempts=4, initial_backoff=0.001, max_backoff=0.01, deadline=30, max_retry_after=1
)
#: Hard bound on the whole run, far above what it needs (a few seconds on two cores).
TIME_LIMIT = 120


def metric_totals(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    """Sum of each counter by (sample name, status label)."""
    totals: dict[tuple[str, str], float] = {}
    text = generate_latest(registry).decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, sample.labels.get("status", ""))
            totals[key] = totals.get(key, 0) + sample.value
    return totals


async def run_all(llm: OpenAICompatible) -> list[LLMResponse | BaseException]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(number: int) -> LLMResponse:
        async with gate:
            return await llm.achat_completions(
                [{"role": "user", "content": f"request {number}"}],
                metadata={"request_id": number},
            )

    calls = asyncio.gather(*(one(n) for n in range(REQUESTS)), return_exceptions=True)
    return await asyncio.wait_for(calls, TIME_LIMIT)


async def test_every_request_ends_in_exactly_one_typed_response() -> None:
    registry = CollectorRegistry()
    started = time.monotonic()
    async with LocalGateway() as gateway:
        llm = OpenAICompatible(
            chat_model=MODEL,
            base_url=gateway.base_url,
            timeout=0.5,  # how long a stalled request holds its slot
            retry=POLICY,
            max_connections=CONCURRENCY,
            hooks=[PrometheusHooks(registry)],
        )
        async with llm:
            results = await run_all(llm)
        received = sum(1 for r in gateway.requests if r.body and r.body.get("model") == MODEL)
    elapsed = time.monotonic() - started

    raised = [r for r in results if not isinstance(r, LLMResponse)]
    assert raised == []
    responses = [r for r in results if isinstance(r, LLMResponse)]
    assert len(responses) == REQUESTS

    successes = [r for r in responses if r.status is LLMResponseStatus.SUCCESS]
    errors = [r for r in responses if r.status is LLMResponseStatus.ERROR]
    assert len(successes) + len(errors) == REQUESTS
    for number, response in enumerate(responses):
        assert 1 <= response.attempts <= POLICY.max_attempts
        if response.ok:
            assert response.content == f"request {number}"  # not lost, not someone else's
            assert response.error is None
        else:
            assert response.error is not None
            assert response.error.kind in POLICY.retry_on

    attempts = sum(r.attempts for r in responses)
    assert received == attempts  # each attempt reached the gateway exactly once
    assert attempts - REQUESTS > REQUESTS // 10  # faults were injected and retried
    assert len(successes) > REQUESTS * 0.98

    totals = metric_totals(registry)
    assert totals["llmport_requests_total", "success"] == len(successes)
    assert totals.get(("llmport_requests_total", "error"), 0) == len(errors)
    assert totals["llmport_request_latency_seconds_count", "success"] == len(successes)
    assert totals["llmport_retries_total", ""] == attempts - REQUESTS
    assert elapsed < TIME_LIMIT
    assert {ErrorKind(kind) for kind in ("rate_limit", "server")} <= POLICY.retry_on
