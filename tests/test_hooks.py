"""Hooks observe calls; a broken hook never breaks a request; metadata reaches them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from llmport import ErrorKind, LLMResponse, RetryPolicy
from llmport.base import BaseLLM, ChatRequest
from llmport.hooks import LLMHooks, add_hooks, global_hooks, remove_hooks
from llmport.testing import FakeLLM

USER = [{"role": "user", "content": "hi"}]


class Recorder(LLMHooks):
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def on_request(self, llm: BaseLLM, request: ChatRequest) -> None:
        self.events.append(("request", request.metadata.get("tenant_id")))

    def on_retry(
        self, llm: BaseLLM, request: ChatRequest, failed: LLMResponse, attempt: int, delay: float
    ) -> None:
        assert failed.error is not None
        self.events.append(("retry", (attempt, failed.error.kind.value)))

    def on_response(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        self.events.append(("response", response.attempts))

    def on_error(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        assert response.error is not None
        self.events.append(("error", response.error.kind.value))


class Broken(LLMHooks):
    def on_request(self, llm: BaseLLM, request: ChatRequest) -> None:
        raise RuntimeError("hook bug")

    def on_response(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        raise RuntimeError("hook bug")


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    hooks = Recorder()
    yield hooks
    remove_hooks(hooks)


def test_hooks_see_request_retry_and_response(recorder: Recorder) -> None:
    llm = FakeLLM([ErrorKind.SERVER, "ok"], hooks=[recorder], retry=RetryPolicy(initial_backoff=0))
    llm.chat_completions(USER, metadata={"tenant_id": "t-1"})
    assert recorder.events == [("request", "t-1"), ("retry", (1, "server")), ("response", 2)]


async def test_hooks_see_final_errors_async(recorder: Recorder) -> None:
    llm = FakeLLM([ErrorKind.AUTH], hooks=[recorder])
    await llm.achat_completions(USER)
    assert recorder.events == [("request", None), ("error", "auth")]


def test_global_hooks_apply_to_every_instance(recorder: Recorder) -> None:
    add_hooks(recorder)
    assert recorder in global_hooks()
    FakeLLM().chat_completions(USER)
    FakeLLM().chat_completions(USER)
    assert [name for name, _ in recorder.events].count("response") == 2


def test_a_raising_hook_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="llmport.hooks")
    response = FakeLLM(["fine"], hooks=[Broken()]).chat_completions(USER)
    assert response.content == "fine"
    assert sum("hook Broken.on_" in r.getMessage() for r in caplog.records) == 2


def test_metadata_reaches_the_request_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llmport")
    llm = FakeLLM()
    llm.chat_completions(USER, metadata={"request_id": "r-9"})
    assert llm.last_request.metadata == {"request_id": "r-9"}
    assert "metadata" not in llm.last_request.params
    assert any(getattr(r, "metadata", None) == {"request_id": "r-9"} for r in caplog.records)


@pytest.mark.parametrize("metadata", ["tenant", 42, {"a"}, "", [], 0, False, ()])
def test_metadata_must_be_a_dict(metadata: object) -> None:
    llm = FakeLLM()
    with pytest.raises(ValueError, match="metadata must be a dict"):
        llm.chat_completions(USER, metadata=metadata)  # type: ignore[arg-type]
    assert llm.call_count == 0


def test_absent_metadata_is_an_empty_dict() -> None:
    llm = FakeLLM()
    llm.chat_completions(USER, metadata=None)  # type: ignore[arg-type]
    assert llm.last_request.metadata == {}
