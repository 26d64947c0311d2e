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
import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile_server import HostileServer, SeenRequest
from llmport import (
    BaseLLM,
    ErrorKind,
    LiteLLM,
    LLMResponse,
    OpenAICompatible,
    ProviderError,
    RetryPolicy,
)
from llmport.observability import LoggingHooks
from llmport.providers.litellm import import_litellm
from llmport.streaming import FinishEvent, ReasoningDelta, StreamEvent, TextDelta, ToolCallDelta
from reachable import reported, strings_in
from wire_behaviours import Answer, Behaviour, Deep, Raw, Rendered, Value, behaviours, render

pytestmark = pytest.mark.integration

#: The credential given to a provider; not shaped like a key, so only redaction of known
#: secrets can hide it.
API_KEY = "zq9-canary-4f2b8c1d7e"
HEADER_KEY = "AbCdEf0123456789canary"
#: Only ever in `OPENAI_API_KEY`, where litellm reads it; never given to llmport. The
#: late key is set only after its provider was built (a key rotated at run time).
ENV_KEY = "envcanary-7c1e5a9b3d2f"
LATE_ENV_KEY = "lateenvcanary-3b9d0c7e1a"
CANARIES = (API_KEY, HEADER_KEY, ENV_KEY, LATE_ENV_KEY)
MESSAGES = [{"role": "user", "content": "Hi"}]
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


@dataclasses.dataclass
class Outcome:
    """What one provider made of one behaviour on one path."""

    provider: str
    path: str
    rendered: Rendered | None = None
    response: LLMResponse | None = None
    events: list[StreamEvent] = dataclasses.field(default_factory=list)
    arguments: dict[str, Any] = dataclasses.field(default_factory=lambda: {"messages": MESSAGES})
    raised: BaseException | None = None
    hung: bool = False


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


# --- what must hold ----------------------------------------------------------------------

KEYS = {
    "litellm/api_key": API_KEY,
    "litellm/env": ENV_KEY,
    "litellm/env-late": LATE_ENV_KEY,
    "openai_compatible/api_key": API_KEY,
    "openai_compatible/header": HEADER_KEY,
}
CHAT_PATH = "/v1/chat/completions"


def seen_by_caller(outcome: Outcome) -> list[Any]:
    """Everything a caller can read from a finished call, `raw` aside."""
    response = outcome.response
    visible: list[Any] = [outcome.events]
    if response is None:
        return visible
    visible += [response, repr(response), str(response), response.to_message()]
    visible += [call.to_message() for call in response.tool_calls]
    try:
        response.raise_for_status()
    except ProviderError as exc:
        visible.append(exc)
    return visible


def joined_deltas(events: list[StreamEvent]) -> list[str]:
    """The text a caller shows by concatenating deltas: answer, reasoning, each call's args."""
    arguments: dict[int, str] = {}
    for event in events:
        if isinstance(event, ToolCallDelta):
            arguments[event.index] = arguments.get(event.index, "") + event.arguments
    return [
        "".join(e.text for e in events if isinstance(e, TextDelta)),
        "".join(e.text for e in events if isinstance(e, ReasoningDelta)),
        *arguments.values(),
    ]


def judged(behaviour: Behaviour, outcome: Outcome) -> Rendered:
    """How the server answered this provider on this path (rendering is deterministic)."""
    stream = outcome.path in ("stream", "astream")
    key = KEYS[outcome.provider]
    request = SeenRequest("POST", CHAT_PATH, {"authorization": f"Bearer {key}"}, {"stream": stream})
    return render(behaviour, request, "http://127.0.0.1")


def call_problems(behaviour: Behaviour, outcome: Outcome) -> list[str]:
    """Broken promises of one call."""
    where = f"{outcome.provider} {outcome.path}"
    if outcome.hung:
        return [f"{where}: did not end within {GUARD}s"]
    if outcome.raised is not None:
        error = outcome.raised
        return [f"{where}: raised {type(error).__name__}: {str(error)[:200]}"]
    response = outcome.response
    if response is None:
        return [f"{where}: no response"]
    problems: list[str] = []
    key = KEYS[outcome.provider]
    try:
        visible = seen_by_caller(outcome)
    except Exception as exc:
        return [f"{where}: reading the response raised {type(exc).__name__}: {exc}"]
    if any(key in text for text in strings_in(visible)):
        leaks = sorted({_path_of(key, outcome)})
        problems.append(f"{where}: the key leaks into {leaks}")
    if any(key in text for text in joined_deltas(outcome.events)):
        problems.append(f"{where}: the key leaks across stream deltas")
    rendered = judged(behaviour, outcome)
    if response.ok and not rendered.may_succeed:
        problems.append(f"{where}: SUCCESS for an answer not delivered whole")
    if outcome.path in ("stream", "astream"):
        problems += _stream_problems(where, outcome, response)
    problems += _kind_problems(where, behaviour, rendered, response)
    return problems


def _path_of(key: str, outcome: Outcome) -> str:
    """The first field of the outcome that holds the key, for the failure message."""
    response = outcome.response
    assert response is not None
    candidates: dict[str, Any] = {
        "events": outcome.events,
        "repr": repr(response),
        "to_message": response.to_message(),
        **{f.name: getattr(response, f.name) for f in dataclasses.fields(response)},
    }
    candidates.pop("raw")
    found = [name for name, value in candidates.items() if any(key in s for s in strings_in(value))]
    return ",".join(found) or "raise_for_status"


def _stream_problems(where: str, outcome: Outcome, response: LLMResponse) -> list[str]:
    events = outcome.events
    finishes = [e for e in events if isinstance(e, FinishEvent)]
    if len(finishes) != 1 or events[-1] is not finishes[0]:
        return [f"{where}: the stream did not end with exactly one FinishEvent"]
    problems = []
    if finishes[0].response is not response:
        problems.append(f"{where}: FinishEvent.response is not stream.response")
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    if text != response.content:
        problems.append(f"{where}: text deltas {text[:60]!r} != content {response.content[:60]!r}")
    return problems


def _kind_problems(
    where: str, behaviour: Behaviour, rendered: Rendered, response: LLMResponse
) -> list[str]:
    error = response.error
    status = behaviour.status
    redirect = status in (301, 302, 303, 307, 308)
    if redirect and rendered.whole and where.startswith("openai_compatible"):  # see violations()
        named = error is not None and (error.status_code == status or str(status) in error.message)
        return [] if named else [f"{where}: a {status} redirect is not reported with its status"]
    whole = (
        200 <= status < 300
        and status != 204
        and rendered.whole
        and behaviour.form == "honest"
        and behaviour.content_type == "honest"
    )
    not_a_completion = isinstance(behaviour.payload, (Value, Deep)) or (
        isinstance(behaviour.payload, Raw) and not rendered.streamed
    )
    if whole and not_a_completion and (error is None or error.kind is not ErrorKind.BAD_RESPONSE):
        got = error.kind.value if error else "success"
        return [f"{where}: a 2xx body that is not a completion gave {got}, not bad_response"]
    return []


def signature(response: LLMResponse) -> dict[str, Any]:
    """What must agree between providers and paths for the same clean payload.

    Each provider was given its own key, so a key that leaks shows as `<KEY>` here (the
    leak itself is reported on its own).
    """
    fields = {
        "status": response.status.value,
        "kind": response.error.kind.value if response.error else None,
        "content": response.content,
        "reasoning": response.reasoning,
        "refusal": response.refusal,
        "finish": response.finish_reason,
        # Raw text matters only when the arguments did not parse: litellm turns an
        # arguments object into text, so a clean call's raw_arguments may differ.
        "tools": [
            (c.name, c.arguments, c.raw_arguments if c.arguments_error else None, c.ok)
            for c in response.tool_calls
        ],
        "usage": reported(response.usage),
    }
    return {name: _unkeyed(value) for name, value in fields.items()}


def _unkeyed(value: Any) -> Any:
    if isinstance(value, str):
        for key in CANARIES:
            value = value.replace(key, "<KEY>")
        return value
    if isinstance(value, (list, tuple)):
        return [_unkeyed(v) for v in value]
    if isinstance(value, dict):
        return {k: _unkeyed(v) for k, v in value.items()}
    return value


def parity_problems(behaviour: Behaviour, outcomes: list[Outcome]) -> list[str]:
    """A clean payload gives the same answer on every provider and path."""
    clean = (
        behaviour.form == "honest"
        and behaviour.content_type == "honest"
        and behaviour.transfer == "length"
        and behaviour.encoding == "none"
        and behaviour.cut is None
        and behaviour.then == "close"
        and behaviour.drip is None
    )
    finished = [o for o in outcomes if o.response is not None and not o.hung]
    if not clean:
        return []
    payload = behaviour.payload
    if isinstance(payload, Answer):
        same_payload = behaviour.sse.error_after is None and (
            payload.finish is not None or behaviour.sse.done
        )
    else:
        same_payload = not isinstance(payload, Raw)
    groups = (
        [finished]
        if same_payload
        else [
            [o for o in finished if o.path in ("stream", "astream")],
            [o for o in finished if o.path not in ("stream", "astream")],
        ]
    )
    problems = []
    for group in groups:
        signatures = {}
        for outcome in group:
            assert outcome.response is not None
            signatures[f"{outcome.provider} {outcome.path}"] = signature(outcome.response)
        first = next(iter(signatures.values()), None)
        differing = {name: sig for name, sig in signatures.items() if sig != first}
        if differing:
            detail = "; ".join(f"{n}: {_diff(first, s)}" for n, s in differing.items())
            problems.append(f"disagreement with {next(iter(signatures))}: {detail}")
    return problems


def _diff(first: dict[str, Any] | None, other: dict[str, Any]) -> str:
    assert first is not None
    return ", ".join(
        f"{k}={other[k]!r:.80} (vs {first[k]!r:.80})" for k in first if first[k] != other[k]
    )


def violations(
    behaviour: Behaviour,
    outcomes: list[Outcome],
    requests: list[SeenRequest],
    records: list[logging.LogRecord],
) -> list[str]:
    """Every broken promise for one behaviour."""
    problems = [p for outcome in outcomes for p in call_problems(behaviour, outcome)]
    problems += parity_problems(behaviour, outcomes)
    followed = sorted(
        {f"{r.path} by {r.headers.get('user-agent', '?')}" for r in requests if r.path != CHAT_PATH}
    )
    # litellm's own HTTP clients follow redirects and llmport cannot turn that off without
    # replacing them (docs/decisions.md, "Redirects"); the openai SDK names itself in the
    # User-Agent. The direct provider must follow none.
    followed = [where for where in followed if "OpenAI/Python" not in where]
    if followed:
        problems.append(f"a redirect was followed to {followed}")
    logged = list(strings_in(list(records)))
    for key in CANARIES:
        if any(key in text for text in logged):
            problems.append(f"the key {key[:6]}... reached llmport's log records")
    return problems


# --- the property ------------------------------------------------------------------------

settings.register_profile(
    "boundary",
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@settings(settings.get_profile("boundary"))
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
    "object-extra": {"messages": MESSAGES, "user": object()},
    "set-extra": {"messages": MESSAGES, "user": {"a"}},
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
                llm.chat_completions(MESSAGES, stream=True)
    assert seen == []
