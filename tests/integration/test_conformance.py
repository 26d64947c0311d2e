"""One conformance suite, run by every built-in HTTP provider with one expectation.

Both `LiteLLM` (through the real litellm) and `OpenAICompatible` (direct HTTP) must
give the same `LLMResponse` for the same backend behaviour: sync and async against the
local gateway, and on all four paths against a scripted server for the wire quirks
(deep JSON, huge integers, odd usage counts, non-JSON and non-object bodies, cut
streams, error events, encoding lies, an echoed key, redirects). Where litellm itself
makes parity impossible, the test says why (and docs/decisions.md does too).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from hostile_server import HostileServer, Script, SeenRequest, Write
from llmport import BaseLLM, ErrorKind, LiteLLM, LLMResponse, OpenAICompatible, RetryPolicy, Usage
from llmport.streaming import StreamEvent
from llmport.testing import LocalGateway
from reachable import reported, strings_in
from wire_behaviours import KEY as ECHOED
from wire_behaviours import Answer, Behaviour, Deep, ErrorObject, Raw, Tool, Value
from wire_render import render

pytestmark = pytest.mark.integration

KEY = "sk-conformance-0123456789"
USER = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
Make = Callable[..., BaseLLM]


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway(api_key=KEY) as running:
        yield running


@pytest.fixture(params=["litellm", "openai_compatible"])
def make(request: pytest.FixtureRequest, gateway: LocalGateway) -> Make:
    def build(model: str, **settings: Any) -> BaseLLM:
        settings.setdefault("retry", RetryPolicy.never())
        settings.setdefault("api_key", KEY)
        if request.param == "litellm":
            return LiteLLM(chat_model=f"openai/{model}", api_base=gateway.base_url, **settings)
        return OpenAICompatible(chat_model=model, base_url=gateway.base_url, **settings)

    return build


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest) -> Callable[..., LLMResponse]:
    def run(llm: BaseLLM, **kwargs: Any) -> LLMResponse:
        if request.param == "sync":
            return llm.chat_completions(USER, **kwargs)
        import asyncio

        return asyncio.run(llm.achat_completions(USER, **kwargs))

    return run


def test_text(make: Make, call: Callable[..., LLMResponse]) -> None:
    response = call(make("fixed"))
    assert response.ok
    assert response.content == "Hello from the llmport local gateway."
    assert response.finish_reason == "stop"
    assert response.usage.prompt_tokens == 7


def test_tool_call(make: Make, call: Callable[..., LLMResponse]) -> None:
    response = call(make("tool-call"), tools=WEATHER)
    assert response.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]


def test_malformed_tool_arguments(make: Make, call: Callable[..., LLMResponse]) -> None:
    tool_call = call(make("malformed-tool-call"), tools=WEATHER).tool_calls[0]
    assert tool_call.arguments == {}
    assert tool_call.raw_arguments == '{"city": "Par'
    assert tool_call.arguments_error is not None


def test_usage_absent_is_unknown(make: Make, call: Callable[..., LLMResponse]) -> None:
    response = call(make("no-usage"))
    assert response.ok
    assert response.usage.prompt_tokens is None
    assert response.usage.total_tokens is None


@pytest.mark.parametrize(
    ("model", "kind", "status", "retry_after"),
    [
        ("error-401", ErrorKind.AUTH, 401, None),
        ("error-429-retry-3", ErrorKind.RATE_LIMIT, 429, 3.0),
        ("error-500", ErrorKind.SERVER, 500, None),
        ("html-502", ErrorKind.SERVER, 502, None),
    ],
)
def test_error_statuses(
    make: Make,
    call: Callable[..., LLMResponse],
    model: str,
    kind: ErrorKind,
    status: int,
    retry_after: float | None,
) -> None:
    response = call(make(model))
    assert response.error is not None
    assert (response.error.kind, response.error.status_code) == (kind, status)
    assert response.error.retry_after == retry_after
    assert "<html" not in response.error.message.lower()
    assert KEY not in response.error.message


def test_truncated_json_is_bad_response(make: Make, call: Callable[..., LLMResponse]) -> None:
    response = call(make("truncated-json"))
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE


def test_timeout(make: Make, call: Callable[..., LLMResponse]) -> None:
    response = call(make("slow-3000", timeout=0.3))
    assert response.error is not None
    assert response.error.kind is ErrorKind.TIMEOUT


# --- wire quirks: a scripted server sends exactly these bytes, on all four paths ---------
#
# `Behaviour` (tests/wire_behaviours.py) renders the same payload as a JSON body for a
# buffered call and as SSE for a stream; `KEY` is replaced by the key the client sent.

PATHS = ("chat_completions", "achat_completions", "stream", "astream")
STREAMS = ("stream", "astream")
WIRE_KEY = "wire-canary-58c1f0a9d2"


@pytest.fixture(scope="module")
def wire() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


@pytest.fixture(params=["litellm", "openai_compatible"])
def direct_or_litellm(request: pytest.FixtureRequest, wire: HostileServer) -> BaseLLM:
    return _provider(request.param, wire)


def _provider(name: str, wire: HostileServer) -> BaseLLM:
    settings: dict[str, Any] = {"retry": RetryPolicy.never(), "api_key": WIRE_KEY, "timeout": 5}
    if name == "litellm":
        return LiteLLM(chat_model="openai/wire", api_base=wire.base_url, **settings)
    return OpenAICompatible(chat_model="wire", base_url=wire.base_url, **settings)


@dataclass
class Played:
    """One call against the scripted server."""

    response: LLMResponse
    events: list[StreamEvent]
    requested_paths: list[str]


def play(
    llm: BaseLLM, path: str, wire: HostileServer, answer: Behaviour | Callable[..., Script]
) -> Played:
    origin = wire.base_url.removesuffix("/v1")

    def respond(request: SeenRequest) -> Script:
        if isinstance(answer, Behaviour):
            return render(answer, request, origin).script
        return answer(request)

    events: list[StreamEvent] = []
    with wire.serving(respond) as seen:
        if path == "chat_completions":
            response = llm.chat_completions(USER)
        elif path == "achat_completions":
            response = asyncio.run(llm.achat_completions(USER))
        elif path == "stream":
            with llm.stream(USER) as stream:
                events = list(stream)
            response = stream.response
        else:
            response = asyncio.run(_astream(llm, events))
    return Played(response, events, [request.path for request in seen])


async def _astream(llm: BaseLLM, events: list[StreamEvent]) -> LLMResponse:
    async with llm.astream(USER) as stream:
        async for event in stream:
            events.append(event)
    return stream.response


def sse(*frames: bytes, then: Literal["close", "stall"] = "close") -> Callable[..., Script]:
    """A close-delimited SSE answer made of exactly `frames`."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    return lambda request: Script((Write(head), *(Write(f) for f in frames)), then)


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    body = {"id": "c1", "model": "wire", "choices": [choice]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


@pytest.mark.parametrize("path", PATHS)
def test_deeply_nested_2xx_body_is_bad_response(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str
) -> None:
    response = play(direct_or_litellm, path, wire, Behaviour(payload=Deep("body"))).response
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("status", "kind"), [(400, ErrorKind.INVALID_REQUEST), (500, ErrorKind.SERVER)]
)
def test_deeply_nested_error_body_keeps_the_status_kind(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str, status: int, kind: ErrorKind
) -> None:
    behaviour = Behaviour(status=status, payload=Deep("error"))
    response = play(direct_or_litellm, path, wire, behaviour).response
    assert response.error is not None
    assert (response.error.kind, response.error.status_code) == (kind, status)


def _refused_by_litellm(llm: BaseLLM, path: str, response: LLMResponse) -> bool:
    """True when litellm refused a buffered answer whole, as it does for a field of the
    wrong type (an integer of over 4,300 digits in tool arguments, a usage count that is
    a string): it validates the answer before llmport sees it, so parity is impossible
    there (docs/decisions.md, "Where litellm makes parity impossible"). The refusal must
    then be `bad_response`, not retried. Streams are read before litellm and keep parity.
    """
    if not isinstance(llm, LiteLLM) or path not in ("chat_completions", "achat_completions"):
        return False
    assert response.error is not None
    assert (response.error.kind, response.attempts) == (ErrorKind.BAD_RESPONSE, 1)
    return True


@pytest.mark.parametrize("path", PATHS)
def test_huge_integer_tool_arguments_are_kept_raw(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str
) -> None:
    answer = Answer(None, tools=(Tool("call_1", "get_weather", "huge-int"),), finish="tool_calls")
    response = play(direct_or_litellm, path, wire, Behaviour(payload=answer)).response
    if _refused_by_litellm(direct_or_litellm, path, response):
        return
    assert response.ok
    [call] = response.tool_calls
    assert (call.name, call.arguments) == ("get_weather", {})
    assert (call.raw_arguments or "").startswith('{"n": 9999')
    assert call.arguments_error is not None


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("count", ["superscript", "arabic-indic", "5000-digits", "negative"])
def test_unusable_usage_count_is_unknown_and_the_answer_stays(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str, count: str
) -> None:
    usage = (("prompt_tokens", count), ("completion_tokens", "int"))
    response = play(direct_or_litellm, path, wire, Behaviour(payload=Answer("Hi", usage=usage)))
    if count != "negative" and _refused_by_litellm(direct_or_litellm, path, response.response):
        return
    assert response.response.ok
    assert response.response.content == "Hi"
    assert reported(response.response.usage).prompt_tokens is None


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("usage", ["null", "absent"])
def test_usage_the_server_did_not_send_is_unknown(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str, usage: str
) -> None:
    response = play(direct_or_litellm, path, wire, Behaviour(payload=Answer("Hi", usage=usage)))
    assert response.response.ok
    assert reported(response.response.usage) == Usage()


@pytest.mark.parametrize("path", PATHS)
def test_partly_reported_usage_keeps_the_missing_counts_unknown(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str
) -> None:
    behaviour = Behaviour(payload=Answer("Hi", usage=(("prompt_tokens", "int"),)))
    usage = reported(play(direct_or_litellm, path, wire, behaviour).response.usage)
    assert (usage.prompt_tokens, usage.completion_tokens) == (7, None)


@pytest.mark.parametrize("path", ["chat_completions", "achat_completions"])
def test_html_200_is_bad_response_without_the_page(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str
) -> None:
    behaviour = Behaviour(payload=Raw("html"), content_type="text/html")
    response = play(direct_or_litellm, path, wire, behaviour).response
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE
    assert "<html" not in response.error.message.lower()
    assert "bad gateway" not in response.error.message
    assert WIRE_KEY not in response.error.message


@pytest.mark.parametrize("path", ["chat_completions", "achat_completions"])
def test_sse_text_sent_to_a_buffered_call_is_bad_response(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str
) -> None:
    behaviour = Behaviour(payload=Raw("sse-text"), content_type="text/event-stream")
    response = play(direct_or_litellm, path, wire, behaviour).response
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE
    assert "data:" not in response.error.message


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "value", [42, None, [1, 2, 3], ""], ids=["number", "null", "list", "empty"]
)
def test_json_that_is_not_an_object_is_bad_response(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str, value: Any
) -> None:
    response = play(direct_or_litellm, path, wire, Behaviour(payload=Value(value))).response
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE


CUTS = {
    "between-frames": (chunk({"content": "Hello "}), chunk({"content": "wor"})),
    "mid-frame": (chunk({"content": "Hello "}), chunk({"content": "wor"}), b'data: {"choi'),
    "keep-alives-only": (b": keep-alive\n\n", b": keep-alive\n\n"),
    "then-bytes-that-are-not-utf-8": (
        chunk({"content": "Hello "}),
        chunk({"content": "wor"}),
        b"\xff\xfe garbage\n\n",
    ),
}


@pytest.mark.parametrize("path", STREAMS)
@pytest.mark.parametrize("cut", sorted(CUTS))
def test_stream_cut_before_its_end_is_a_connection_error_with_partial_content(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str, cut: str
) -> None:
    response = play(direct_or_litellm, path, wire, sse(*CUTS[cut])).response
    assert response.error is not None
    assert response.error.kind is ErrorKind.CONNECTION
    assert response.content == ("" if cut == "keep-alives-only" else "Hello wor")


@pytest.mark.parametrize("path", STREAMS)
def test_mid_stream_error_event_is_the_providers_error_with_partial_content(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str
) -> None:
    error = {"error": {"message": "The server is overloaded", "type": "server_error", "code": 503}}
    frames = (chunk({"content": "Hello "}), b"data: " + json.dumps(error).encode() + b"\n\n")
    response = play(direct_or_litellm, path, wire, sse(*frames)).response
    assert response.error is not None
    assert response.error.kind is ErrorKind.SERVER
    assert response.content == "Hello "


@pytest.mark.parametrize("path", PATHS)
def test_refusal_is_kept(direct_or_litellm: BaseLLM, wire: HostileServer, path: str) -> None:
    answer = Answer(None, refusal="I can't help with that.")
    response = play(direct_or_litellm, path, wire, Behaviour(payload=answer)).response
    assert (response.content, response.refusal) == ("I can't help with that.",) * 2


@pytest.mark.parametrize("path", PATHS)
def test_redirect_is_reported_with_its_status_and_not_followed(
    wire: HostileServer, path: str
) -> None:
    """Direct provider only: litellm's own HTTP clients follow redirects, and llmport
    cannot turn that off without replacing them (docs/decisions.md, "Redirects")."""
    behaviour = Behaviour(
        status=307,
        payload=ErrorObject("moved"),
        headers=(("Location", "{{ORIGIN}}/stolen"),),
    )
    played = play(_provider("openai_compatible", wire), path, wire, behaviour)
    assert played.requested_paths == ["/v1/chat/completions"]
    assert played.response.error is not None
    assert "307" in played.response.error.message or played.response.error.status_code == 307


@pytest.mark.parametrize("path", PATHS)
def test_echoed_key_reaches_no_string_the_caller_sees(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str
) -> None:
    answer = Answer(
        f"your key is {ECHOED}",
        reasoning=ECHOED,
        tools=(Tool(ECHOED, "get_weather", "key"),),
        model=ECHOED,
        id=ECHOED,
        pieces=1,
    )
    played = play(direct_or_litellm, path, wire, Behaviour(payload=answer))
    response = played.response
    visible = [response, repr(response), response.to_message(), played.events]
    assert not [text for text in strings_in(visible) if WIRE_KEY in text]


@pytest.mark.parametrize("path", PATHS)
def test_echoed_key_in_an_error_body_is_redacted(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str
) -> None:
    behaviour = Behaviour(status=401, payload=ErrorObject(f"bad key {ECHOED}", "invalid_api_key"))
    response = play(direct_or_litellm, path, wire, behaviour).response
    assert response.error is not None
    assert response.error.kind is ErrorKind.AUTH
    assert not [text for text in strings_in([response, repr(response)]) if WIRE_KEY in text]


def test_content_encoding_lie_fails_alike_on_every_provider_and_path(wire: HostileServer) -> None:
    behaviour = Behaviour(payload=Answer("Hello"), encoding="gzip-lie")
    outcomes = {
        (name, path): play(_provider(name, wire), path, wire, behaviour).response
        for name in ("litellm", "openai_compatible")
        for path in PATHS
    }
    assert not [where for where, response in outcomes.items() if response.ok]
    kinds = {where: r.error.kind for where, r in outcomes.items() if r.error is not None}
    assert len(set(kinds.values())) == 1, kinds


@pytest.mark.parametrize("path", ["chat_completions", "achat_completions"])
def test_content_as_a_list_of_parts(wire: HostileServer, path: str) -> None:
    """Parity is impossible here: litellm rejects the payload before llmport sees it.

    The direct provider joins the text parts; litellm raises "Invalid response object"
    for a message whose content is a list, so LiteLLM reports `bad_response` (see
    docs/decisions.md, "Conformance: where litellm differs").
    """
    message = {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]}
    body = {"id": "c1", "model": "wire", "choices": [{"index": 0, "message": message}]}
    behaviour = Behaviour(payload=Value(body))
    direct = play(_provider("openai_compatible", wire), path, wire, behaviour).response
    through_litellm = play(_provider("litellm", wire), path, wire, behaviour).response
    assert (direct.ok, direct.content) == (True, "Hello")
    assert through_litellm.error is not None
    assert through_litellm.error.kind is ErrorKind.BAD_RESPONSE


def http_error(status: int, body: bytes, content_type: str) -> Callable[..., Script]:
    """A `status` answer with exactly `body`."""
    head = (
        f"HTTP/1.1 {status} Oops\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return lambda request: Script((Write(head + body),), "close")


ERROR_BODIES = {
    "json-without-an-error-message": (
        b'{"detailz": "private upstream text", "trace": [1, 2]}',
        "application/json",
        "server: JSON body without an error message (HTTP 500)",
    ),
    "plain-text": (
        b"private upstream text\nsecond line",
        "text/plain",
        "server: non-JSON body (33 characters) (HTTP 500)",
    ),
    "provider-error-message": (
        b'{"error": {"message": "The engine is overloaded"}}',
        "application/json",
        "server: The engine is overloaded (HTTP 500)",
    ),
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("body", sorted(ERROR_BODIES))
def test_an_error_body_is_summarised_the_same_way_never_copied(
    direct_or_litellm: BaseLLM, wire: HostileServer, path: str, body: str
) -> None:
    content, content_type, message = ERROR_BODIES[body]
    response = play(direct_or_litellm, path, wire, http_error(500, content, content_type)).response
    assert response.error is not None
    assert response.error.message == message
