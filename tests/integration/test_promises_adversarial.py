"""The four promises against server behaviours the other suites do not script.

Each test is one hostile answer served on loopback to both providers on the paths it
concerns: nothing raises, no key leaks, the kind is right, and a cut-short or padded
answer never passes as the model's complete answer.
"""

from __future__ import annotations

import json

import pytest
from hostile import (
    PATHS,
    PROVIDERS,
    HostileServer,
    Reply,
    Request,
    call_path,
    chunk,
    completion,
    json_reply,
    make_llm,
    sse_reply,
)

from llmport import ConfigurationError, ErrorKind, LLMResponseStatus

pytestmark = pytest.mark.integration

STREAM_PATHS = ("stream", "astream")
#: Not shaped like any known credential: only knowing it as a secret can hide it.
KEY = "qz7-canary-Ahx93kLmW2"


def done_then_more(request: Request) -> Reply:
    """`[DONE]`, then more data in the same write: a server that pads its stream."""
    reply = sse_reply([chunk("answer"), chunk(None, "stop")], done=False)
    tail = f"data: [DONE]\n\ndata: {json.dumps(chunk(' injected'))}\n\ndata: [DONE]\n\n"
    reply.pieces = [*reply.pieces, tail.encode()]
    return reply


@pytest.mark.parametrize("path", STREAM_PATHS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_data_after_done_is_not_part_of_the_answer(provider: str, path: str) -> None:
    with HostileServer(done_then_more) as server:
        response, events = call_path(make_llm(provider, server, api_key=KEY), path)
    assert response.status is LLMResponseStatus.SUCCESS
    assert response.content == "answer"
    assert "injected" not in "".join(getattr(event, "text", "") for event in events)


def long_error_echoing_the_key(request: Request) -> Reply:
    """A 500 whose plain-text body is long enough that the key straddles the cut."""
    key = request.headers["authorization"].removeprefix("Bearer ")
    body = ("." * 285 + " key " + key).encode()
    return Reply(500, {"content-type": "text/plain"}, [body], length=len(body))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_error_message_cut_inside_the_key_shows_no_part_of_it(provider: str, path: str) -> None:
    with HostileServer(long_error_echoing_the_key) as server:
        response, _ = call_path(make_llm(provider, server, api_key=KEY), path)
    assert response.error is not None
    # However the message was shortened (litellm versions word it differently), no start
    # of the key survives the cut.
    assert not any(KEY[:n] in response.error.message for n in range(4, len(KEY) + 1))
    assert KEY[:4] not in repr(response)


UNSENDABLE = ["ключ-секретный-0123", "sk-été-0123456789", "sk-line\r\nX-Injected: 1"]


@pytest.mark.parametrize("key", UNSENDABLE, ids=["cyrillic", "accented", "crlf"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_key_no_http_header_can_carry_is_refused_before_any_request(
    provider: str, key: str
) -> None:
    with HostileServer(lambda request: json_reply(completion())) as server:
        with pytest.raises(ConfigurationError, match="api_key") as raised:
            make_llm(provider, server, api_key=key)
        assert server.requests == []
    assert key not in str(raised.value)


@pytest.mark.parametrize("key", UNSENDABLE, ids=["cyrillic", "accented", "crlf"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_per_call_header_no_http_header_can_carry_is_refused_before_any_request(
    provider: str, key: str
) -> None:
    with HostileServer(lambda request: json_reply(completion())) as server:
        llm = make_llm(provider, server, api_key=KEY)
        with pytest.raises(ValueError, match="extra_headers") as raised:
            call_path(llm, "sync", extra_headers={"Authorization": f"Bearer {key}"})
        assert server.requests == []
    assert key not in str(raised.value)


def stream_with_bom(request: Request) -> Reply:
    """A stream that starts with a UTF-8 byte-order mark, which the SSE spec says to skip."""
    reply = sse_reply([chunk("first"), chunk(" second"), chunk(None, "stop")])
    pieces = list(reply.pieces)
    reply.pieces = [b"\xef\xbb\xbf" + pieces[0], *pieces[1:]]
    return reply


@pytest.mark.parametrize("path", STREAM_PATHS)
@pytest.mark.parametrize(
    "provider",
    [
        pytest.param(
            "litellm",
            marks=pytest.mark.xfail(
                strict=True,
                reason="the openai SDK's SSE parser under litellm reads the BOM as part of the "
                "first field name and drops that event (docs/decisions.md)",
            ),
        ),
        "openai_compatible",
    ],
)
def test_a_byte_order_mark_before_a_stream_loses_no_text(provider: str, path: str) -> None:
    with HostileServer(stream_with_bom) as server:
        response, _ = call_path(make_llm(provider, server, api_key=KEY), path)
    assert response.content == "first second"


def chunked_then_cut(request: Request) -> Reply:
    """A chunked answer whose last chunk announces 256 bytes and sends two."""
    if request.body.get("stream"):
        body = f"data: {json.dumps(chunk('hello'))}\n\n".encode()
        content_type = "text/event-stream"
    else:
        body, content_type = b'{"id": "chatcmpl-1"', "application/json"
    first = b"%x\r\n" % len(body) + body + b"\r\n"
    return Reply(
        200, {"content-type": content_type, "transfer-encoding": "chunked"}, [first, b"100\r\nda"]
    )


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_chunked_body_cut_short_is_a_connection_error(provider: str, path: str) -> None:
    with HostileServer(chunked_then_cut) as server:
        response, _ = call_path(make_llm(provider, server, api_key=KEY), path)
    assert response.error is not None
    assert response.error.kind is ErrorKind.CONNECTION
    assert response.content == ("hello" if path in STREAM_PATHS else "")
