"""A redirect is never followed: the prompt is not re-posted to another origin.

Both direct paths (httpx sync, aiohttp async; buffered and streaming) report the
redirect as an `invalid_request` error naming the status, and do not retry it. Through
LiteLLM, the HTTP clients litellm uses are not llmport's to configure: the tests pin
what happens there (see docs/decisions.md, "Redirects").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hostile import (
    PATHS,
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

from llmport import ErrorKind, RetryPolicy

pytestmark = pytest.mark.integration

REDIRECTS = (301, 302, 303, 307, 308)


def answer(request: Request) -> Reply:
    if request.body.get("stream"):
        return sse_reply([chunk("moved"), chunk(finish="stop")])
    return json_reply(completion("moved"))


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[HostileServer]:
    with HostileServer(answer) as server:
        yield server


def redirecting(status: int, target: HostileServer) -> HostileServer:
    def script(request: Request) -> Reply:
        location = f"{target.base_url}/chat/completions"
        return Reply(
            status, {"location": location, "content-type": "text/plain"}, [b"moved"], length=5
        )

    return HostileServer(script)


@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("path", PATHS)
def test_direct_provider_follows_no_redirect(
    status: int, path: str, elsewhere: HostileServer
) -> None:
    elsewhere.requests.clear()
    retry = RetryPolicy(max_attempts=3, initial_backoff=0)
    with redirecting(status, elsewhere) as server:
        llm = make_llm("openai_compatible", server, api_key="sk-redirect-0001", retry=retry)
        response, _ = call_path(llm, path)
    assert elsewhere.requests == []
    assert response.error is not None
    assert response.error.kind is ErrorKind.INVALID_REQUEST
    assert response.error.status_code == status
    assert f"HTTP {status}" in response.error.message
    assert response.attempts == 1
    assert len(server.requests) == 1


@pytest.mark.parametrize("path", PATHS)
def test_litellm_follows_a_307_as_its_http_client_does(path: str, elsewhere: HostileServer) -> None:
    # Documented limitation: litellm's own HTTP clients follow redirects, and llmport
    # cannot turn that off per call. This pins the behaviour the docs describe.
    elsewhere.requests.clear()
    with redirecting(307, elsewhere) as server:
        response, _ = call_path(make_llm("litellm", server, api_key="sk-redirect-0001"), path)
    assert len(elsewhere.requests) == 1
    assert elsewhere.requests[0].body["messages"] == [{"role": "user", "content": "Hello"}]
    assert response.content == "moved"
