"""Wire-level conformance: hostile or broken answers, served raw on 127.0.0.1.

Every case runs through `LiteLLM` (the real litellm) and `OpenAICompatible`, on each
path it concerns, with one expectation. Where litellm itself makes parity impossible,
the test says why (and so does docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from hostile_server import HostileServer, Script, SeenRequest, Write
from llmport import BaseLLM, ErrorKind, LiteLLM, LLMResponse, OpenAICompatible, RetryPolicy

pytestmark = pytest.mark.integration

USER = [{"role": "user", "content": "hi"}]
KEY = "sk-wire-0123456789"
#: Retries are allowed, so a test can show that a failure is (not) retried.
POLICY = RetryPolicy(max_attempts=2, initial_backoff=0, jitter=False)
DEEP = b"[" * 100_000 + b"]" * 100_000
#: Far past the recursion limit (about 1,000) too, but small: litellm runs its own
#: redaction regexes over an error body, which takes seconds for 200 kB.
DEEP_ERROR = b"[" * 2_000 + b"]" * 2_000
LONG_INTEGER = "9" * 5_000


def http_answer(
    body: bytes,
    *,
    status: str = "200 OK",
    content_type: str = "application/json",
    headers: Sequence[tuple[str, str]] = (),
) -> list[bytes]:
    """A complete HTTP/1.1 response with a Content-Length (no content type when "")."""
    head = [f"HTTP/1.1 {status}", f"content-type: {content_type}", f"content-length: {len(body)}"]
    head = head if content_type else [head[0], head[2]]
    head += [f"{name}: {value}" for name, value in headers]
    head += ["connection: close", "", ""]
    return ["\r\n".join(head).encode() + body]


def sse_answer(*pieces: bytes) -> list[bytes]:
    """An SSE response whose body is `pieces`, ended by closing the connection."""
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
    return [head, *pieces]


@dataclass
class RawServer:
    """The scripted server's address and the requests it has read so far."""

    base_url: str
    seen: list[SeenRequest]

    @property
    def requests(self) -> int:
        return len(self.seen)


@contextmanager
def raw_server(answer: Sequence[bytes]) -> Iterator[RawServer]:
    """Answer every request with exactly the bytes of `answer`, then close."""
    script = Script(tuple(Write(piece) for piece in answer), "close")
    with HostileServer() as server, server.serving(lambda request: script) as seen:
        yield RawServer(server.base_url, seen)


Make = Callable[[RawServer], BaseLLM]
Call = Callable[[BaseLLM], LLMResponse]


def completion(message: dict[str, Any], **extra: Any) -> bytes:
    choice = {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    body = {"id": "x", "object": "chat.completion", "created": 1, "model": "m"}
    return json.dumps({**body, "choices": [choice], "usage": usage, **extra}).encode()


def frame(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    return b"data: " + json.dumps({**chunk, "choices": [choice], **extra}).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


@pytest.fixture(params=["litellm", "openai_compatible"])
def make(request: pytest.FixtureRequest) -> Make:
    def build(server: RawServer) -> BaseLLM:
        if request.param == "litellm":
            return LiteLLM(
                chat_model="openai/m", api_base=server.base_url, api_key=KEY, retry=POLICY
            )
        return OpenAICompatible(chat_model="m", base_url=server.base_url, api_key=KEY, retry=POLICY)

    return build


def _stream(llm: BaseLLM) -> LLMResponse:
    with llm.stream(USER) as stream:
        for _ in stream:
            pass
    return stream.response


async def _astream(llm: BaseLLM) -> LLMResponse:
    async with llm.astream(USER) as stream:
        return await stream.get_response()


BUFFERED: dict[str, Call] = {
    "chat_completions": lambda llm: llm.chat_completions(USER),
    "achat_completions": lambda llm: asyncio.run(llm.achat_completions(USER)),
}
STREAMED: dict[str, Call] = {
    "stream": _stream,
    "astream": lambda llm: asyncio.run(_astream(llm)),
}


@pytest.fixture(params=list(BUFFERED))
def buffered(request: pytest.FixtureRequest) -> Call:
    return BUFFERED[request.param]


@pytest.fixture(params=list(STREAMED))
def streamed(request: pytest.FixtureRequest) -> Call:
    return STREAMED[request.param]


@pytest.fixture(params=[*BUFFERED, *STREAMED])
def any_path(request: pytest.FixtureRequest) -> Call:
    return {**BUFFERED, **STREAMED}[request.param]


def error_of(response: LLMResponse) -> tuple[ErrorKind, int]:
    assert response.error is not None, response
    return response.error.kind, response.attempts


# --- exceptions never escape -----------------------------------------------------------


def test_a_deeply_nested_error_body_is_a_server_error_described_not_echoed(
    make: Make, any_path: Call
) -> None:
    with raw_server(http_answer(b'{"error": ' + DEEP_ERROR + b"}", status="500 Oops")) as server:
        response = any_path(make(server))
    assert response.error is not None
    assert response.error.kind is ErrorKind.SERVER
    assert "[[[" not in response.error.message


def test_a_deeply_nested_200_body_is_bad_response_and_not_retried(
    make: Make, any_path: Call
) -> None:
    with raw_server(http_answer(b'{"choices": ' + DEEP + b"}")) as server:
        response = any_path(make(server))
        assert error_of(response) == (ErrorKind.BAD_RESPONSE, 1)
        assert server.requests == 1


def test_a_deeply_nested_stream_chunk_is_bad_response_with_partial_content(
    make: Make, streamed: Call
) -> None:
    answer = sse_answer(frame({"content": "he"}), b"data: " + DEEP + b"\n\n", DONE)
    with raw_server(answer) as server:
        response = streamed(make(server))
    assert error_of(response) == (ErrorKind.BAD_RESPONSE, 1)
    assert response.content == "he"


def test_a_streamed_overlong_integer_argument_is_kept_raw(make: Make, streamed: Call) -> None:
    arguments = '{"n": ' + LONG_INTEGER + "}"
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f"}}
    fragment = {"index": 0, "function": {"arguments": arguments}}
    answer = sse_answer(
        frame({"tool_calls": [call]}),
        frame({"tool_calls": [fragment]}),
        frame({}, "tool_calls"),
        DONE,
    )
    with raw_server(answer) as server:
        response = streamed(make(server))
    assert response.ok
    assert response.tool_calls[0].raw_arguments == arguments
    assert response.tool_calls[0].arguments_error is not None


def test_a_buffered_overlong_integer_argument_is_kept_raw_on_the_direct_path(
    buffered: Call,
) -> None:
    # Through LiteLLM, litellm's own response validation rejects this answer before
    # llmport sees it: there it is bad_response (see the next test).
    arguments = '{"n": ' + LONG_INTEGER + "}"
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    body = completion({"content": "hi", "tool_calls": [call]})
    with raw_server(http_answer(body)) as server:
        response = buffered(OpenAICompatible(chat_model="m", base_url=server.base_url))
    assert response.ok
    assert response.tool_calls[0].raw_arguments == arguments
    assert response.tool_calls[0].arguments_error is not None


@pytest.mark.parametrize("count", ["²", "٣", "1" * 5_000])
def test_an_unusable_usage_count_is_unknown_on_the_direct_path(buffered: Call, count: str) -> None:
    usage = {"prompt_tokens": count, "completion_tokens": 2, "total_tokens": 5}
    with raw_server(http_answer(completion({"content": "hello"}, usage=usage))) as server:
        response = buffered(OpenAICompatible(chat_model="m", base_url=server.base_url))
    assert response.ok
    assert response.content == "hello"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (None, 2)


@pytest.mark.parametrize("count", ["²", "1" * 5_000])
def test_litellm_rejects_an_unusable_usage_count_as_bad_response(
    buffered: Call, count: str
) -> None:
    # litellm validates usage counts as integers and refuses the whole answer; llmport
    # cannot recover it, but reports it as what it is, not as a retryable server error.
    usage = {"prompt_tokens": count, "completion_tokens": 2, "total_tokens": 5}
    with raw_server(http_answer(completion({"content": "hello"}, usage=usage))) as server:
        llm = LiteLLM(chat_model="openai/m", api_base=server.base_url, api_key=KEY, retry=POLICY)
        response = buffered(llm)
    assert error_of(response) == (ErrorKind.BAD_RESPONSE, 1)


# --- nothing is cut short silently -------------------------------------------------------

CUT_STREAMS = {
    "cut-mid-frame": sse_answer(frame({"content": "hel"}), frame({"content": "lo"})[:25]),
    "cut-between-frames": sse_answer(frame({"content": "hel"}), frame({"content": "lo"})),
}


@pytest.mark.parametrize("cut", CUT_STREAMS)
def test_a_stream_that_stops_without_a_finish_reason_is_a_connection_error(
    make: Make, streamed: Call, cut: str
) -> None:
    with raw_server(CUT_STREAMS[cut]) as server:
        response = streamed(make(server))
    assert error_of(response) == (ErrorKind.CONNECTION, 1)  # events were shown: no retry
    assert response.content.startswith("hel")
    assert response.usage.total_tokens is None  # not litellm's count of the partial text


def test_a_stream_of_keep_alives_only_is_a_connection_error_and_retried(
    make: Make, streamed: Call
) -> None:
    with raw_server(sse_answer(b": keep-alive\n\n", b": keep-alive\n\n")) as server:
        response = streamed(make(server))
        assert error_of(response) == (ErrorKind.CONNECTION, 2)
        assert server.requests == 2


@pytest.mark.parametrize(
    "paths", [("stream", "chat_completions"), ("astream", "achat_completions")]
)
@pytest.mark.parametrize("data", [b"42", b"null", b"[1,2,3]", b'""'])
def test_a_non_object_data_line_is_bad_response_streamed_as_buffered(
    make: Make, paths: tuple[str, str], data: bytes
) -> None:
    with raw_server(sse_answer(b"data: " + data + b"\n\n", DONE)) as server:
        streamed_kind = error_of(STREAMED[paths[0]](make(server)))
    with raw_server(http_answer(data)) as server:
        buffered_kind = error_of(BUFFERED[paths[1]](make(server)))
    assert streamed_kind == buffered_kind == (ErrorKind.BAD_RESPONSE, 1)


AZURE_FIRST = b'data: {"id": "", "object": "", "created": 0, "model": "", "choices": []}\n\n'


@pytest.mark.parametrize("first", [b"", AZURE_FIRST], ids=["plain", "azure-empty-first-chunk"])
def test_usage_the_stream_did_not_report_is_unknown(
    make: Make, streamed: Call, first: bytes
) -> None:
    answer = sse_answer(first, frame({"content": "hello"}), frame({}, "stop"), DONE)
    with raw_server(answer) as server:
        response = streamed(make(server))
    assert response.ok
    assert response.content == "hello"
    assert response.usage.prompt_tokens is None
    assert response.usage.total_tokens is None


# --- non-JSON answers --------------------------------------------------------------------

HTML = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>"
    + b"private page text " * 30
    + b"</body></html>"
)


def test_an_html_200_is_bad_response_named_by_its_title(make: Make, buffered: Call) -> None:
    with raw_server(http_answer(HTML, content_type="text/html")) as server:
        response = buffered(make(server))
    assert error_of(response) == (ErrorKind.BAD_RESPONSE, 1)
    assert response.error is not None
    assert "HTML page instead of JSON (Sign in)" in response.error.message
    assert "private page text" not in response.error.message


@pytest.mark.parametrize(
    "body",
    [
        frame({"content": "secret-ish text"}) + DONE,
        b"[1, 2]",
        b"42",
        b'"a bare string from the server"',
        b"null",
        completion({"content": "hi"})[:40],
        completion({"content": "hi"}, usage={"prompt_tokens": "N"}).replace(
            b'"N"', LONG_INTEGER.encode()
        ),
    ],
    ids=["sse-text", "list", "number", "string", "null", "truncated-json", "number-too-long"],
)
def test_a_200_that_is_not_a_completion_object_is_bad_response_without_the_body(
    make: Make, buffered: Call, body: bytes
) -> None:
    with raw_server(http_answer(body)) as server:
        response = buffered(make(server))
    assert error_of(response) == (ErrorKind.BAD_RESPONSE, 1)
    assert response.error is not None
    for fragment in ("secret-ish", "bare string", '"id"', "[1, 2]"):
        assert fragment not in response.error.message


@pytest.mark.parametrize(
    "body",
    [b'{"id": "x", "object": "chat.completion"}', b'{"choices": null}', b'{"choices": {}}'],
    ids=["no-choices", "null-choices", "object-choices"],
)
def test_a_200_object_without_a_choices_list_is_bad_response_and_not_retried(
    make: Make, buffered: Call, body: bytes
) -> None:
    with raw_server(http_answer(body)) as server:
        response = buffered(make(server))
    assert error_of(response) == (ErrorKind.BAD_RESPONSE, 1)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"message": "too long", "code": "context_length_exceeded"}, ErrorKind.CONTEXT_LENGTH),
        (
            {"message": "", "type": None, "code": "context_length_exceeded"},
            ErrorKind.CONTEXT_LENGTH,
        ),
        ({"message": "slow down", "code": "429"}, ErrorKind.RATE_LIMIT),
        ({"message": "slow down", "code": 429}, ErrorKind.RATE_LIMIT),
        ({"message": "odd", "code": "no_such_code"}, ErrorKind.SERVER),
    ],
    ids=["named-code", "code-only", "digit-string", "integer", "unknown-code"],
)
def test_an_error_object_in_a_200_is_named_by_its_code_and_keeps_its_message(
    make: Make, buffered: Call, error: dict[str, Any], kind: ErrorKind
) -> None:
    with raw_server(http_answer(json.dumps({"error": error}).encode())) as server:
        response = buffered(make(server))
    assert response.error is not None
    assert response.error.kind is kind
    assert (
        response.error.message
        == f"{kind.value}: {error['message'] or 'provider returned an error'}"
    )


@pytest.mark.parametrize(
    "error",
    [
        {"message": "", "type": "rate_limit_error", "code": None},
        {"message": "Hello", "type": "rate_limit_error", "code": None},
        {"message": "Hello", "type": "rate_limit_error"},
    ],
    ids=["type-only", "type-and-message", "no-code-key"],
)
def test_an_error_object_in_a_200_named_by_its_type_is_that_kind_and_retried(
    make: Make, buffered: Call, error: dict[str, Any]
) -> None:
    with raw_server(http_answer(json.dumps({"error": error}).encode())) as server:
        response = buffered(make(server))
    assert error_of(response) == (ErrorKind.RATE_LIMIT, 2)


def test_an_error_answer_is_judged_by_its_status_even_when_its_body_says_rate_limit(
    make: Make, any_path: Call
) -> None:
    body = json.dumps({"error": {"message": "Hello", "type": "rate_limit_error"}}).encode()
    with raw_server(http_answer(body, status="400 Bad Request")) as server:
        response = any_path(make(server))
    assert error_of(response) == (ErrorKind.INVALID_REQUEST, 1)


def test_content_as_a_list_of_parts_is_read_directly_but_refused_by_litellm(
    make: Make, buffered: Call
) -> None:
    # litellm raises "Invalid response object" for content given as a list of parts;
    # the direct path reads the text. llmport cannot undo litellm's refusal.
    body = completion({"content": [{"type": "text", "text": "hi"}]})
    with raw_server(http_answer(body)) as server:
        llm = make(server)
        response = buffered(llm)
    if isinstance(llm, LiteLLM):
        assert error_of(response) == (ErrorKind.BAD_RESPONSE, 1)
    else:
        assert response.content == "hi"


# --- error kinds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ({"message": "overloaded now", "type": "server_error", "code": 503}, ErrorKind.SERVER),
        ({"message": "slow down", "code": "rate_limit_exceeded"}, ErrorKind.RATE_LIMIT),
    ],
)
def test_an_error_event_mid_stream_is_the_providers_error_with_partial_content(
    make: Make, streamed: Call, event: dict[str, Any], kind: ErrorKind
) -> None:
    error_event = b"data: " + json.dumps({"error": event}).encode() + b"\n\n"
    with raw_server(sse_answer(frame({"content": "hel"}), error_event)) as server:
        response = streamed(make(server))
    assert error_of(response) == (kind, 1)
    assert response.content == "hel"
    assert response.error is not None
    assert event["message"] in response.error.message


def test_a_refusal_before_an_error_event_is_kept_in_the_partial_answer(
    make: Make, streamed: Call
) -> None:
    error_event = b"data: " + json.dumps({"error": {"message": "overloaded"}}).encode() + b"\n\n"
    refusal = frame({"refusal": "I can't"})
    with raw_server(sse_answer(frame({"role": "assistant"}), refusal, error_event)) as server:
        response = streamed(make(server))
    assert response.error is not None
    assert response.refusal == "I can't"


def test_a_refusal_is_the_content_and_kept_as_refusal(make: Make, buffered: Call) -> None:
    body = completion({"content": None, "refusal": "I can't help with that."})
    with raw_server(http_answer(body)) as server:
        response = buffered(make(server))
    assert response.ok
    assert response.content == response.refusal == "I can't help with that."


def framed_answer(framing: str) -> tuple[bytes, str]:
    """A finished answer as a JSON document or an event stream, and its content type."""
    if framing == "json":
        return completion({"content": "hello"}), "application/json"
    return frame({"content": "hel"}, "stop") + DONE, "text/event-stream"


@pytest.mark.parametrize("framing", ["json", "event-stream"])
def test_a_body_that_lies_about_its_content_encoding_is_bad_response(
    make: Make, any_path: Call, framing: str
) -> None:
    body, content_type = framed_answer(framing)
    gzip = [("content-encoding", "gzip")]
    with raw_server(http_answer(body, content_type=content_type, headers=gzip)) as server:
        response = any_path(make(server))
        assert error_of(response) == (ErrorKind.BAD_RESPONSE, 1)
        assert server.requests == 1


def test_a_streamed_refusal_is_the_content_and_kept_as_refusal(make: Make, streamed: Call) -> None:
    answer = sse_answer(
        frame({"refusal": "I can't "}), frame({"refusal": "help."}), frame({}, "stop"), DONE
    )
    with raw_server(answer) as server:
        response = streamed(make(server))
    assert response.ok
    assert response.content == response.refusal == "I can't help."


@pytest.mark.parametrize("framing", ["json", "event-stream"])
def test_a_204_with_a_body_is_bad_response_and_not_retried(
    make: Make, any_path: Call, framing: str
) -> None:
    # A 204 has no body by definition: httpx drops the bytes and reads an empty answer
    # (no events: not a stream cut short), aiohttp reads them as the next response's
    # status line. Either way the server sent no completion, and the HTTP parser's own
    # "400" is not a status the server sent.
    body, content_type = framed_answer(framing)
    answer = http_answer(body, status="204 No Content", content_type=content_type)
    with raw_server(answer) as server:
        response = any_path(make(server))
        assert error_of(response) == (ErrorKind.BAD_RESPONSE, 1)
        assert response.error is not None
        assert response.error.status_code is None
        assert server.requests == 1


@pytest.mark.parametrize(
    "head",
    [f"HTTP/1.1 2OO {KEY}", "HTTP/2 200 OK", f"HTTP/1.1 200 OK\r\nno colon {KEY}"],
    ids=["garbled-status", "http2-status-line", "header-without-colon"],
)
def test_a_response_head_that_is_not_http_is_bad_response_and_not_retried(
    make: Make, any_path: Call, head: str
) -> None:
    # httpx and aiohttp each refuse the head with an error of their own parser: the
    # server's bytes are wrong, so trying again would only read them again.
    body = completion({"content": "hello"})
    lines = [head, "content-type: application/json", f"content-length: {len(body)}", "", ""]
    with raw_server(["\r\n".join(lines).encode() + body]) as server:
        response = any_path(make(server))
        assert error_of(response) == (ErrorKind.BAD_RESPONSE, 1)
        assert response.error is not None
        assert response.error.status_code is None
        assert KEY not in response.error.message
        assert KEY not in repr(response)
        assert server.requests == 1


@pytest.mark.parametrize("status", ["600 Beyond", "999 Request Denied"])
def test_an_answer_with_a_status_past_599_is_described_not_echoed(
    make: Make, buffered: Call, status: str
) -> None:
    body = completion({"content": "s3cr3t-body-text"})
    with raw_server(http_answer(body, status=status)) as server:
        response = buffered(make(server))
    assert response.error is not None
    assert "s3cr3t-body-text" not in response.error.message
    assert "s3cr3t-body-text" not in repr(response.error)
    assert response.error.kind is ErrorKind.SERVER  # past 5xx: the server's fault, as 5xx


@pytest.mark.parametrize(
    ("status", "body"),
    [("205 Reset Content", b""), ("200 OK", b""), ("200 OK", b'data: {"choices": []}\n\n')],
    ids=["205-empty", "200-empty", "200-events"],
)
def test_a_stream_answer_without_a_content_type_is_bad_response_on_both_providers(
    make: Make, streamed: Call, status: str, body: bytes
) -> None:
    # Without `text/event-stream` an answer is not read as events (the direct provider
    # decodes it whole), so an empty one is no answer, not a stream cut short.
    with raw_server(http_answer(body, status=status, content_type="")) as server:
        response = streamed(make(server))
        assert error_of(response) == (ErrorKind.BAD_RESPONSE, 1)
        assert server.requests == 1
