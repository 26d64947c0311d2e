"""What each local-gateway model answers, and how answers render as JSON or SSE."""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

FIXED_TEXT = "Hello from the llmport local gateway."
"""The answer of the `fixed` model and of every model that "answers like fixed"."""

MODELS: dict[str, str] = {
    "fixed": f"always answers {FIXED_TEXT!r}",
    "echo": "answers with the last user message",
    "tool-call": "calls the first tool (or tool_choice) with arguments made from its schema",
    "parallel-tool-calls": "calls every offered tool at once",
    "malformed-tool-call": "one tool call with truncated JSON arguments, finish_reason length",
    "empty-args-tool-call": "one tool call with empty arguments and an empty id",
    "usage-null": 'fixed text with "usage": null',
    "no-usage": "fixed text without any usage key",
    "error-in-200": "HTTP 200 whose body is an OpenAI error object",
    "error-<status>": "that HTTP status with an OpenAI error body (429: Retry-After 1)",
    "error-400-context": "400 context_length_exceeded",
    "error-429-retry-<s>": "429 with Retry-After: <s>",
    "error-429-quota": "429 insufficient_quota",
    "html-502": "502 with an nginx HTML page",
    "truncated-json": "HTTP 200 with a JSON body cut in half",
    "slow-<ms>": "waits <ms> milliseconds, then answers like fixed",
    "flaky-<n>-<status>": "the first n requests get <status>, later ones answer like fixed",
    "flaky-<n>-reset": "the first n requests get the connection closed, then like fixed",
    "reset": "closes the connection without answering",
    "stall": "never answers (until the client or the gateway gives up)",
    "chunks-<n>": "answers 'tok0 tok1 ...' in exactly n stream chunks",
    "stream-error-midway": "streamed: a few chunks, then an error event and no [DONE]",
    "stream-cut": "streamed: a few chunks, then the connection drops without [DONE]",
    "stream-stall": "streamed: a few chunks, then silence until the client gives up",
    "drip-<ms>": "streamed: 20 chunks ('tok0 tok1 ...'), <ms> milliseconds apart",
    "chaos-<seed>": "20% faults (429 Retry-After 0, 503, reset, stall) drawn from the seed and "
    "the request number; the rest answer like echo",
    "no-stream": "answers like fixed, but rejects stream=true with a 400",
    "stream-<shape>": "stream only: canned odd shapes (see llmport.testing.stream_shapes)",
}

_LISTED_MODELS = (
    *(name for name in MODELS if "<" not in name),
    *("error-400", "error-400-context", "error-401", "error-403", "error-404", "error-429"),
    *("error-429-quota", "error-429-retry-3", "error-500", "error-503", "slow-200"),
    *("flaky-2-503", "flaky-1-reset", "chunks-16"),
)
_CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
_WORD = re.compile(r"\S+\s*|\s+")
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_BROKEN_TEXT = "This answer never finishes because the stream breaks."


# --- what a model answers ---------------------------------------------------------------


@dataclass
class _Completion:
    """A successful chat completion, rendered as JSON or as an SSE stream.

    A `stream_fault` only breaks streamed answers; a plain request gets the whole text.
    `truncated` sends the first half of the JSON body instead, streamed or not.
    """

    content: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    usage: Literal["normal", "null", "absent"] = "normal"
    stream_fault: Literal["", "error", "cut", "stall"] = ""
    frame_delay: float = 0.0
    truncated: bool = False


@dataclass
class _Raw:
    """A literal HTTP response, the same for streaming and non-streaming requests."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _Delay:
    """Wait (without blocking the loop), then give `then`."""

    seconds: float
    then: _Outcome


_Outcome: TypeAlias = "_Completion | _Raw | _Delay | Literal['reset', 'stall']"


@dataclass
class _Call:
    """One chat completion request for a known model."""

    model: str  # as requested
    body: dict[str, Any]
    number: int  # gateway-wide response counter
    attempt: int  # requests for this model name since the last clear(), this one included
    behaviour: Callable[[_Call], _Outcome]


def _json_raw(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> _Raw:
    return _Raw(status, _ENCODER.encode(payload).encode(), headers=headers)


def _error(status: int, message: str, kind: str, code: str | int | None, **headers: str) -> _Raw:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return _json_raw(
        status, body, tuple((k.replace("_", "-").title(), v) for k, v in headers.items())
    )


_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("Invalid value for a request parameter.", "invalid_request_error", "invalid_request"),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to use this model.", "permission_error", "permission_denied"),
    404: ("The requested resource does not exist.", "invalid_request_error", "not_found"),
    429: ("Rate limit reached for requests. Please retry shortly.", "requests", "rate_limit"),
    500: ("The server had an error while processing your request.", "server_error", "internal"),
    502: ("Bad gateway.", "server_error", "bad_gateway"),
    503: ("The server is overloaded, please try again later.", "server_error", "unavailable"),
}


def _status_error(status: int, model: str, variant: str | None = None, **headers: str) -> _Raw:
    if variant == "context":
        message = (
            "This model's maximum context length is 8192 tokens. However, your messages"
            " resulted in 12000 tokens. Please reduce the length of the messages."
        )
        return _error(status, message, "invalid_request_error", "context_length_exceeded")
    if variant == "quota":
        message = "You exceeded your current quota, please check your plan and billing details."
        return _error(status, message, "insufficient_quota", "insufficient_quota")
    if status == 404:
        message = f"The model `{model}` does not exist"
        return _error(404, message, "invalid_request_error", "model_not_found", **headers)
    kind = "server_error" if status >= 500 else "invalid_request_error"
    message, kind, code = _ERRORS.get(status, (f"HTTP {status} from the local gateway.", kind, ""))
    return _error(status, message, kind, code or str(status), **headers)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


_EXAMPLE_BY_TYPE: dict[str, Callable[[], Any]] = {
    "integer": lambda: 1,
    "number": lambda: 1.5,
    "boolean": lambda: True,
    "array": list,
    "object": dict,
}


def _example_value(name: str, schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "example"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if isinstance(kind, str) and kind in _EXAMPLE_BY_TYPE:
        return _EXAMPLE_BY_TYPE[kind]()
    return "Paris" if name in ("city", "location") else "example"


def _example_arguments(parameters: Any) -> str:
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    if not isinstance(properties, dict):
        return "{}"
    return json.dumps({name: _example_value(name, spec) for name, spec in properties.items()})


def _offered_functions(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    functions = [t.get("function") for t in tools if isinstance(t, dict)] if tools else []
    return [f for f in functions if isinstance(f, dict) and isinstance(f.get("name"), str)]


def _tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _tool_answer(call: _Call, *, every: bool) -> _Outcome:
    last = call.body["messages"][-1]
    if isinstance(last, dict) and last.get("role") == "tool":
        return _Completion("The tool said: " + _text_of(last.get("content")))
    functions = _offered_functions(call.body)
    if not functions:
        return _Completion("No tools were offered.")
    if every:
        calls = [
            _tool_call(
                f"call_{call.number}_{i}", f["name"], _example_arguments(f.get("parameters"))
            )
            for i, f in enumerate(functions)
        ]
        return _Completion(None, calls, "tool_calls")
    chosen = functions[0]
    choice = call.body.get("tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        wanted = choice["function"].get("name")
        chosen = next((f for f in functions if f["name"] == wanted), chosen)
    arguments = _example_arguments(chosen.get("parameters"))
    return _Completion(
        None, [_tool_call(f"call_{call.number}", chosen["name"], arguments)], "tool_calls"
    )


def _first_tool_name(call: _Call) -> str:
    functions = _offered_functions(call.body)
    return str(functions[0]["name"]) if functions else "get_weather"


def _echo(call: _Call) -> _Outcome:
    users = [m for m in call.body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
    return _Completion(_text_of(users[-1].get("content")) if users else "")


def _truncated_json(call: _Call) -> _Outcome:
    return _Completion(FIXED_TEXT, truncated=True)


_HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    b"</h1></center><hr><center>nginx</center></body></html>\n"
)

_EXACT: dict[str, Callable[[_Call], _Outcome]] = {
    "fixed": lambda call: _Completion(FIXED_TEXT),
    "echo": _echo,
    "tool-call": functools.partial(_tool_answer, every=False),
    "parallel-tool-calls": functools.partial(_tool_answer, every=True),
    "malformed-tool-call": lambda call: _Completion(
        None, [_tool_call(f"call_{call.number}", _first_tool_name(call), '{"city": "Par')], "length"
    ),
    "empty-args-tool-call": lambda call: _Completion(
        None, [_tool_call("", _first_tool_name(call), "")], "tool_calls"
    ),
    "usage-null": lambda call: _Completion(FIXED_TEXT, usage="null"),
    "no-usage": lambda call: _Completion(FIXED_TEXT, usage="absent"),
    "error-in-200": lambda call: _error(200, "upstream failure", "server_error", 500),
    "html-502": lambda call: _Raw(502, _HTML_502, "text/html"),
    "truncated-json": _truncated_json,
    "reset": lambda call: "reset",
    "stall": lambda call: "stall",
    "stream-error-midway": lambda call: _Completion(_BROKEN_TEXT, stream_fault="error"),
    "stream-cut": lambda call: _Completion(_BROKEN_TEXT, stream_fault="cut"),
    "stream-stall": lambda call: _Completion(_BROKEN_TEXT, stream_fault="stall"),
    "no-stream": lambda call: (
        _error(400, "Streaming is not supported for this model.", "invalid_request_error", None)
        if call.body.get("stream") is True
        else _Completion(FIXED_TEXT)
    ),
}


def _error_model(call: _Call, match: re.Match[str]) -> _Outcome:
    status, variant, retry = int(match[1]), match[2], match[3]
    if status == 429 and variant != "quota":
        return _status_error(status, call.model, variant, retry_after=retry or "1")
    return _status_error(status, call.model, variant)


def _flaky_model(call: _Call, match: re.Match[str]) -> _Outcome:
    if call.attempt > int(match[1]):
        return _Completion(FIXED_TEXT)
    if match[2] == "reset":
        return "reset"
    status = int(match[2])
    if status in (429, 503):
        return _status_error(status, call.model, retry_after="0")
    return _status_error(status, call.model)


def _chaos_model(call: _Call, match: re.Match[str]) -> _Outcome:
    """Fault or echo, drawn from the seed and this model's request number (so repeatable)."""
    draw = random.Random(f"{match[1]}:{call.attempt}").random()
    if draw >= 0.2:
        return _echo(call)
    fault = int(draw / 0.05)  # four faults, 5% each
    if fault == 0:
        return _status_error(429, call.model, retry_after="0")
    if fault == 1:
        return _status_error(503, call.model)
    return "reset" if fault == 2 else "stall"


_PATTERNS: list[tuple[re.Pattern[str], Callable[[_Call, re.Match[str]], _Outcome]]] = [
    (re.compile(r"chaos-(\d{1,9})"), _chaos_model),
    (re.compile(r"error-([45]\d\d)(?:-(context|quota|retry-(\d+(?:\.\d+)?)))?"), _error_model),
    (re.compile(r"slow-(\d{1,7})"), lambda c, m: _Delay(int(m[1]) / 1000, _Completion(FIXED_TEXT))),
    (re.compile(r"flaky-(\d{1,6})-(reset|[45]\d\d)"), _flaky_model),
    (
        re.compile(r"drip-(\d{1,6})"),
        lambda c, m: _Completion(
            "".join(f"tok{i} " for i in range(20)), frame_delay=int(m[1]) / 1000
        ),
    ),
    (
        re.compile(r"chunks-(\d{1,6})"),
        lambda c, m: _Completion("".join(f"tok{i} " for i in range(int(m[1])))),
    ),
]


def _behaviour(name: str) -> Callable[[_Call], _Outcome] | None:
    """The behaviour of a model name (provider prefix already stripped), or None if unknown."""
    exact = _EXACT.get(name)
    if exact is not None:
        return exact
    for pattern, behaviour in _PATTERNS:
        match = pattern.fullmatch(name)
        if match is not None:
            return _bound(behaviour, match)
    return None


def _bound(
    behaviour: Callable[[_Call, re.Match[str]], _Outcome], match: re.Match[str]
) -> Callable[[_Call], _Outcome]:
    return lambda call: behaviour(call, match)
