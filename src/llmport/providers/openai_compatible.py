"""OpenAI-compatible provider: plain HTTP to any `{base_url}/chat/completions` endpoint.

The lean fast path for gateways (a LiteLLM proxy, vLLM, Ollama, OpenAI itself): no
litellm, no openai SDK, stdlib `json`, and one pooled keep-alive client per provider.

- Sync calls use one `httpx.Client`, created on the first call.
- Async calls use one `aiohttp.ClientSession` per running event loop. On loopback at
  concurrency 32, aiohttp measured ~10,000 requests/s against ~360 for `httpx.AsyncClient`,
  so the async path pays for a second HTTP library. A session is bound to its loop; it
  is closed by `aclose()` or, under `asyncio.run`, when its loop shuts down.

httpx and aiohttp are imported on first use, so `import llmport` stays cheap and
sync-only programs never import aiohttp. `timeout` bounds connecting and each wait for
response data (the httpx meaning) on both paths. Redirects are never followed, on
either path: a 3xx answer is an `invalid_request` error naming the status, so the
prompt is never re-posted to another origin.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict
from typing_extensions import Self

from llmport._deadline import TotalTimeoutError, read_timeout
from llmport._json import load_json
from llmport.base import BaseLLM, ChatRequest
from llmport.config import BaseLLMConfig
from llmport.errors import ErrorKind
from llmport.redaction import summarise_body
from llmport.response import LLMError
from llmport.streaming import SSEDecoder

if TYPE_CHECKING:
    import aiohttp
    import httpx

__all__ = ["OpenAICompatible", "OpenAICompatibleConfig"]

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class OpenAICompatibleConfig(BaseLLMConfig):
    """Settings for an OpenAI-compatible endpoint, read from `OPENAI_COMPATIBLE_*` variables.

    Precedence, highest first: an explicit argument, then the environment variable, then
    the default. `OPENAI_COMPATIBLE_BASE_URL` (required, the URL that `/chat/completions`
    is appended to, e.g. `http://127.0.0.1:8000/v1`), `OPENAI_COMPATIBLE_CHAT_MODEL`
    (required, the model name the server knows), `OPENAI_COMPATIBLE_API_KEY` (optional:
    sent as `Authorization: Bearer ...` only when set), `OPENAI_COMPATIBLE_TEMPERATURE`,
    `_TOP_P`, `_MAX_TOKENS`, `_SEED`, `_TIMEOUT`, `_MAX_CONNECTIONS` (pool size, default
    100), `_EXTRA_HEADERS` and `_EXTRA_PARAMS` (JSON) and `_RETRY__*`. The inherited
    `api_base` is not used: set `base_url`.
    """

    model_config = SettingsConfigDict(env_prefix="OPENAI_COMPATIBLE_")

    base_url: str = ""
    max_connections: int = Field(default=100, ge=1)

    required_fields = ("chat_model", "base_url")

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. http://127.0.0.1:8000/v1")
        value = value.rstrip("/")
        if not value.partition("://")[2].split("/", 1)[0]:
            raise ValueError("must name a host, e.g. http://127.0.0.1:8000/v1")
        if value.endswith("/chat/completions"):
            raise ValueError(
                "must stop before /chat/completions (llmport adds it): "
                f"use {value.removesuffix('/chat/completions')!r}"
            )
        return value


class _HTTPStatusError(Exception):
    """A non-2xx answer; `llmport.errors.classify` reads these attributes."""

    def __init__(self, status_code: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status_code = status_code
        self.headers = dict(headers)
        if 300 <= status_code < 400:  # kind_for_status makes it invalid_request: not retried
            self.message = (
                f"the server redirected (HTTP {status_code}) and redirects are not followed: "
                "set base_url to the address that answers"
            )
        else:
            summary = summarise_body(body.decode("utf-8", "replace"))
            self.message = f"{summary} (HTTP {status_code})"
        super().__init__(self.message)


class _InvalidJSONError(ValueError):
    """A 2xx answer whose body is not JSON (classified as bad_response)."""


class _UnencodableRequestError(TypeError):
    """The request holds a value that JSON cannot represent."""


class OpenAICompatible(BaseLLM):
    """Calls `{base_url}/chat/completions` over pooled keep-alive HTTP connections.

    Use it as a context manager (`with` / `async with`) or call `close()` / `aclose()`
    to release connections; a call made after closing opens a new pool. Code that closes
    an event loop itself, without `loop.shutdown_asyncgens()`, should `await aclose()`
    on that loop first.
    """

    provider_name = "openai_compatible"
    config_class = OpenAICompatibleConfig
    config: OpenAICompatibleConfig

    def __init__(self, config: OpenAICompatibleConfig | None = None, **settings: Any) -> None:
        """Build from an explicit config, or from `settings` plus the environment.

        Raises:
            ConfigurationError: a setting is invalid, or the model or base URL is missing.
        """
        super().__init__(config, **settings)
        self._url = f"{self.config.base_url}/chat/completions"
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self.config.api_key is not None:
            headers["authorization"] = f"Bearer {self.config.api_key.get_secret_value()}"
        headers.update((name.lower(), value) for name, value in self.config.extra_headers.items())
        self._headers = headers
        self._client: httpx.Client | None = None
        self._sessions: dict[asyncio.AbstractEventLoop, _LoopSession] = {}
        self._lock = threading.Lock()

    # --- provider hooks --------------------------------------------------------------------

    def _prepare(self) -> None:
        import httpx  # noqa: F401  (the sync client's library, imported once here)

    async def _aprepare(self) -> None:
        await asyncio.to_thread(_import_aiohttp)

    def _complete(self, request: ChatRequest) -> Any:
        client = self._client or self._open_client()
        timeout = read_timeout(request.timeout, request.deadline)
        if request.deadline is None:
            response = client.post(
                self._url, content=_body(request), headers=request.headers, timeout=timeout
            )
            return _decode(response.status_code, response.headers, response.content)
        # Read in pieces so that a body still dripping in at the deadline is let go.
        with client.stream(
            "POST", self._url, content=_body(request), headers=request.headers, timeout=timeout
        ) as response:
            return _decode(response.status_code, response.headers, _read_all(response, request))

    async def _acomplete(self, request: ChatRequest) -> Any:
        body = _body(request)
        entry = await self._session()
        async with entry.session.post(
            self._url,
            data=body,
            headers=request.headers,
            timeout=entry.timeout(read_timeout(request.timeout, request.deadline)),
            allow_redirects=False,
        ) as response:
            content = await response.read()
        return _decode(response.status, response.headers, content)

    def _stream(self, request: ChatRequest) -> Iterator[Any]:
        client = self._client or self._open_client()
        timeout = read_timeout(request.timeout, request.deadline)
        with client.stream(
            "POST", self._url, content=_body(request), headers=request.headers, timeout=timeout
        ) as response:
            if not _is_event_stream(response.status_code, response.headers):
                yield _decode(response.status_code, response.headers, _read_all(response, request))
                return
            decoder = SSEDecoder()
            # Raw bytes are the fast path; an encoded body must be decoded (and fail as
            # bad_response when it does not match its Content-Encoding).
            encoded = "content-encoding" in response.headers
            for raw in response.iter_bytes() if encoded else response.iter_raw():
                _check_deadline(request)
                if not decoder.done:  # after [DONE], read on so the connection is reused
                    yield from decoder.feed(raw)

    async def _astream(self, request: ChatRequest) -> AsyncIterator[Any]:
        body = _body(request)
        entry = await self._session()
        async with entry.session.post(
            self._url,
            data=body,
            headers=request.headers,
            timeout=entry.timeout(read_timeout(request.timeout, request.deadline)),
            allow_redirects=False,
        ) as response:
            if not _is_event_stream(response.status, response.headers):
                yield _decode(response.status, response.headers, await response.read())
                return
            decoder = SSEDecoder()
            async for raw, _ in response.content.iter_chunks():  # one HTTP chunk at a time
                if not decoder.done:  # after [DONE], read on so the connection is reused
                    for data in decoder.feed(raw):
                        yield data

    async def _session(self) -> _LoopSession:
        loop = asyncio.get_running_loop()
        entry = self._sessions.get(loop)
        if entry is None or entry.session.closed:
            entry = await self._open_session(loop)
        return entry

    def _classify(self, exc: BaseException) -> LLMError:
        if isinstance(exc, _UnencodableRequestError):  # our caller's mistake: do not retry
            kind = ErrorKind.INVALID_REQUEST
            return LLMError(kind=kind, message=f"{kind.value}: {exc}", retryable=False)
        return super()._classify(exc)

    # --- connection pools ------------------------------------------------------------------

    def _open_client(self) -> httpx.Client:
        import httpx

        with self._lock:
            if self._client is None:
                limit = self.config.max_connections
                self._client = httpx.Client(
                    headers=self._headers,
                    timeout=self.config.timeout,
                    limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
                    follow_redirects=False,
                )
            return self._client

    async def _open_session(self, loop: asyncio.AbstractEventLoop) -> _LoopSession:
        import aiohttp

        with self._lock:
            self._forget_closed_loops()
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.config.max_connections),
                headers=self._headers,
            )
            seconds = self.config.timeout
            timeout = aiohttp.ClientTimeout(total=None, connect=seconds, sock_read=seconds)
            entry = self._sessions[loop] = _LoopSession(session, timeout)
        await entry.close_at_loop_shutdown()
        return entry

    def _forget_closed_loops(self) -> None:
        # Their sessions were closed at loop shutdown (or cannot be closed any more).
        for loop in [loop for loop in self._sessions if loop.is_closed()]:
            del self._sessions[loop]

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the sync connection pool; the next sync call opens a new one.

        Async sessions need their event loop to close: use `aclose()` for those.
        """
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the running loop's async session and the sync pool; later calls reopen."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._sessions.pop(loop, None)
            self._forget_closed_loops()
        if entry is not None:
            await entry.close()
        self.close()

    def __enter__(self) -> Self:
        """Return the provider; `close()` runs on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the sync pool."""
        self.close()

    async def __aenter__(self) -> Self:
        """Return the provider; `aclose()` runs on exit."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close this loop's session and the sync pool."""
        await self.aclose()


class _LoopSession:
    """One event loop's aiohttp session, closed by `close()` or when its loop shuts down."""

    def __init__(self, session: aiohttp.ClientSession, timeout: aiohttp.ClientTimeout) -> None:
        self.session = session
        self.default_timeout = timeout
        self._guard: AsyncGenerator[None, None] | None = None

    def timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        """The aiohttp timeout for `seconds`: connecting, and each wait for data."""
        if seconds == self.default_timeout.sock_read:
            return self.default_timeout
        return type(self.default_timeout)(total=None, connect=seconds, sock_read=seconds)

    async def close_at_loop_shutdown(self) -> None:
        """Tie the session to its loop: `shutdown_asyncgens()`, which `asyncio.run` calls
        before closing the loop, finalises this generator and so closes the session."""

        async def guard() -> AsyncGenerator[None, None]:
            try:
                yield
            finally:
                await self.session.close()

        self._guard = guard()
        await self._guard.__anext__()

    async def close(self) -> None:
        """Close the session now; idempotent."""
        if self._guard is not None:
            await self._guard.aclose()
        await self.session.close()


def _import_aiohttp() -> None:
    import aiohttp  # noqa: F401  (the async client's library)


def _body(request: ChatRequest) -> bytes:
    body: dict[str, Any] = {"model": request.model, "messages": request.messages}
    if request.tools is not None:
        body["tools"] = request.tools
    if request.tool_choice is not None:
        body["tool_choice"] = request.tool_choice
    if request.stop is not None:
        body["stop"] = request.stop
    if request.response_format is not None:
        body["response_format"] = request.response_format
    params = dict(request.params)
    extra_body = params.pop("extra_body", None) or {}
    body.update(params)
    body.update(extra_body)
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    try:
        return _encode(body).encode()
    except (TypeError, ValueError) as exc:
        raise _UnencodableRequestError(f"the request cannot be sent as JSON: {exc}") from None


def _decode(status: int, headers: Mapping[str, str], content: bytes) -> Any:
    if not 200 <= status < 300:
        raise _HTTPStatusError(status, headers, content)
    try:
        return load_json(content)
    except ValueError:  # never echo the body; an HTML page is named by its title
        text = content[:4096].decode("utf-8", "replace")
        summary = summarise_body(text)
        if not summary.startswith("HTML page"):
            summary = f"response body is not valid JSON ({len(content)} bytes)"
        raise _InvalidJSONError(summary) from None


def _check_deadline(request: ChatRequest) -> None:
    """Stop a sync read whose caller has stopped waiting (see `llmport._deadline`)."""
    if request.deadline is not None and time.monotonic() > request.deadline:
        raise TotalTimeoutError(request.total_timeout)


def _read_all(response: httpx.Response, request: ChatRequest) -> bytes:
    """The whole (decoded) body, given up at the call's deadline."""
    if request.deadline is None:
        return response.read()
    pieces = []
    for piece in response.iter_bytes():
        _check_deadline(request)
        pieces.append(piece)
    return b"".join(pieces)


def _is_event_stream(status: int, headers: Mapping[str, str]) -> bool:
    """True for a 2xx SSE answer; errors, JSON answers and a 204 (which has no body,
    so no events: not a stream cut short) are decoded whole."""
    content_type = headers.get("content-type", "")
    return 200 <= status < 300 and status != 204 and content_type.startswith("text/event-stream")
