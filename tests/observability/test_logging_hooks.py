"""LoggingHooks: one structured line per call and per retry; nothing sensitive in it."""

from __future__ import annotations

import logging

import pytest

from llmport import ErrorKind, RetryPolicy
from llmport.observability import LoggingHooks
from llmport.testing import FakeLLM

USER = [{"role": "user", "content": "secret question"}]


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="llmport.calls")
    return caplog


def calls(records: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in records.records if r.name == "llmport.calls"]


def test_success_is_logged_with_tokens_status_and_metadata(
    records: pytest.LogCaptureFixture,
) -> None:
    llm = FakeLLM(["answer"], hooks=[LoggingHooks()])
    llm.chat_completions(USER, metadata={"tenant_id": "t-7"})
    (record,) = calls(records)
    fields = record.__dict__
    assert record.levelno == logging.INFO
    assert (fields["provider_id"], fields["model"], fields["status"]) == (
        "fake",
        "fake-model",
        "success",
    )
    assert (fields["prompt_tokens"], fields["completion_tokens"], fields["total_tokens"]) == (
        10,
        5,
        15,
    )
    assert (fields["attempts"], fields["error_kind"]) == (1, None)
    assert fields["metadata"] == {"tenant_id": "t-7"}
    assert isinstance(fields["latency_ms"], float)


def test_retries_and_failures_are_logged(records: pytest.LogCaptureFixture) -> None:
    llm = FakeLLM(
        [ErrorKind.SERVER, ErrorKind.AUTH],
        hooks=[LoggingHooks()],
        retry=RetryPolicy(initial_backoff=0),
    )
    llm.chat_completions(USER)
    retry, failure = calls(records)
    assert (retry.__dict__["attempt"], retry.__dict__["error_kind"]) == (1, "server")
    assert failure.levelno == logging.WARNING
    assert (failure.__dict__["status"], failure.__dict__["error_kind"]) == ("error", "auth")
    assert failure.__dict__["attempts"] == 2


def test_prompts_and_answers_are_never_logged(records: pytest.LogCaptureFixture) -> None:
    FakeLLM(["secret answer"], hooks=[LoggingHooks()]).chat_completions(USER)
    (record,) = calls(records)
    assert "secret" not in record.getMessage()
    assert all("secret" not in str(value) for value in record.__dict__.values())


def test_custom_logger_and_levels(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="my.app")
    hooks = LoggingHooks(logging.getLogger("my.app"), level=logging.DEBUG)
    FakeLLM(hooks=[hooks]).chat_completions(USER)
    assert [(r.name, r.levelno) for r in caplog.records if r.name == "my.app"] == [
        ("my.app", logging.DEBUG)
    ]
