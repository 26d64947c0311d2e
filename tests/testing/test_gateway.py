"""LocalGateway: a real HTTP server on 127.0.0.1, driven with stdlib clients and httpx."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from llmport.testing.gateway import MODELS, LocalGateway

USER = [{"role": "user", "content": "What is the weather in Paris?"}]
FIXED = "Hello from the llmport local gateway."
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
EVERY_TYPE = {
    "type": "function",
    "function": {
        "name": "book",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "note": {"type": "string"},
                "nights": {"type": "integer"},
                "budget": {"type": "number"},
                "breakfast": {"type": "boolean"},
                "guests": {"type": "array", "items": {"type": "string"}},
                "extras": {"type": "object"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
        },
    },
}

Reply = tuple[int, dict[str, str], bytes]


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway() as running:
        yield running


def request(
    gateway: LocalGateway,
    method: str,
    path: str,
    body: dict[str, Any] | bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
    try:
        payload = json.dumps(body).encode() if isinstance(body, dict) else body
        sent = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=payload, headers=sent)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def chat(gateway: LocalGateway, model: str, messages: Any = None, **extra: Any) -> Reply:
    body = {"model": model, "messages": USER if messages is None else messages, **extra}
    return request(gateway, "POST", "/v1/chat/completions", body)


def completion(gateway: LocalGateway, model: str, messages: Any = None, **extra: Any) -> Any:
    status, _, raw = chat(gateway, model, messages, **extra)
    assert status == 200, raw
    return json.loads(raw)


def events(raw: bytes) -> list[str]:
    """The `data:` payloads of an SSE body."""
    frames = raw.decode().split("\n\n")
    return [f.removeprefix("data: ") for f in frames if f.startswith("data: ")]


def streamed_text(payloads: list[str]) -> str:
    chunks = [json.loads(p) for p in payloads if p != "[DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


# --- lifecycle ---------------------------------------------------------------------------


def test_start_on_a_free_port_then_stop() -> None:
    gateway = LocalGateway()
    assert gateway.start() is gateway
    try:
        assert gateway.port > 0
        assert gateway.base_url == f"http://127.0.0.1:{gateway.port}/v1"
        assert request(gateway, "GET", "/health")[::2] == (200, b'{"status":"ok"}')
    finally:
        gateway.stop()
    gateway.stop()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", gateway.port), timeout=1).close()


def test_only_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LocalGateway(host="0.0.0.0")


async def test_async_context_manager() -> None:
    async with LocalGateway() as gateway, httpx.AsyncClient(base_url=gateway.base_url) as client:
        response = await client.post("/chat/completions", json={"model": "fixed", "messages": USER})
        assert response.json()["choices"][0]["message"]["content"] == FIXED


async def test_slow_requests_do_not_block_each_other(gateway: LocalGateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=5) as client:
        started = time.perf_counter()
        replies = await asyncio.gather(
            *(
                client.post("/chat/completions", json={"model": "slow-300", "messages": USER})
                for _ in range(20)
            )
        )
        elapsed = time.perf_counter() - started
    assert all(r.status_code == 200 for r in replies)
    assert 0.3 <= elapsed < 1.5


def test_stop_returns_quickly_with_a_stalled_request_in_flight() -> None:
    gateway = LocalGateway().start()
    errors: list[BaseException] = []

    def stalled_client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=2)
        try:
            conn.request(
                "POST", "/v1/chat/completions", json.dumps({"model": "stall", "messages": USER})
            )
            conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(exc)
        finally:
            conn.close()

    client = threading.Thread(target=stalled_client)
    client.start()
    deadline = time.monotonic() + 2
    while not gateway.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.perf_counter()
    gateway.stop()
    assert time.perf_counter() - started < 1.0
    client.join(3)
    assert errors  # the client saw the connection close, without an answer


def test_client_hanging_up_mid_request_is_not_logged(
    gateway: LocalGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = json.dumps({"model": "slow-100", "messages": USER, "stream": True}).encode()
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body)
            )
    time.sleep(0.3)
    assert request(gateway, "GET", "/health")[0] == 200
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# --- routes and validation ----------------------------------------------------------------


def test_models_endpoint_lists_concrete_names(gateway: LocalGateway) -> None:
    status, _, raw = request(gateway, "GET", "/v1/models")
    listing = json.loads(raw)
    assert status == 200
    assert listing["object"] == "list"
    ids = {m["id"] for m in listing["data"]}
    assert {"fixed", "echo", "tool-call", "error-429", "stall"} <= ids
    assert not any("<" in i for i in ids)
    assert all(isinstance(d, str) and d for d in MODELS.values())


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/v1/nothing", None, 404, "unknown_url"),
        ("GET", "/v1/chat/completions", None, 404, "unknown_url"),
        ("POST", "/v1/chat/completions", b"{not json", 400, "invalid_json"),
        ("POST", "/v1/chat/completions", {"messages": USER}, 400, None),
        ("POST", "/v1/chat/completions", {"model": "fixed"}, 400, "invalid_messages"),
        (
            "POST",
            "/v1/chat/completions",
            {"model": "gpt-9", "messages": USER},
            404,
            "model_not_found",
        ),
    ],
)
def test_bad_requests_get_openai_errors(
    gateway: LocalGateway,
    method: str,
    path: str,
    body: dict[str, Any] | bytes | None,
    status: int,
    code: str | None,
) -> None:
    got, headers, raw = request(gateway, method, path, body)
    assert got == status
    assert headers["content-type"] == "application/json"
    assert json.loads(raw)["error"]["code"] == code


def test_unknown_model_message(gateway: LocalGateway) -> None:
    status, _, raw = chat(gateway, "openai/gpt-9")
    assert status == 404
    assert json.loads(raw)["error"]["message"] == "The model `openai/gpt-9` does not exist"


def test_api_key_is_enforced_and_never_echoed() -> None:
    key = "sk-local-canary-42"
    with LocalGateway(api_key=key) as gateway:
        body = {"model": "fixed", "messages": USER}
        for headers in ({}, {"Authorization": "Bearer sk-wrong"}, {"Authorization": key}):
            status, _, raw = request(gateway, "POST", "/v1/chat/completions", body, headers)
            assert status == 401
            assert json.loads(raw) == {
                "error": {
                    "message": "Incorrect API key provided.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            }
            assert key.encode() not in raw
        good = {"Authorization": f"Bearer {key}"}
        assert request(gateway, "POST", "/v1/chat/completions", body, good)[0] == 200
        assert request(gateway, "GET", "/health")[0] == 200


def test_records_requests(gateway: LocalGateway) -> None:
    gateway.clear()
    chat(gateway, "echo", temperature=0.5, tools=[WEATHER])
    [recorded] = gateway.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/chat/completions")
    assert recorded.headers["content-type"] == "application/json"
    assert recorded.body == {
        "model": "echo",
        "messages": USER,
        "temperature": 0.5,
        "tools": [WEATHER],
    }
    gateway.clear()
    assert gateway.requests == []


def test_recording_can_be_switched_off() -> None:
    with LocalGateway(record=False) as gateway:
        chat(gateway, "fixed")
        assert gateway.requests == []


def test_keep_alive_reuses_one_connection(gateway: LocalGateway) -> None:
    before = gateway.connections_opened
    with httpx.Client(base_url=gateway.base_url) as client:
        for model in ("fixed", "echo", "error-500"):
            client.post("/chat/completions", json={"model": model, "messages": USER})
        stream = {"model": "chunks-3", "messages": USER, "stream": True}
        assert client.post("/chat/completions", json=stream).text.endswith("data: [DONE]\n\n")
        client.get("/health")
    assert gateway.connections_opened - before == 1


def test_connection_close_is_honoured(gateway: LocalGateway) -> None:
    status, headers, _ = request(gateway, "GET", "/health", headers={"Connection": "close"})
    assert status == 200
    assert headers["connection"] == "close"


def test_malformed_http_gets_400_and_close(gateway: LocalGateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=2) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        reply = b"".join(iter(lambda: sock.recv(4096), b""))
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close" in reply


def test_chunked_request_body(gateway: LocalGateway) -> None:
    body = json.dumps({"model": "echo", "messages": [{"role": "user", "content": "chunky"}]})
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
    try:
        parts = iter([body[:10].encode(), body[10:].encode()])
        conn.request("POST", "/v1/chat/completions", body=parts, encode_chunked=True)
        answer = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    assert answer["choices"][0]["message"]["content"] == "chunky"


# --- answers ------------------------------------------------------------------------------


def test_fixed_answer_shape_and_usage(gateway: LocalGateway) -> None:
    answer = completion(gateway, "fixed")
    assert answer["id"].startswith("chatcmpl-")
    assert answer["object"] == "chat.completion"
    assert isinstance(answer["created"], int)
    assert answer["model"] == "fixed"
    assert answer["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": FIXED}, "finish_reason": "stop"}
    ]
    # one token per message (its role) plus one per word
    assert answer["usage"] == {"prompt_tokens": 7, "completion_tokens": 6, "total_tokens": 13}


def test_echo_strips_provider_prefix_and_joins_parts(gateway: LocalGateway) -> None:
    parts = [{"type": "text", "text": "ping"}, {"type": "text", "text": "pong"}]
    messages = [{"role": "user", "content": "first"}, {"role": "user", "content": parts}]
    answer = completion(gateway, "openai/echo", messages)
    assert answer["model"] == "openai/echo"
    assert answer["choices"][0]["message"]["content"] == "ping pong"


def test_tool_call_arguments_come_from_the_schema(gateway: LocalGateway) -> None:
    answer = completion(gateway, "tool-call", tools=[WEATHER, EVERY_TYPE])
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["id"] == "call_" + answer["id"].removeprefix("chatcmpl-")
    assert call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert answer["usage"]["completion_tokens"] == 10


def test_tool_choice_picks_the_tool(gateway: LocalGateway) -> None:
    choice = {"type": "function", "function": {"name": "book"}}
    answer = completion(gateway, "tool-call", tools=[WEATHER, EVERY_TYPE], tool_choice=choice)
    [call] = answer["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "book"
    assert json.loads(call["function"]["arguments"]) == {
        "location": "Paris",
        "note": "example",
        "nights": 1,
        "budget": 1.5,
        "breakfast": True,
        "guests": [],
        "extras": {},
        "unit": "celsius",
    }


def test_tool_result_follow_up_and_no_tools(gateway: LocalGateway) -> None:
    messages = [
        *USER,
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
    ]
    answer = completion(gateway, "tool-call", messages, tools=[WEATHER])
    assert answer["choices"][0]["message"] == {
        "role": "assistant",
        "content": "The tool said: sunny, 21C",
    }
    assert answer["choices"][0]["finish_reason"] == "stop"
    plain = completion(gateway, "tool-call")["choices"][0]["message"]["content"]
    assert plain == "No tools were offered."


def test_parallel_tool_calls(gateway: LocalGateway) -> None:
    answer = completion(gateway, "parallel-tool-calls", tools=[WEATHER, EVERY_TYPE])
    calls = answer["choices"][0]["message"]["tool_calls"]
    number = answer["id"].removeprefix("chatcmpl-")
    assert [c["id"] for c in calls] == [f"call_{number}_0", f"call_{number}_1"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "book"]
    assert answer["usage"]["completion_tokens"] == 20


def test_broken_tool_calls(gateway: LocalGateway) -> None:
    malformed = completion(gateway, "malformed-tool-call", tools=[WEATHER])["choices"][0]
    assert malformed["finish_reason"] == "length"
    assert malformed["message"]["tool_calls"][0]["function"]["arguments"] == '{"city": "Par'
    empty = completion(gateway, "empty-args-tool-call", tools=[WEATHER])["choices"][0]
    assert empty["message"]["tool_calls"][0]["id"] == ""
    assert empty["message"]["tool_calls"][0]["function"]["arguments"] == ""


def test_usage_null_and_absent(gateway: LocalGateway) -> None:
    assert completion(gateway, "usage-null")["usage"] is None
    assert "usage" not in completion(gateway, "no-usage")


def test_chunks_model_non_streaming(gateway: LocalGateway) -> None:
    content = completion(gateway, "chunks-4")["choices"][0]["message"]["content"]
    assert content == "tok0 tok1 tok2 tok3 "


def test_path_without_v1(gateway: LocalGateway) -> None:
    status, _, raw = request(
        gateway, "POST", "/chat/completions", {"model": "fixed", "messages": USER}
    )
    assert status == 200
    assert json.loads(raw)["choices"][0]["message"]["content"] == FIXED


# --- failures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "status", "code", "retry_after"),
    [
        ("error-400", 400, "invalid_request", None),
        ("error-400-context", 400, "context_length_exceeded", None),
        ("error-401", 401, "invalid_api_key", None),
        ("error-403", 403, "permission_denied", None),
        ("error-404", 404, "model_not_found", None),
        ("error-429", 429, "rate_limit", "1"),
        ("error-429-retry-7", 429, "rate_limit", "7"),
        ("error-429-quota", 429, "insufficient_quota", None),
        ("error-500", 500, "internal", None),
        ("error-503", 503, "unavailable", None),
        ("openai/error-418", 418, "418", None),
    ],
)
def test_error_models(
    gateway: LocalGateway, model: str, status: int, code: str, retry_after: str | None
) -> None:
    for stream in (False, True):  # streaming requests get the same plain HTTP error
        got, headers, raw = chat(gateway, model, stream=stream)
        assert got == status
        assert headers["content-type"] == "application/json"
        assert json.loads(raw)["error"]["code"] == code
        assert headers.get("retry-after") == retry_after


def test_context_error_message(gateway: LocalGateway) -> None:
    message = json.loads(chat(gateway, "error-400-context")[2])["error"]["message"]
    assert message.startswith("This model's maximum context length is 8192 tokens")


def test_error_in_200(gateway: LocalGateway) -> None:
    status, _, raw = chat(gateway, "error-in-200")
    assert status == 200
    assert json.loads(raw)["error"] == {
        "message": "upstream failure",
        "type": "server_error",
        "param": None,
        "code": 500,
    }


def test_html_502(gateway: LocalGateway) -> None:
    status, headers, raw = chat(gateway, "html-502")
    assert status == 502
    assert headers["content-type"].startswith("text/html")
    assert b"<title>502 Bad Gateway</title>" in raw
    assert b"nginx" in raw


def test_truncated_json(gateway: LocalGateway) -> None:
    status, headers, raw = chat(gateway, "truncated-json")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert raw.startswith(b'{"id":"chatcmpl-')
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)


def test_flaky_fails_n_times_then_succeeds_until_clear(gateway: LocalGateway) -> None:
    gateway.clear()
    first, second, third = (chat(gateway, "flaky-2-503") for _ in range(3))
    assert (first[0], first[1]["retry-after"]) == (503, "0")
    assert second[0] == 503
    assert third[0] == 200
    assert chat(gateway, "openai/flaky-2-429")[1]["retry-after"] == "0"
    assert chat(gateway, "flaky-1-500")[0] == 500
    gateway.clear()
    assert chat(gateway, "flaky-2-503")[0] == 503


def test_reset_models_close_without_answer(gateway: LocalGateway) -> None:
    gateway.clear()
    with pytest.raises(http.client.RemoteDisconnected):
        chat(gateway, "reset")
    with pytest.raises(http.client.RemoteDisconnected):
        chat(gateway, "flaky-1-reset")
    assert chat(gateway, "flaky-1-reset")[0] == 200


def test_slow_model_waits(gateway: LocalGateway) -> None:
    started = time.perf_counter()
    assert completion(gateway, "slow-150")["choices"][0]["message"]["content"] == FIXED
    assert time.perf_counter() - started >= 0.15


# --- streaming ----------------------------------------------------------------------------


def test_stream_joins_back_to_the_text(gateway: LocalGateway) -> None:
    text = "  Hello,   streaming\nworld!  "
    status, headers, raw = chat(gateway, "echo", [{"role": "user", "content": text}], stream=True)
    assert status == 200
    assert headers["content-type"] == "text/event-stream"
    assert headers["transfer-encoding"] == "chunked"
    payloads = events(raw)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert streamed_text(payloads) == text
    assert "usage" not in chunks[-1]


def test_stream_include_usage(gateway: LocalGateway) -> None:
    payloads = events(
        chat(gateway, "fixed", stream=True, stream_options={"include_usage": True})[2]
    )
    last = json.loads(payloads[-2])
    assert last["choices"] == []
    assert last["usage"] == {"prompt_tokens": 7, "completion_tokens": 6, "total_tokens": 13}
    assert streamed_text(payloads) == FIXED


def test_chunks_model_streams_exactly_n_chunks(gateway: LocalGateway) -> None:
    payloads = events(chat(gateway, "chunks-5", stream=True)[2])
    chunks = [json.loads(p)["choices"][0]["delta"] for p in payloads[:-1]]
    contents = [d["content"] for d in chunks if d.get("content")]
    assert contents == ["tok0 ", "tok1 ", "tok2 ", "tok3 ", "tok4 "]


def test_streamed_tool_call(gateway: LocalGateway) -> None:
    payloads = events(chat(gateway, "tool-call", tools=[EVERY_TYPE], stream=True)[2])
    deltas = [json.loads(p)["choices"][0] for p in payloads[:-1]]
    fragments = [d["delta"]["tool_calls"][0] for d in deltas if "tool_calls" in d["delta"]]
    assert fragments[0]["id"].startswith("call_")
    assert fragments[0]["function"] == {"name": "book", "arguments": ""}
    assert all(set(f) == {"index", "function"} for f in fragments[1:])
    arguments = "".join(f["function"]["arguments"] for f in fragments)
    assert json.loads(arguments)["location"] == "Paris"
    assert deltas[-1]["finish_reason"] == "tool_calls"


def test_stream_error_midway(gateway: LocalGateway) -> None:
    payloads = events(chat(gateway, "stream-error-midway", stream=True)[2])
    assert "[DONE]" not in payloads
    assert json.loads(payloads[-1]) == {"error": {"message": "overloaded", "type": "server_error"}}
    assert streamed_text(payloads[:-1])


def test_broken_stream_models_answer_plain_requests_in_full(gateway: LocalGateway) -> None:
    for model in ("stream-error-midway", "stream-cut"):
        content = completion(gateway, model)["choices"][0]["message"]["content"]
        assert content.startswith("This answer never finishes")


def test_stream_cut_drops_the_connection(gateway: LocalGateway) -> None:
    with pytest.raises(http.client.IncompleteRead) as caught:
        chat(gateway, "stream-cut", stream=True)
    assert b"data: [DONE]" not in caught.value.partial
