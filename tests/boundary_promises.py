"""The promises the boundary property checks, for one behaviour played everywhere.

`violations()` lists every broken promise of the calls one behaviour produced (see
tests/test_boundary.py for the list); an empty list means they all held.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from hostile_server import SeenRequest
from llmport import ErrorKind, LLMResponse, ProviderError
from llmport.streaming import FinishEvent, ReasoningDelta, StreamEvent, TextDelta, ToolCallDelta
from reachable import reported, strings_in
from wire_behaviours import Answer, Behaviour, Deep, Raw, Value
from wire_render import Rendered, render

__all__ = ["API_KEY", "CANARIES", "HEADER_KEY", "KEYS", "MESSAGES", "Outcome", "violations"]

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
        return [f"{where}: did not end within the guard"]
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
    half = key[: len(key) // 2]  # a key cut short (a stream stopped inside its echo)
    if any(half in text for text in [*strings_in(visible), *joined_deltas(outcome.events)]):
        problems.append(f"{where}: the first half of the key is shown")
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
    # a refusal with no text is promoted to `content` (as a buffered answer reads)
    refused = not text and response.refusal is not None and response.content == response.refusal
    if text != response.content and not refused:
        problems.append(f"{where}: text deltas {text[:60]!r} != content {response.content[:60]!r}")
    return problems


def _kind_problems(
    where: str, behaviour: Behaviour, rendered: Rendered, response: LLMResponse
) -> list[str]:
    error = response.error
    if error is not None and error.kind is ErrorKind.TIMEOUT:
        return []  # the time limit held; how far a call got by then depends on the machine
    status = behaviour.status
    redirect = status in (301, 302, 303, 307, 308)
    if redirect and rendered.whole and where.startswith("openai_compatible"):  # see violations()
        named = error is not None and (error.status_code == status or str(status) in error.message)
        return [] if named else [f"{where}: a {status} redirect is not reported with its status"]
    # A lone 1xx, or a 204 cut short (perhaps before its status line): each HTTP stack
    # reads what arrived its own way (see `_informational`).
    if _informational(status) or (status == 204 and not rendered.whole):
        if error is None or error.kind not in (ErrorKind.CONNECTION, ErrorKind.BAD_RESPONSE):
            got = error.kind.value if error else "success"
            return [f"{where}: a {status} gave {got}, not connection or bad_response"]
        return []
    if status == 204 and (error is None or error.kind is not ErrorKind.BAD_RESPONSE):
        # no body by definition, so no completion and no events: not a stream cut short
        got = error.kind.value if error else "success"
        return [f"{where}: a whole 204 gave {got}, not bad_response"]
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


def _informational(status: int) -> bool:
    """A 1xx status sent as the only answer, with the body after it.

    It promises a final answer that never comes, so the call fails, but which way
    depends on the HTTP stack (docs/decisions.md): httpx waits for the final answer
    and meets the closed connection (`connection`); aiohttp reads the body as the next
    answer's status line and finds it is not HTTP (`bad_response`). Either is right;
    success, or a status of the server's own (`invalid_request`), is not.
    """
    return 100 <= status < 200


def signature(response: LLMResponse) -> dict[str, Any]:
    """What must agree between providers and paths for the same clean payload.

    Each provider was given its own key, so a key that leaks shows as `<KEY>` here (the
    leak itself is reported on its own).
    """
    fields: dict[str, Any] = {
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
    for name in ("content", "reasoning", "refusal"):
        fields[name] = _without_a_key_start(fields[name])
    return {name: _unkeyed(value) for name, value in fields.items()}


def _without_a_key_start(text: str | None) -> str | None:
    """A stream stopped inside an echoed key shows its first (up to 3) characters, which
    differ between providers given different keys; from 4 they are masked."""
    for key in CANARIES:
        for size in (3, 2, 1):
            if text and text.endswith(key[:size]):
                return text[:-size] + "<KEY-START>"
    return text


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
    # A call that reached its time limit kept that promise; how far it got before the
    # limit depends on the machine (litellm spends seconds of CPU on a large error body),
    # not on the payload, so it is left out of the comparison.
    finished = [
        o
        for o in outcomes
        if o.response is not None
        and not o.hung
        and not (o.response.error and o.response.error.kind is ErrorKind.TIMEOUT)
    ]
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
            name = f"{outcome.provider} {outcome.path}"
            found = signature(outcome.response)
            # an error status is judged by its status, whatever the body
            no_finish = (
                200 <= behaviour.status < 300
                and behaviour.status != 204
                and (
                    payload == Raw("sse-text")
                    or (isinstance(payload, Answer) and payload.finish is None)
                )
            )
            if no_finish:
                # an error event in a stream says what failed: compared as usual (only an
                # answer is streamed with one; a raw body is sent as it is)
                errored = behaviour.sse.error_after is not None and isinstance(payload, Answer)
                unfinished = _litellm_without_finish(outcome, found, errored)
                if unfinished is not None:
                    problems += [f"{name}: {unfinished}"] if unfinished else []
                    continue
            if _litellm_refused_the_answer(outcome, found, group):
                continue
            if _litellm_renamed_the_finish(behaviour, outcome, found):
                found["finish"] = "unknown"  # litellm's fill-in; the rest must still agree
            if _litellm_refused_the_usage(behaviour, outcome, found):
                continue
            if _litellm_reread_the_usage(behaviour, outcome):
                del found["usage"]  # the rest must still agree
            if _informational(behaviour.status):
                del found["kind"]  # which HTTP stack saw what differs; the rest must agree
            signatures[name] = found
        first = next(iter(signatures.values()), None)
        differing = {
            name: sig
            for name, sig in signatures.items()
            if first is not None and any(sig[k] != first[k] for k in sig.keys() & first.keys())
        }
        if differing:
            detail = "; ".join(f"{n}: {_diff(first, s)}" for n, s in differing.items())
            problems.append(f"disagreement with {next(iter(signatures))}: {detail}")
    return problems


def _litellm_refused_the_answer(
    outcome: Outcome, found: dict[str, Any], group: list[Outcome]
) -> bool:
    """litellm rejects a buffered answer whose tool arguments it cannot decode (an integer
    over 4,300 digits, nesting past its recursion limit) before llmport sees it
    (docs/decisions.md, "Where litellm makes parity impossible"): `bad_response` there,
    where the direct provider keeps the call with `arguments_error` set."""
    if not outcome.provider.startswith("litellm") or outcome.path in ("stream", "astream"):
        return False
    if found["kind"] != "bad_response":
        return False
    return any(
        other.response is not None
        and not other.provider.startswith("litellm")
        and any(call.arguments_error for call in other.response.tool_calls)
        for other in group
    )


#: Finish reasons litellm does not know: it reports them as `stop`.
_FINISHES_LITELLM_RENAMES = frozenset({"weird"})


def _litellm_renamed_the_finish(
    behaviour: Behaviour, outcome: Outcome, found: dict[str, Any]
) -> bool:
    """litellm replaces a finish reason it does not know with `stop`, buffered and
    streamed (docs/decisions.md, "Where litellm makes parity impossible"), where llmport
    reads it as `unknown` and keeps the text in `raw_finish_reason`."""
    payload = behaviour.payload
    return (
        outcome.provider.startswith("litellm")
        and isinstance(payload, Answer)
        and payload.finish in _FINISHES_LITELLM_RENAMES
        and found["finish"] == "stop"
    )


#: Usage counts litellm's validation refuses (the direct provider reads them as unknown).
_COUNTS_LITELLM_REFUSES = frozenset(
    {"float", "superscript", "arabic-indic", "5000-digits", "list", "object", "key"}
)


def _litellm_refused_the_usage(
    behaviour: Behaviour, outcome: Outcome, found: dict[str, Any]
) -> bool:
    """litellm refuses a buffered answer whose usage holds a count that is not an integer
    (docs/decisions.md, "Where litellm makes parity impossible"): `bad_response` there,
    where the direct provider keeps the answer with that count unknown."""
    return (
        _litellm_buffered_usage_holds(behaviour, outcome, _COUNTS_LITELLM_REFUSES)
        and found["kind"] == "bad_response"
    )


#: Usage counts litellm reads otherwise: `true` as 1, and a lone 0 makes its all-zero
#: placeholder, which llmport reads as "not reported".
_COUNTS_LITELLM_REREADS = frozenset({"bool", "zero"})


def _litellm_reread_the_usage(behaviour: Behaviour, outcome: Outcome) -> bool:
    """litellm reads some usage counts of a buffered answer otherwise (docs/decisions.md,
    "Where litellm makes parity impossible"), so its usage is left out of the comparison."""
    return _litellm_buffered_usage_holds(behaviour, outcome, _COUNTS_LITELLM_REREADS)


def _litellm_buffered_usage_holds(
    behaviour: Behaviour, outcome: Outcome, counts: frozenset[str]
) -> bool:
    """Whether `outcome` is a buffered LiteLLM call whose answer's usage holds one of `counts`."""
    payload = behaviour.payload
    return (
        outcome.provider.startswith("litellm")
        and outcome.path not in ("stream", "astream")
        and isinstance(payload, Answer)
        and isinstance(payload.usage, tuple)
        and any(count in counts for _, count in payload.usage)
    )


def _litellm_without_finish(outcome: Outcome, found: dict[str, Any], errored: bool) -> str | None:
    """Where litellm makes parity impossible for an answer without a finish reason
    (docs/decisions.md, "Where litellm makes parity impossible"): its buffered answer says
    `stop` (litellm fills it in, where the direct provider says `unknown`), and its stream
    proves nothing complete without a finish reason (it hides whether `[DONE]` came), so
    it is a `connection` error. None for any other outcome; "" when litellm did just that;
    else what it did instead.
    """
    if not outcome.provider.startswith("litellm"):
        return None
    if outcome.path in ("stream", "astream"):
        if errored:
            return None
        if found["kind"] == "connection":
            return ""
        return f"an unfinished litellm stream gave {found['kind'] or 'success'}, not connection"
    if found["finish"] == "stop":
        found["finish"] = "unknown"  # litellm's fill-in; the rest must still agree
    return None


def _diff(first: dict[str, Any] | None, other: dict[str, Any]) -> str:
    assert first is not None
    return ", ".join(
        f"{k}={other[k]!r:.80} (vs {first[k]!r:.80})"
        for k in first
        if k in other and first[k] != other[k]
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
