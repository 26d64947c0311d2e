"""A remote budget store is never waited on past the call's deadline (`total_timeout`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmport._budget_charges
import llmport._deadline
import llmport.budget
from llmport import Budget, ErrorKind, LLMResponse
from llmport.base import ChatRequest
from llmport.budget import Window, store_wait
from llmport.testing import FakeLLM

USER = [{"role": "user", "content": "hi"}]
#: How long a blocked store holds a read at most, so a broken test cannot hang the suite.
SAFETY = 10.0


class RemoteStore:
    """A remote store whose reads wait for `release` (a hung Redis until it is set)."""

    remote = True

    def __init__(self, *, blocked: bool = False) -> None:
        self.release = threading.Event()
        if not blocked:
            self.release.set()
        self.reads = 0
        self.answered = 0

    def read(self, tenant: str, window: Window) -> tuple[float, int]:
        self.reads += 1
        self.release.wait(SAFETY)
        self.answered += 1
        return 0.0, 0

    def add(self, tenant: str, window: Window, usd: float, tokens: int) -> None:
        pass


@pytest.fixture
def hung() -> Iterator[RemoteStore]:
    store = RemoteStore(blocked=True)
    yield store
    store.release.set()


def request_due_in(seconds: float) -> ChatRequest:
    """A request whose deadline is `seconds` from now (negative: already passed)."""
    request = FakeLLM().build_request(USER)
    return replace(request, total_timeout=1.0, deadline=time.monotonic() + seconds)


def refused_kind(response: LLMResponse | None) -> ErrorKind | None:
    return None if response is None or response.error is None else response.error.kind


@given(
    timeout=st.floats(0, 5),
    now=st.floats(0, 1e6),
    left=st.floats(-10, 10),
)
def test_the_wait_for_a_store_never_passes_the_deadline_or_the_timeout(
    timeout: float, now: float, left: float
) -> None:
    deadline = now + left
    left = deadline - now  # what the store sees, rounding included
    wait = store_wait(timeout, deadline, now)
    assert 0 <= wait <= 2 * timeout  # a connect and a reply
    assert wait <= max(left, 0)


def test_a_call_with_no_time_left_is_refused_without_asking_the_store() -> None:
    store = RemoteStore()
    budget = Budget(usd=1, store=store)
    kind = refused_kind(budget.refuse(request_due_in(-0.5), "fake"))
    assert kind is ErrorKind.BUDGET_UNAVAILABLE
    assert store.reads == 0


def test_a_call_with_no_time_left_goes_ahead_unchecked_when_failing_open() -> None:
    store = RemoteStore()
    budget = Budget(usd=1, store=store, fail_open=True)
    assert budget.refuse(request_due_in(-0.5), "fake") is None
    assert store.reads == 0


async def test_an_async_call_with_no_time_left_is_refused_without_asking_the_store() -> None:
    store = RemoteStore()
    budget = Budget(usd=1, store=store)
    kind = refused_kind(await budget.arefuse(request_due_in(-0.5), "fake"))
    assert kind is ErrorKind.BUDGET_UNAVAILABLE
    assert store.reads == 0


def test_the_store_is_waited_on_only_until_a_near_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waited_until: list[float] = []
    real_call_before = llmport._deadline.call_before

    def call_before(deadline: float, total: float | None, function: Callable[[], Any]) -> Any:
        waited_until.append(deadline)
        return real_call_before(deadline, total, function)

    monkeypatch.setattr(llmport.budget, "call_before", call_before)
    request = request_due_in(0.05)
    assert Budget(usd=1, store=RemoteStore(), redis_timeout=0.25).refuse(request, "x") is None
    assert request.deadline is not None
    [until] = waited_until
    assert request.deadline - 1e-6 <= until <= request.deadline


def test_a_store_is_asked_directly_when_the_call_has_no_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def call_before(deadline: float, total: float | None, function: Callable[[], Any]) -> Any:
        raise AssertionError("no worker thread is needed")

    monkeypatch.setattr(llmport.budget, "call_before", call_before)
    store = RemoteStore()
    request = FakeLLM().build_request(USER)
    assert Budget(usd=1, store=store, redis_timeout=0.25).refuse(request, "x") is None
    assert store.reads == 1


def test_a_store_slower_than_its_own_timeouts_rests_for_the_cooldown(hung: RemoteStore) -> None:
    budget = Budget(usd=1, store=hung, redis_timeout=0.01, redis_cooldown=3600)
    response = budget.refuse(request_due_in(SAFETY), "x")  # time to spare: the store is down
    assert refused_kind(response) is ErrorKind.BUDGET_UNAVAILABLE
    hung.release.set()
    assert refused_kind(budget.refuse(request_due_in(SAFETY), "x")) is ErrorKind.BUDGET_UNAVAILABLE
    assert hung.reads == 1  # not asked again during the cooldown


def test_a_hung_store_is_given_up_on_at_the_calls_deadline(hung: RemoteStore) -> None:
    llm = FakeLLM(budget=Budget(usd=1, store=hung, redis_timeout=SAFETY), total_timeout=0.05)
    response = llm.chat_completions(USER)
    assert hung.answered == 0  # the store was still hung when the call came back
    assert refused_kind(response) is ErrorKind.BUDGET_UNAVAILABLE
    assert response.error is not None
    assert "total_timeout" in response.error.message
    assert llm.call_count == 0


async def test_an_async_call_gives_up_on_a_hung_store_at_its_deadline(hung: RemoteStore) -> None:
    llm = FakeLLM(budget=Budget(usd=1, store=hung, redis_timeout=SAFETY), total_timeout=0.05)
    response = await llm.achat_completions(USER)
    assert hung.answered == 0
    assert refused_kind(response) is ErrorKind.BUDGET_UNAVAILABLE


def test_a_hung_store_lets_the_call_through_at_its_deadline_when_failing_open(
    hung: RemoteStore,
) -> None:
    budget = Budget(usd=1, store=hung, redis_timeout=SAFETY, fail_open=True)
    assert budget.refuse(request_due_in(0.05), "fake") is None
    assert hung.answered == 0


def test_a_check_cut_short_by_the_deadline_does_not_rest_the_store(hung: RemoteStore) -> None:
    budget = Budget(usd=1, store=hung, redis_timeout=SAFETY, redis_cooldown=3600)
    assert refused_kind(budget.refuse(request_due_in(0.01), "x")) is ErrorKind.BUDGET_UNAVAILABLE
    hung.release.set()  # the store was slow for that call only
    assert budget._straggler.wait(SAFETY)  # and has answered the read that call gave up on
    assert budget.refuse(request_due_in(SAFETY * 3), "x") is None
    assert hung.reads == 2


def test_calls_against_a_hung_store_leave_at_most_one_worker_waiting_on_it(
    hung: RemoteStore,
) -> None:
    budget = Budget(usd=1, store=hung, redis_timeout=SAFETY)
    kinds = {refused_kind(budget.refuse(request_due_in(0.01), "x")) for _ in range(20)}
    assert kinds == {ErrorKind.BUDGET_UNAVAILABLE}
    assert hung.reads == 1  # later checks did not start a thread behind the hung one


UNRESOLVABLE_REDIS = "redis://budget-redis.invalid:6379"


@contextlib.contextmanager
def hung_lookup() -> Iterator[threading.Event]:
    """A DNS server that never answers for `UNRESOLVABLE_REDIS`'s host, inside the block.

    Socket timeouts do not bound the name lookup before a connect: a hung DNS server
    can hold it for many seconds, however much time the call seemed to have to spare.
    Yields an event set once the lookup has answered. (Installed in the test's body,
    not by a fixture, so the network guard sees no lookup of the host at all.)
    """
    pytest.importorskip("redis")
    resolver_answered = threading.Event()
    release = threading.Event()
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "budget-redis.invalid":
            return real_getaddrinfo(host, *args, **kwargs)
        release.wait(SAFETY)
        resolver_answered.set()
        raise socket.gaierror("no answer")

    socket.getaddrinfo = getaddrinfo
    try:
        yield resolver_answered
    finally:
        socket.getaddrinfo = real_getaddrinfo
        release.set()


def test_a_redis_name_that_never_resolves_is_given_up_on_at_the_calls_deadline() -> None:
    with hung_lookup() as answered:
        budget = Budget(usd=1, redis_url=UNRESOLVABLE_REDIS, redis_timeout=0.05)
        kind = refused_kind(budget.refuse(request_due_in(0.5), "x"))
        assert not answered.is_set()  # the call came back while the lookup hung
    assert kind is ErrorKind.BUDGET_UNAVAILABLE


# --- the charge after a call ------------------------------------------------------------------


class HungAdds(RemoteStore):
    """A remote store that answers reads at once and holds every add until `release`."""

    def __init__(self) -> None:
        super().__init__()
        self.add_release = threading.Event()
        self.adds_started = 0
        self.add_started = threading.Event()
        self.charged: list[tuple[str, float, int]] = []
        self.landed = threading.Event()

    def add(self, tenant: str, window: Window, usd: float, tokens: int) -> None:
        self.adds_started += 1
        self.add_started.set()
        self.add_release.wait(SAFETY)
        self.charged.append((tenant, usd, tokens))
        self.landed.set()


@pytest.fixture
def hung_adds() -> Iterator[HungAdds]:
    store = HungAdds()
    yield store
    store.add_release.set()


def tokens_charged(store: HungAdds, tenant: str = "") -> int:
    return sum(tokens for slot, _, tokens in store.charged if slot == tenant)


def test_a_hung_charge_does_not_hold_the_call_past_its_deadline(hung_adds: HungAdds) -> None:
    budget = Budget(tokens=10**6, store=hung_adds, redis_timeout=SAFETY)
    llm = FakeLLM(budget=budget, total_timeout=0.05)
    response = llm.chat_completions(USER)
    assert response.ok
    assert hung_adds.adds_started == 1
    assert not hung_adds.charged  # the call came back while the charge hung
    hung_adds.add_release.set()
    assert hung_adds.landed.wait(SAFETY)  # and the charge was sent once the store answered
    assert tokens_charged(hung_adds) == response.usage.total_tokens


async def test_an_async_hung_charge_does_not_hold_the_call_past_its_deadline(
    hung_adds: HungAdds,
) -> None:
    budget = Budget(tokens=10**6, store=hung_adds, redis_timeout=SAFETY)
    llm = FakeLLM(budget=budget, total_timeout=0.05)
    response = await llm.achat_completions(USER)
    assert response.ok
    assert not hung_adds.charged
    hung_adds.add_release.set()
    assert await asyncio.to_thread(budget.flush, SAFETY)
    assert tokens_charged(hung_adds) == response.usage.total_tokens


def test_a_stream_does_not_wait_on_a_hung_charge(hung_adds: HungAdds) -> None:
    budget = Budget(tokens=10**6, store=hung_adds, redis_timeout=SAFETY)
    llm = FakeLLM(budget=budget, total_timeout=0.05)
    with llm.stream(USER) as stream:
        for _ in stream:
            pass
    response = stream.response
    assert response.ok
    assert not hung_adds.charged
    hung_adds.add_release.set()
    assert budget.flush(SAFETY)
    assert tokens_charged(hung_adds) == response.usage.total_tokens


def test_charges_made_while_the_store_hangs_wait_behind_one_worker_and_all_land(
    hung_adds: HungAdds,
) -> None:
    budget = Budget(tokens=10**6, store=hung_adds, redis_timeout=SAFETY)
    llm = FakeLLM(budget=budget, total_timeout=0.05)
    responses = [
        llm.chat_completions(USER, metadata={"tenant_id": name})
        for name in ["a", "b", "a", "a", "b"] * 4
    ]
    assert all(response.ok for response in responses)
    assert hung_adds.adds_started == 1  # one thread waits on the store, not one per call
    hung_adds.add_release.set()
    assert budget.flush(SAFETY)
    per_call = responses[0].usage.total_tokens
    assert per_call
    assert tokens_charged(hung_adds, "a") == 12 * per_call
    assert tokens_charged(hung_adds, "b") == 8 * per_call
    assert len(hung_adds.charged) <= 3  # the first, then one sum per tenant


def test_a_charge_with_no_time_left_is_sent_later_not_dropped(hung_adds: HungAdds) -> None:
    budget = Budget(tokens=10**6, store=hung_adds, redis_timeout=SAFETY)
    hung_adds.add_release.set()
    budget.record({"tenant_id": "late"}, 0.5, 7, deadline=time.monotonic() - 1)
    assert budget.flush(SAFETY)
    assert hung_adds.charged == [("late", 0.5, 7)]
    assert budget.refuse(request_due_in(SAFETY), "x") is None  # the store is not resting


def test_a_charge_slower_than_the_stores_own_timeouts_rests_the_store(
    hung_adds: HungAdds,
) -> None:
    budget = Budget(tokens=10**6, store=hung_adds, redis_timeout=0.01, redis_cooldown=3600)
    budget.record({}, 0.0, 5, deadline=time.monotonic() + SAFETY)  # time to spare: down
    assert refused_kind(budget.refuse(request_due_in(SAFETY), "x")) is (
        ErrorKind.BUDGET_UNAVAILABLE
    )
    hung_adds.add_release.set()
    assert budget.flush(SAFETY)
    assert tokens_charged(hung_adds) == 5  # the charge in hand still landed


def test_a_charge_without_a_deadline_is_sent_by_the_caller() -> None:
    store = HungAdds()
    store.add_release.set()
    budget = Budget(tokens=10**6, store=store)
    llm = FakeLLM(budget=budget)
    response = llm.chat_completions(USER)
    assert tokens_charged(store) == response.usage.total_tokens  # before the call returned


def test_a_redis_name_that_never_resolves_does_not_hold_a_charge_past_the_deadline() -> None:
    with hung_lookup() as answered:
        budget = Budget(tokens=100, redis_url=UNRESOLVABLE_REDIS, redis_timeout=0.05)
        budget.record({"tenant_id": "t"}, 0.01, 10, deadline=time.monotonic() + 0.5)
        assert not answered.is_set()  # the charge came back while the lookup hung


def test_flush_waits_for_the_charges_a_hung_store_holds(hung_adds: HungAdds) -> None:
    budget = Budget(tokens=10**6, store=hung_adds, redis_timeout=SAFETY)
    assert budget.flush(0)  # nothing queued
    budget.record({"tenant_id": "t"}, 0.0, 3, deadline=time.monotonic() - 1)
    assert not budget.flush(0.01)  # still held by the store
    hung_adds.add_release.set()
    assert budget.flush(SAFETY)
    assert tokens_charged(hung_adds, "t") == 3


def test_charges_queued_behind_a_charge_that_rested_the_store_land_when_it_answers(
    hung_adds: HungAdds,
) -> None:
    budget = Budget(tokens=10**6, store=hung_adds, redis_timeout=0.01, redis_cooldown=3600)
    budget.record({"tenant_id": "a"}, 0.0, 5, deadline=time.monotonic() + SAFETY)  # rests it
    budget.record({"tenant_id": "b"}, 0.0, 7, deadline=time.monotonic() + SAFETY)
    budget.record({"tenant_id": "c"}, 0.0, 9, deadline=time.monotonic() - 1)
    hung_adds.add_release.set()
    assert budget.flush(SAFETY)
    assert [tokens_charged(hung_adds, name) for name in "abc"] == [5, 7, 9]


def test_a_charge_while_the_store_rests_is_queued_without_waiting(hung_adds: HungAdds) -> None:
    budget = Budget(tokens=10**6, store=hung_adds, redis_timeout=SAFETY, redis_cooldown=3600)
    budget._failed(ConnectionError())  # a check found the store down
    budget.record({"tenant_id": "a"}, 0.0, 5, deadline=time.monotonic() + 3 * SAFETY)
    assert not hung_adds.charged  # the call came back while the store held the charge
    hung_adds.add_release.set()
    assert budget.flush(SAFETY)
    assert tokens_charged(hung_adds, "a") == 5


class CancelledFirstAdd(HungAdds):
    """A store whose first add raises a `BaseException` (a store that bridges to an
    event loop raises `asyncio.CancelledError` when that loop cancels it)."""

    def add(self, tenant: str, window: Window, usd: float, tokens: int) -> None:
        if self.adds_started == 0:
            self.adds_started += 1
            raise asyncio.CancelledError
        super().add(tenant, window, usd, tokens)


def test_a_charge_that_raised_a_base_exception_does_not_stop_the_ones_after_it() -> None:
    store = CancelledFirstAdd()
    store.add_release.set()
    budget = Budget(tokens=10**6, store=store, redis_timeout=SAFETY)
    budget.record({"tenant_id": "a"}, 0.0, 5, deadline=time.monotonic() - 1)
    assert budget.flush(SAFETY)
    budget.record({"tenant_id": "b"}, 0.0, 7, deadline=time.monotonic() - 1)
    assert budget.flush(SAFETY)
    assert store.charged == [("b", 0.0, 7)]


@pytest.fixture
def first_thread_start_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first worker thread a budget starts cannot start (a thread limit, for a moment)."""
    real_start = llmport._deadline.start_thread
    starts: list[str] = []

    def start_thread(target: Callable[[], None], name: str) -> None:
        starts.append(name)
        if len(starts) == 1:
            raise RuntimeError("can't start new thread")
        real_start(target, name)

    monkeypatch.setattr(llmport._budget_charges, "start_thread", start_thread)


@pytest.mark.usefixtures("first_thread_start_fails")
def test_a_charge_whose_worker_could_not_start_is_sent_by_the_next_one() -> None:
    store = HungAdds()
    store.add_release.set()
    budget = Budget(tokens=10**6, store=store, redis_timeout=SAFETY)
    budget.record({"tenant_id": "a"}, 0.0, 5, deadline=time.monotonic() + SAFETY)
    budget.record({"tenant_id": "b"}, 0.0, 7, deadline=time.monotonic() + SAFETY)
    assert budget.flush(SAFETY)
    assert [tokens_charged(store, name) for name in "ab"] == [5, 7]
    assert budget.refuse(request_due_in(SAFETY), "x") is None  # the store is not resting


@pytest.mark.usefixtures("first_thread_start_fails")
def test_flush_starts_the_worker_a_charge_could_not_start() -> None:
    store = HungAdds()
    store.add_release.set()
    budget = Budget(tokens=10**6, store=store, redis_timeout=SAFETY)
    budget.record({"tenant_id": "a"}, 0.0, 5, deadline=time.monotonic() + SAFETY)
    assert budget.flush(SAFETY)
    assert tokens_charged(store, "a") == 5


# --- a forked child (a prefork worker pool) ----------------------------------------------------


def in_forked_child(target: Callable[[], object]) -> object:
    """`target()`'s result, run in a child forked now (as a prefork pool starts workers)."""
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[object] = context.Queue()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*use of fork\\(\\) may lead to deadlocks")
        child = context.Process(target=lambda: results.put(target()))
        child.start()
    try:
        return results.get(timeout=3 * SAFETY)
    finally:
        child.join(timeout=SAFETY)
        child.kill()


def test_a_forked_child_sends_its_charges_and_not_the_parents(hung_adds: HungAdds) -> None:
    budget = Budget(tokens=10**6, store=hung_adds, redis_timeout=SAFETY)
    budget.record({"tenant_id": "sent"}, 0.0, 5, deadline=time.monotonic() - 1)
    budget.record({"tenant_id": "queued"}, 0.0, 6, deadline=time.monotonic() - 1)
    assert hung_adds.add_started.wait(SAFETY)  # the parent's worker hangs in the store

    def child() -> object:
        hung_adds.add_release.set()  # the child's store answers
        budget.record({"tenant_id": "child"}, 0.0, 7, deadline=time.monotonic() + SAFETY)
        return hung_adds.charged

    assert in_forked_child(child) == [("child", 0.0, 7)]


def test_a_forked_child_checks_although_a_parents_check_was_left_waiting(
    hung: RemoteStore,
) -> None:
    budget = Budget(usd=1, store=hung, redis_timeout=SAFETY)
    assert refused_kind(budget.refuse(request_due_in(0.01), "x")) is ErrorKind.BUDGET_UNAVAILABLE

    def child() -> object:
        hung.release.set()
        return refused_kind(budget.refuse(request_due_in(SAFETY), "x"))

    assert in_forked_child(child) is None


# --- async calls -------------------------------------------------------------------------------


@contextlib.contextmanager
def busy_executor(loop: asyncio.AbstractEventLoop) -> Iterator[threading.Event]:
    """The loop's default executor with its one thread busy until the yielded event is set
    (which the thread sets itself after SAFETY seconds)."""
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    loop.set_default_executor(executor)
    free = threading.Event()

    def hold() -> None:
        free.wait(SAFETY)
        free.set()

    executor.submit(hold)
    try:
        yield free
    finally:
        free.set()


async def test_an_async_charge_cancelled_before_its_thread_ran_still_lands() -> None:
    store = HungAdds()
    store.add_release.set()
    budget = Budget(tokens=10**6, store=store, redis_timeout=SAFETY)

    async def cancelled_charge() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # as a cancel scope does: the charge's first await is cancelled
        await budget.arecord({"tenant_id": "x"}, 0.0, 7, deadline=time.monotonic() + SAFETY)

    with busy_executor(asyncio.get_running_loop()) as free:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.create_task(cancelled_charge())
        free.set()
        assert await asyncio.to_thread(store.landed.wait, SAFETY)
    assert tokens_charged(store, "x") == 7


async def test_an_async_check_waiting_for_a_busy_executor_gives_up_at_the_deadline() -> None:
    budget = Budget(usd=1, store=RemoteStore(), redis_timeout=SAFETY)
    with busy_executor(asyncio.get_running_loop()) as free:
        kind = refused_kind(await budget.arefuse(request_due_in(0.05), "x"))
        assert not free.is_set()  # the call came back while no thread was free
    assert kind is ErrorKind.BUDGET_UNAVAILABLE


async def test_an_async_charge_waiting_for_a_busy_executor_comes_back_at_the_deadline() -> None:
    store = HungAdds()
    store.add_release.set()
    budget = Budget(tokens=10**6, store=store, redis_timeout=SAFETY)
    with busy_executor(asyncio.get_running_loop()) as free:
        await budget.arecord({"tenant_id": "x"}, 0.0, 7, deadline=time.monotonic() + 0.05)
        assert not free.is_set()  # the call came back while no thread was free
        free.set()
        assert await asyncio.to_thread(store.landed.wait, SAFETY)  # and the charge still landed
    assert tokens_charged(store, "x") == 7


async def test_an_async_check_the_store_let_run_out_says_so_whichever_wait_ends_first(
    hung: RemoteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker's own wait for the store ends at the call's deadline, as does the
    # call's wait for the worker: when the call's ends first, the store was still asked.
    worker_done = threading.Event()

    def call_before(deadline: float, total: float | None, function: Callable[[], Any]) -> Any:
        worker_done.wait(SAFETY)  # outlasts the call's own wait
        raise llmport._deadline.TotalTimeoutError(total)

    monkeypatch.setattr(llmport.budget, "call_before", call_before)
    budget = Budget(usd=1, store=hung, redis_timeout=SAFETY)
    try:
        error = await budget.acheck({}, time.monotonic() + 0.05)
    finally:
        worker_done.set()
    assert error is not None
    assert error.kind is ErrorKind.BUDGET_UNAVAILABLE
    assert "remaining total_timeout" in error.message


class OneAtATime(HungAdds):
    """`HungAdds` that records how many adds ever ran at once."""

    def __init__(self) -> None:
        super().__init__()
        self._count = threading.Lock()
        self._running = 0
        self.most_at_once = 0

    def add(self, tenant: str, window: Window, usd: float, tokens: int) -> None:
        with self._count:
            self._running += 1
            self.most_at_once = max(self.most_at_once, self._running)
        try:
            super().add(tenant, window, usd, tokens)
        finally:
            with self._count:
                self._running -= 1


@settings(deadline=None, max_examples=40)
@given(
    charges=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(1, 1_000)), max_size=30
    ),
    hung_for=st.integers(0, 30),
)
def test_every_charge_lands_once_whenever_a_hung_store_answers(
    charges: list[tuple[str, int]], hung_for: int
) -> None:
    # Charges made while the store hangs (with no time left to wait) queue behind one
    # worker; the rest wait for it. Whenever the store answers, each tenant is charged
    # exactly what its calls spent, and no second worker ever started.
    store = OneAtATime()
    budget = Budget(tokens=10**9, store=store, redis_timeout=SAFETY)
    try:
        for index, (tenant, tokens) in enumerate(charges):
            if index == hung_for:
                store.add_release.set()
            due = time.monotonic() + (SAFETY if store.add_release.is_set() else -1)
            budget.record({"tenant_id": tenant}, 0.0, tokens, deadline=due)
        store.add_release.set()
        assert budget.flush(SAFETY)
    finally:
        store.add_release.set()
    assert store.most_at_once <= 1
    for tenant in "abc":
        spent = sum(tokens for name, tokens in charges if name == tenant)
        assert tokens_charged(store, tenant) == spent
