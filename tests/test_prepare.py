"""The first async call never blocks the event loop, and `prepare()` warms a provider up.

A deliberately slow set-up (a provider's `_prepare`, or the first `import litellm`)
finishes only once a concurrent task has ticked several times: that can only happen
if the set-up runs off the loop thread. No test here measures time.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.abc
import importlib.machinery
import pickle
import sys
import threading
import types
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

import llmport.providers.litellm as litellm_provider
from llmport import BaseLLM, FallbackLLM, LLMResponse, arun_tools
from llmport.providers.litellm import LiteLLM
from llmport.testing import FakeLLM
from llmport.testing.fake import completion_payload

USER = [{"role": "user", "content": "hi"}]
TICKS = 5
#: A bound for a broken build only: a blocked loop fails the test instead of hanging it.
SAFETY_SECONDS = 30


class LoopWatch:
    """Counts the ticks of a task running beside the call under test."""

    def __init__(self) -> None:
        self.ticks = 0
        self.loop_thread: int | None = None
        self.enough_ticks = threading.Event()
        self.setup_threads: list[int] = []

    async def tick(self, until: asyncio.Event) -> None:
        self.loop_thread = threading.get_ident()
        while not until.is_set():
            self.ticks += 1
            if self.ticks >= TICKS:
                self.enough_ticks.set()
            await asyncio.sleep(0)

    def slow_setup(self) -> None:
        """The slow part of a set-up: it waits for the loop to tick, as a long import would."""
        self.setup_threads.append(threading.get_ident())
        if not self.enough_ticks.wait(SAFETY_SECONDS):
            raise AssertionError("the event loop did not run while the provider was set up")

    async def run(self, call: Callable[[], Awaitable[object]]) -> object:
        done = asyncio.Event()
        ticker = asyncio.create_task(self.tick(done))
        await asyncio.sleep(0)  # let the ticker start and note the loop's thread
        try:
            return await call()
        finally:
            done.set()
            await ticker


class SlowSetUpLLM(FakeLLM):
    """A FakeLLM whose one-time set-up is slow and blocking, like importing a big SDK."""

    def __init__(self, watch: LoopWatch, script: Sequence[Any] = ()) -> None:
        super().__init__(list(script))
        self.watch = watch
        self.setups = 0

    def _prepare(self) -> None:
        self.setups += 1
        self.watch.slow_setup()


async def read_stream(llm: BaseLLM) -> object:
    async with llm.astream(USER) as stream:
        return await stream.get_response()


ENTRY_POINTS: dict[str, Callable[[BaseLLM], Awaitable[object]]] = {
    "achat_completions": lambda llm: llm.achat_completions(USER),
    "astream": read_stream,
    "fallback achat_completions": lambda llm: FallbackLLM([llm]).achat_completions(USER),
    "fallback astream": lambda llm: read_stream(FallbackLLM([llm])),
    "arun_tools": lambda llm: arun_tools(llm, USER, []),
    "aprepare": lambda llm: llm.aprepare(),
    "fallback aprepare": lambda llm: FallbackLLM([llm]).aprepare(),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_a_slow_first_set_up_does_not_block_the_event_loop(entry: str) -> None:
    watch = LoopWatch()
    llm = SlowSetUpLLM(watch, ["hello"])
    asyncio.run(watch.run(lambda: ENTRY_POINTS[entry](llm)))
    assert watch.ticks >= TICKS
    assert watch.setup_threads
    assert watch.loop_thread not in watch.setup_threads


def test_the_first_import_of_litellm_does_not_block_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watch = LoopWatch()
    install_slow_litellm(monkeypatch, watch)
    llm = LiteLLM(chat_model="openai/gpt-4o-mini", api_key="sk-test")
    response = asyncio.run(watch.run(lambda: llm.achat_completions(USER)))
    assert isinstance(response, LLMResponse)
    assert response.content == "hello"
    assert watch.ticks >= TICKS
    assert len(watch.setup_threads) == 1
    assert watch.loop_thread not in watch.setup_threads
    assert sys.modules["litellm"].calls == 1


def test_prepare_runs_the_set_up_once() -> None:
    watch = LoopWatch()
    watch.enough_ticks.set()
    llm = SlowSetUpLLM(watch, ["a", "b"])
    llm.prepare()
    llm.prepare()
    llm.chat_completions(USER)
    assert llm.setups == 1


def test_aprepare_runs_the_set_up_once_for_async_calls() -> None:
    watch = LoopWatch()
    watch.enough_ticks.set()
    llm = SlowSetUpLLM(watch, ["a", "b"])

    async def use() -> None:
        await llm.aprepare()
        await llm.achat_completions(USER)
        await llm.achat_completions(USER)

    asyncio.run(use())
    assert llm.setups == 1


def test_preparing_a_group_prepares_every_member() -> None:
    watch = LoopWatch()
    watch.enough_ticks.set()
    members = [SlowSetUpLLM(watch), SlowSetUpLLM(watch)]
    FallbackLLM(members).prepare()
    asyncio.run(FallbackLLM(members).aprepare())
    assert [member.setups for member in members] == [1, 1]


def test_a_set_up_that_fails_is_tried_again_on_the_next_call() -> None:
    class FlakySetUp(FakeLLM):
        attempts = 0

        def _prepare(self) -> None:
            self.attempts += 1
            if self.attempts == 1:
                raise ImportError("not yet")

    llm = FlakySetUp(["ok"])
    with pytest.raises(ImportError):
        llm.prepare()
    assert llm.chat_completions(USER).content == "ok"
    assert llm.attempts == 2


CONCURRENT_FIRST_CALLS = 12


def test_many_concurrent_first_calls_set_up_once() -> None:
    # Every call starts while the set-up is still waiting for the loop to tick, so
    # they all race for it; each gets its answer and the set-up runs only once.
    watch = LoopWatch()
    llm = SlowSetUpLLM(watch, ["a"] * CONCURRENT_FIRST_CALLS)

    async def many() -> list[LLMResponse]:
        return await asyncio.gather(
            *(llm.achat_completions(USER) for _ in range(CONCURRENT_FIRST_CALLS))
        )

    responses = asyncio.run(watch.run(many))
    assert isinstance(responses, list)
    assert [r.content for r in responses] == ["a"] * CONCURRENT_FIRST_CALLS
    assert llm.setups == 1
    assert watch.loop_thread not in watch.setup_threads


def test_prepare_from_several_threads_sets_up_once() -> None:
    watch = LoopWatch()
    llm = SlowSetUpLLM(watch)
    threads = [threading.Thread(target=llm.prepare) for _ in range(CONCURRENT_FIRST_CALLS)]
    for thread in threads:
        thread.start()
    watch.enough_ticks.set()  # every thread has started before the set-up may finish
    for thread in threads:
        thread.join()
    assert llm.setups == 1


def test_a_first_call_cancelled_during_set_up_leaves_the_next_call_working() -> None:
    watch = LoopWatch()
    llm = SlowSetUpLLM(watch, ["after the cancel"])

    async def cancel_then_retry() -> LLMResponse:
        first = asyncio.create_task(llm.achat_completions(USER))
        while not watch.setup_threads:  # the set-up has started in its thread
            await asyncio.sleep(0)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        watch.enough_ticks.set()
        return await llm.achat_completions(USER)

    response = asyncio.run(cancel_then_retry())
    assert response.content == "after the cancel"
    assert llm.setups == 1


class PlainLLM(BaseLLM):
    """A provider with nothing unpicklable of its own."""

    provider_name = "plain"

    def _complete(self, request: Any) -> Any:
        return completion_payload("plain", model=request.model, usage=None)


def test_a_prepared_provider_can_still_be_pickled_and_copied() -> None:
    llm = PlainLLM(chat_model="m")
    llm.prepare()
    for clone in (pickle.loads(pickle.dumps(llm)), copy.deepcopy(llm)):
        clone.prepare()
        assert clone.chat_completions(USER).content == "plain"


# --- a slow `import litellm` -------------------------------------------------------------


class _SlowLiteLLMFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves `import litellm` with a fake module, after a slow (loop-watching) import."""

    def __init__(self, watch: LoopWatch) -> None:
        self.watch = watch

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "litellm":
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        self.watch.slow_setup()
        module.calls = 0  # type: ignore[attr-defined]

        async def acompletion(**kwargs: Any) -> Any:
            module.calls += 1  # type: ignore[attr-defined]
            return completion_payload("hello", model=kwargs["model"], usage=None)

        module.acompletion = acompletion  # type: ignore[attr-defined]


def install_slow_litellm(monkeypatch: pytest.MonkeyPatch, watch: LoopWatch) -> None:
    """Make the next `import litellm` slow, as on a cold start; undone after the test."""
    # setitem first so that undoing restores the state before the test, also when litellm
    # was not imported yet (the fake the test imports must not stay in sys.modules).
    monkeypatch.setitem(sys.modules, "litellm", types.ModuleType("litellm"))
    monkeypatch.delitem(sys.modules, "litellm")
    monkeypatch.setattr(litellm_provider, "_configured", None, raising=False)
    monkeypatch.setattr(litellm_provider, "_litellm", None, raising=False)
    monkeypatch.setattr(sys, "meta_path", [_SlowLiteLLMFinder(watch), *sys.meta_path])
