"""RetryPolicy against the local gateway's scripted failures, with a fake clock.

Sleeping is replaced by a clock that jumps forward, so backoff, Retry-After and the
deadline are checked exactly without slowing the suite.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from llmport import BaseLLM, ErrorKind, LiteLLM, OpenAICompatible, RetryPolicy
from llmport.testing import LocalGateway

pytestmark = pytest.mark.integration

USER = [{"role": "user", "content": "hi"}]


class FakeClock:
    """Stands in for the `time` module inside `llmport.base`; sleeping moves it forward."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_counters(gateway: LocalGateway) -> None:
    gateway.clear()


@pytest.fixture
def clock(mocker: Any) -> FakeClock:
    fake = FakeClock()
    mocker.patch("llmport.base.time", fake)
    mocker.patch.object(BaseLLM, "_sleep", lambda self, seconds: fake.sleep(seconds))
    mocker.patch.object(BaseLLM, "_asleep", lambda self, seconds: fake.asleep(seconds))
    return fake


def llm(gateway: LocalGateway, model: str, **retry: Any) -> OpenAICompatible:
    policy = RetryPolicy(**{"initial_backoff": 0.5, "jitter": False, **retry})
    return OpenAICompatible(chat_model=model, base_url=gateway.base_url, retry=policy, timeout=5)


def sent(gateway: LocalGateway, model: str) -> int:
    return sum(1 for r in gateway.requests if r.body and r.body.get("model") == model)


def test_server_errors_are_retried_until_success(gateway: LocalGateway, clock: FakeClock) -> None:
    with llm(gateway, "flaky-2-503") as client:
        response = client.chat_completions(USER)
    assert (response.ok, response.attempts) == (True, 3)
    assert sent(gateway, "flaky-2-503") == 3
    assert clock.sleeps == [0.5, 1.0]


async def test_rate_limits_are_retried_on_the_async_path(
    gateway: LocalGateway, clock: FakeClock
) -> None:
    async with llm(gateway, "flaky-2-429") as client:
        response = await client.achat_completions(USER)
    assert (response.ok, response.attempts) == (True, 3)
    assert clock.sleeps == [0.5, 1.0]  # Retry-After: 0 never shortens the backoff


def test_reset_connections_are_retried(gateway: LocalGateway, clock: FakeClock) -> None:
    with llm(gateway, "flaky-1-reset") as client:
        response = client.chat_completions(USER)
    assert (response.ok, response.attempts) == (True, 2)


async def test_stalls_time_out_and_are_retried(gateway: LocalGateway) -> None:
    client = OpenAICompatible(
        chat_model="stall",
        base_url=gateway.base_url,
        timeout=0.1,
        retry=RetryPolicy(max_attempts=2, initial_backoff=0),
    )
    async with client:
        response = await client.achat_completions(USER)
    assert response.error is not None
    assert (response.error.kind, response.attempts) == (ErrorKind.TIMEOUT, 2)


@pytest.mark.parametrize(
    ("model", "kind"),
    [
        ("error-401", ErrorKind.AUTH),
        ("error-403", ErrorKind.PERMISSION),
        ("error-400", ErrorKind.INVALID_REQUEST),
        ("error-400-context", ErrorKind.CONTEXT_LENGTH),
        ("error-429-quota", ErrorKind.QUOTA),
    ],
)
def test_permanent_failures_are_never_retried(
    gateway: LocalGateway, clock: FakeClock, model: str, kind: ErrorKind
) -> None:
    with llm(gateway, model, max_attempts=5) as client:
        response = client.chat_completions(USER)
    assert response.error is not None
    assert (response.error.kind, response.attempts) == (kind, 1)
    assert clock.sleeps == []
    assert sent(gateway, model) == 1


def test_retry_after_is_honoured(gateway: LocalGateway, clock: FakeClock) -> None:
    with llm(gateway, "error-429-retry-3", max_attempts=2) as client:
        response = client.chat_completions(USER)
    assert response.attempts == 2
    assert clock.sleeps == [3.0]


def test_retry_after_past_the_deadline_ends_the_call(
    gateway: LocalGateway, clock: FakeClock
) -> None:
    with llm(gateway, "error-429-retry-3", deadline=2) as client:
        response = client.chat_completions(USER)
    assert response.error is not None
    assert (response.error.kind, response.error.retry_after) == (ErrorKind.RATE_LIMIT, 3.0)
    assert (response.attempts, clock.sleeps) == (1, [])


def test_deadline_bounds_the_whole_call(gateway: LocalGateway, clock: FakeClock) -> None:
    with llm(gateway, "error-503", initial_backoff=1, max_attempts=10, deadline=4) as client:
        response = client.chat_completions(USER)
    assert clock.sleeps == [1.0, 2.0]  # the next wait (4 s) would cross the deadline
    assert response.attempts == 3


def test_backoff_is_exponential_jittered_and_capped(
    gateway: LocalGateway, clock: FakeClock
) -> None:
    retry = {"initial_backoff": 1, "max_backoff": 3, "max_attempts": 6, "jitter": True}
    with llm(gateway, "error-503", **retry) as client:
        client.chat_completions(USER)
    assert len(clock.sleeps) == 5
    for attempt, slept in enumerate(clock.sleeps, start=1):
        assert 0 <= slept <= min(3, 2 ** (attempt - 1))


def test_every_attempt_is_logged_with_structured_fields(
    gateway: LocalGateway, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="llmport")
    with llm(gateway, "flaky-2-503") as client:
        client.chat_completions(USER, metadata={"request_id": "r-1"})
    records = [r for r in caplog.records if hasattr(r, "attempt")]
    assert [r.__dict__["attempt"] for r in records] == [1, 2, 3]
    for record in records:
        fields = record.__dict__
        assert (fields["provider_id"], fields["model"]) == ("openai_compatible", "flaky-2-503")
        assert fields["metadata"] == {"request_id": "r-1"}
        assert isinstance(fields["latency_ms"], float)
    assert [r.__dict__["error_kind"] for r in records] == ["server", "server", None]


def test_litellm_path_uses_the_same_single_retry_layer(
    gateway: LocalGateway, clock: FakeClock
) -> None:
    client = LiteLLM(
        chat_model="openai/flaky-1-503",
        api_base=gateway.base_url,
        api_key="sk-local-test",
        retry=RetryPolicy(initial_backoff=0.5, jitter=False),
    )
    response = client.chat_completions(USER)
    assert (response.ok, response.attempts) == (True, 2)
    assert sent(gateway, "flaky-1-503") == 2  # litellm itself did not retry
