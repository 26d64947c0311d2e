"""The boundary property: whatever a server sends, the library's promises hold.

hypothesis generates a server behaviour (`wire_behaviours`); a scripted loopback server
(`hostile_server`) plays it to both built-in HTTP providers on all four paths
(`chat_completions`, `achat_completions`, `stream`, `astream`), all at once. For every
call:

- it returns, or its stream ends, without raising, within the time limit;
- the key the client sent (echoed anywhere by the server) reaches no string a caller can
  see: the response and everything in it (`response.raw` is the documented exception),
  its repr, `to_message()`, the exception `raise_for_status()` raises, every stream
  event and the text the events add up to, and llmport's log records;
- an answer the server did not deliver whole (cut, unfinished stream, non-2xx, not a
  completion, undecodable) is never SUCCESS; a stream's events add up to its response;
- a redirect is reported, never followed; a 2xx body that is not a completion object
  is `bad_response`;
- a clean answer gives the same result on every provider and path (a stream agrees with
  the buffered parse of the same payload).

Examples: `--boundary-examples N` or `LLMPORT_BOUNDARY_EXAMPLES` (default 500);
`nox -s boundary` runs many more.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from boundary_promises import (
    API_KEY,
    HEADER_KEY,
    KEYS,
    MESSAGES,
    Outcome,
    violations,
)
from hostile_server import HostileServer, SeenRequest
from llmport import BaseLLM, LiteLLM, OpenAICompatible, RetryPolicy
from llmport.observability import LoggingHooks
from llmport.providers.litellm import import_litellm
from wire_behaviours import Answer, Behaviour, ErrorObject, Raw, Sse, Tool, behaviours
from wire_render import render

pytestmark = pytest.mark.integration

PATHS = ("chat_completions", "achat_completions", "stream", "astream")
#: The library's limits for each call: each read, the whole call, and retries.
TIMEOUT = 1.0
TOTAL_TIMEOUT = 3.0
RETRY = RetryPolicy(
    max_attempts=2, initial_backoff=0, max_backoff=0, max_retry_after=0.1, deadline=3.0
)
#: No call may take longer than this: a generous multiple of `TOTAL_TIMEOUT`.
GUARD = 5 * TOTAL_TIMEOUT
EXAMPLES = int(os.environ.get("LLMPORT_BOUNDARY_EXAMPLES", "500"))


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop in a thread for every async call (so a guard can time them out)."""
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(timeout=5)
    running.close()


@pytest.fixture(scope="module")
def workers() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        yield pool


def build(name: str, base_url: str) -> BaseLLM:
    """Provider `name` ("litellm/api_key", "openai_compatible/header", ...) at `base_url`.

    "litellm/env" and "litellm/env-late" get no key: litellm reads `OPENAI_API_KEY`,
    which a test sets before building the provider ("env") or after ("env-late").
    """
    limits: dict[str, Any] = {
        "timeout": TIMEOUT,
        "total_timeout": TOTAL_TIMEOUT,
        "retry": RETRY,
        "hooks": [LoggingHooks()],
    }
    provider, _, source = name.partition("/")
    if source == "api_key":
        limits["api_key"] = API_KEY
    elif source == "header":
        limits["extra_headers"] = {"Authorization": f"Bearer {HEADER_KEY}"}
    if provider == "litellm":
        return LiteLLM(chat_model="openai/boundary-model", api_base=base_url, **limits)
    return OpenAICompatible(chat_model="boundary-model", base_url=base_url, **limits)


@pytest.fixture(scope="module")
def providers(
    server: HostileServer, loop: asyncio.AbstractEventLoop
) -> Iterator[dict[str, BaseLLM]]:
    """The providers built once, before any key is in the environment."""
    names = ("litellm/api_key", "litellm/env-late", "openai_compatible/api_key")
    built = {name: build(name, server.base_url) for name in (*names, "openai_compatible/header")}
    import_litellm()  # seconds on a busy machine: not part of any call's time limit
    yield built
    for llm in built.values():
        if isinstance(llm, OpenAICompatible):
            asyncio.run_coroutine_threadsafe(llm.aclose(), loop).result(timeout=5)


class LogSink(logging.Handler):
    """Keeps every record llmport logs; a test clears it per example."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __repr__(self) -> str:
        return f"LogSink({len(self.records)} records)"


@pytest.fixture(scope="module")
def logs() -> Iterator[LogSink]:
    sink = LogSink()
    logger = logging.getLogger("llmport")
    level = logger.level
    logger.addHandler(sink)
    logger.setLevel(logging.DEBUG)
    yield sink
    logger.removeHandler(sink)
    logger.setLevel(level)


# --- running one behaviour on every provider and path -----------------------------------


def _sync_call(llm: BaseLLM, path: str, outcome: Outcome) -> None:
    if path == "chat_completions":
        outcome.response = llm.chat_completions(**outcome.arguments)
        return
    with llm.stream(**outcome.arguments) as stream:
        for event in stream:
            outcome.events.append(event)
        outcome.response = stream.response


async def _async_call(llm: BaseLLM, path: str, outcome: Outcome) -> None:
    if path == "achat_completions":
        outcome.response = await llm.achat_completions(**outcome.arguments)
        return
    async with llm.astream(**outcome.arguments) as stream:
        async for event in stream:
            outcome.events.append(event)
        outcome.response = stream.response


def run_everywhere(
    behaviour: Behaviour,
    chosen: dict[str, BaseLLM],
    server: HostileServer,
    loop: asyncio.AbstractEventLoop,
    workers: concurrent.futures.ThreadPoolExecutor,
    arguments: Mapping[str, Any] | None = None,
) -> tuple[list[Outcome], list[SeenRequest]]:
    """Play `behaviour` to every chosen provider on every path, concurrently.

    `arguments` are the call's arguments (default: one user message).
    """
    origin = server.base_url.removesuffix("/v1")
    outcomes: list[Outcome] = []
    futures: list[concurrent.futures.Future[None]] = []
    with server.serving(lambda request: render(behaviour, request, origin).script) as seen:
        for name, llm in chosen.items():
            for path in PATHS:
                outcome = Outcome(name, path)
                if arguments is not None:
                    outcome.arguments = {**arguments}
                outcomes.append(outcome)
                if path.startswith("a"):
                    work = _caught_async(_async_call(llm, path, outcome), outcome)
                    futures.append(asyncio.run_coroutine_threadsafe(work, loop))
                else:
                    futures.append(workers.submit(_caught(_sync_call, llm, path, outcome)))
        _, pending = concurrent.futures.wait(futures, timeout=GUARD)
        for future, outcome in zip(futures, outcomes, strict=True):
            outcome.hung = future in pending
    concurrent.futures.wait(futures, timeout=GUARD)  # dropped connections release the rest
    return outcomes, list(seen)


def _caught(
    call: Callable[[BaseLLM, str, Outcome], None], llm: BaseLLM, path: str, outcome: Outcome
) -> Callable[[], None]:
    def run() -> None:
        try:
            call(llm, path, outcome)
        except BaseException as exc:  # the property is that nothing escapes: record it
            outcome.raised = exc

    return run


async def _caught_async(call: Coroutine[Any, Any, None], outcome: Outcome) -> None:
    try:
        await call
    except BaseException as exc:
        outcome.raised = exc


# --- the property ------------------------------------------------------------------------

settings.register_profile(
    "boundary",
    max_examples=EXAMPLES,
    deadline=None,
    # CI runs the same examples every time, so its verdict is about the code, not the
    # draw; `nox -s boundary` and local runs draw new ones.
    derandomize=os.environ.get("CI") == "true",
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@settings(settings.get_profile("boundary"))
# A 204 has no body: bad_response on every path when it arrives whole (a body sent
# after it breaks HTTP), and connection or bad_response when cut, even before its head.
@example(
    behaviour=Behaviour(status=204, payload=Answer("Hi")),
    litellm_key="api_key",
    direct_key="api_key",
)
@example(
    behaviour=Behaviour(status=204, payload=ErrorObject("", None, None), cut=0.0),
    litellm_key="api_key",
    direct_key="api_key",
)
# A raw SSE body ignores `error_after` (only an answer is streamed with an error event).
@example(
    behaviour=Behaviour(payload=Raw("sse-text"), sse=Sse(done=False, error_after=0)),
    litellm_key="api_key",
    direct_key="api_key",
)
# litellm drops the type of an error object in a 200 (its kind is then what the rest says).
@example(
    behaviour=Behaviour(payload=ErrorObject("Hello", "rate_limit_error")),
    litellm_key="api_key",
    direct_key="api_key",
)
# litellm refuses a buffered answer whose usage count is not an integer.
@example(
    behaviour=Behaviour(payload=Answer("Hi", usage=(("prompt_tokens", "5000-digits"),))),
    litellm_key="api_key",
    direct_key="api_key",
)
# Empty tool arguments on a call with no name: no raw text, buffered or streamed.
@example(
    behaviour=Behaviour(payload=Answer(None, tools=(Tool(None, None, "empty"),), finish="stop")),
    litellm_key="api_key",
    direct_key="api_key",
)
@given(
    behaviour=behaviours(),
    litellm_key=st.sampled_from(["api_key", "env", "env-late"]),
    direct_key=st.sampled_from(["api_key", "header"]),
)
def test_any_server_behaviour_keeps_every_promise(
    server: HostileServer,
    loop: asyncio.AbstractEventLoop,
    workers: concurrent.futures.ThreadPoolExecutor,
    providers: dict[str, BaseLLM],
    logs: LogSink,
    behaviour: Behaviour,
    litellm_key: str,
    direct_key: str,
) -> None:
    logs.records.clear()
    if litellm_key.startswith("env"):
        os.environ["OPENAI_API_KEY"] = KEYS[f"litellm/{litellm_key}"]
    try:
        chosen = {
            name: build(name, server.base_url) if name == "litellm/env" else providers[name]
            for name in (f"litellm/{litellm_key}", f"openai_compatible/{direct_key}")
        }
        outcomes, requests = run_everywhere(behaviour, chosen, server, loop, workers)
    finally:
        os.environ.pop("OPENAI_API_KEY", None)
    problems = violations(behaviour, outcomes, requests, logs.records)
    assert not problems, "\n".join(problems)


NAN_TOOL = {
    "type": "function",
    "function": {"name": "f", "parameters": {"type": "object", "default": float("nan")}},
}
BAD_ARGUMENTS: dict[str, dict[str, Any]] = {
    "nan-in-message": {"messages": [{"role": "user", "content": "Hi", "score": float("nan")}]},
    "set-in-message": {"messages": [{"role": "user", "content": "Hi", "tags": {"a", "b"}}]},
    "nan-in-tools": {"messages": MESSAGES, "tools": [NAN_TOOL]},
    "infinity-extra": {"messages": MESSAGES, "logit_bias": {"1": float("inf")}},
    # A typed call option of the wrong type is a TypeError (see CallOptions); a value
    # JSON cannot encode reaches the check through a backend's own parameters.
    "object-extra": {"messages": MESSAGES, "extra_params": {"top_k": object()}},
    "set-extra": {"messages": MESSAGES, "extra_params": {"top_k": {"a"}}},
    "timeout-inf": {"messages": MESSAGES, "timeout": float("inf")},
    "timeout-1e300": {"messages": MESSAGES, "timeout": 1e300},
}


@settings(settings.get_profile("boundary"), max_examples=min(EXAMPLES, 50))
@given(
    bad=st.sampled_from(sorted(BAD_ARGUMENTS)),
    litellm_key=st.sampled_from(["api_key", "env-late"]),
    direct_key=st.sampled_from(["api_key", "header"]),
)
def test_bad_arguments_raise_value_error_before_any_request(
    server: HostileServer,
    loop: asyncio.AbstractEventLoop,
    workers: concurrent.futures.ThreadPoolExecutor,
    providers: dict[str, BaseLLM],
    bad: str,
    litellm_key: str,
    direct_key: str,
) -> None:
    chosen = {
        name: providers[name]
        for name in (f"litellm/{litellm_key}", f"openai_compatible/{direct_key}")
    }
    outcomes, requests = run_everywhere(
        Behaviour(), chosen, server, loop, workers, BAD_ARGUMENTS[bad]
    )
    not_refused = [
        f"{o.provider} {o.path}: {o.response.status.value if o.response else repr(o.raised)}"
        for o in outcomes
        if not isinstance(o.raised, ValueError)
    ]
    assert not not_refused
    assert requests == []


def test_stream_true_on_a_buffered_call_is_refused_before_any_request(
    server: HostileServer, providers: dict[str, BaseLLM]
) -> None:
    with server.serving(lambda request: render(Behaviour(), request, "").script) as seen:
        for llm in providers.values():
            with pytest.raises(ValueError, match="stream"):
                llm.chat_completions(MESSAGES, stream=True)  # type: ignore[call-arg]
    assert seen == []
