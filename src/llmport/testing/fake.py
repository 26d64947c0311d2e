"""Fakes for testing apps that use llmport: `FakeLLM` (scripted) and `FunctionLLM`.

Both are real providers: every call goes through `BaseLLM`'s template method, so
argument checks, retries, parsing and error handling behave exactly as with a
network provider.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from pydantic_settings import SettingsConfigDict

from llmport.base import BaseLLM, ChatRequest
from llmport.config import BaseLLMConfig
from llmport.errors import ErrorKind
from llmport.response import LLMError, LLMResponse, Usage

__all__ = ["FakeLLM", "FakeLLMConfig", "FakeToolCall", "FunctionLLM", "ScriptItem"]


@dataclass(frozen=True)
class FakeToolCall:
    """A tool call for a script; `arguments` may be a dict or a raw (even broken) string."""

    name: str
    arguments: Mapping[str, Any] | str | None = None
    id: str | None = None


#: What a script step may be: text, one or more tool calls, an error, an exception
#: to raise from the backend, a ready `LLMResponse`, or a raw OpenAI-shaped payload.
ScriptItem: TypeAlias = (
    str
    | FakeToolCall
    | list[FakeToolCall]
    | LLMError
    | ErrorKind
    | BaseException
    | LLMResponse
    | Mapping[str, Any]
)

_UNSET: Any = object()
DEFAULT_USAGE = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)


class FakeLLMConfig(BaseLLMConfig):
    """Settings for `FakeLLM`, from `FAKE_LLM_*` variables; nothing is required."""

    model_config = SettingsConfigDict(env_prefix="FAKE_LLM_")

    chat_model: str = "fake-model"
    default_text: str = "This is a fake response."


class _ScriptedError(Exception):
    """Raised by the fake backend to deliver a scripted `LLMError`."""

    def __init__(self, error: LLMError) -> None:
        super().__init__(error.message)
        self.error = error


class FakeLLM(BaseLLM):
    """A scripted LLM for unit tests: no network, deterministic, records every call.

    >>> llm = FakeLLM(["Hello!", FakeToolCall("get_weather", {"city": "Paris"})])
    >>> llm.chat_completions([{"role": "user", "content": "hi"}]).content
    'Hello!'
    >>> llm.chat_completions([{"role": "user", "content": "weather?"}]).tool_calls[0].name
    'get_weather'

    Args:
        script: one item per call, in order; when exhausted, `default_text` answers.
        usage: usage reported with every answer; None means the provider sends none.
        errors_on: call number (1-based) -> error kind to fail that call with.
        latency: seconds each call takes (slept, so timing code can be exercised).
        repeat: cycle through the script instead of falling back to `default_text`.
    """

    provider_name = "fake"
    config_class = FakeLLMConfig
    config: FakeLLMConfig

    def __init__(
        self,
        script: Iterable[ScriptItem] = (),
        *,
        usage: Usage | None = _UNSET,
        errors_on: Mapping[int, ErrorKind | LLMError] | None = None,
        latency: float = 0.0,
        repeat: bool = False,
        config: BaseLLMConfig | None = None,
        **settings: Any,
    ) -> None:
        """Build a fake; `settings` are `FakeLLMConfig` fields (retry, chat_model, ...)."""
        super().__init__(config, **settings)
        items = list(script)
        self._script = itertools.cycle(items) if repeat and items else iter(items)
        self.usage = DEFAULT_USAGE if usage is _UNSET else usage
        self.errors_on = dict(errors_on or {})
        self.latency = latency
        self.requests: list[ChatRequest] = []
        self._lock = threading.Lock()

    @property
    def call_count(self) -> int:
        """How many backend calls were made (retries included)."""
        return len(self.requests)

    @property
    def last_request(self) -> ChatRequest:
        """The most recent request. Raises IndexError when there was none."""
        return self.requests[-1]

    @property
    def last_messages(self) -> list[dict[str, Any]]:
        """The messages of the most recent request."""
        return self.last_request.messages

    def _next(self, request: ChatRequest) -> tuple[ScriptItem, int]:
        with self._lock:
            self.requests.append(request)
            number = len(self.requests)
            scripted = self.errors_on.get(number)
            item: ScriptItem = (
                scripted if scripted is not None else next(self._script, self.config.default_text)
            )
        return item, number

    def _complete(self, request: ChatRequest) -> Any:
        item, number = self._next(request)
        if self.latency:
            time.sleep(self.latency)
        return self._payload(item, request, number)

    async def _acomplete(self, request: ChatRequest) -> Any:
        item, number = self._next(request)
        if self.latency:
            await asyncio.sleep(self.latency)
        return self._payload(item, request, number)

    def _parse(self, payload: Any, request: ChatRequest) -> LLMResponse:
        if isinstance(payload, LLMResponse):
            return payload
        return super()._parse(payload, request)

    def _stream(self, request: ChatRequest) -> Iterator[Any]:
        item, number = self._next(request)
        if self.latency:
            time.sleep(self.latency)
        yield from stream_chunks(self._payload(item, request, number))

    async def _astream(self, request: ChatRequest) -> AsyncIterator[Any]:
        item, number = self._next(request)
        if self.latency:
            await asyncio.sleep(self.latency)
        for chunk in stream_chunks(self._payload(item, request, number)):
            yield chunk

    def _classify(self, exc: BaseException) -> LLMError:
        if isinstance(exc, _ScriptedError):
            return exc.error
        return super()._classify(exc)

    def _payload(self, item: ScriptItem, request: ChatRequest, number: int) -> Any:
        if isinstance(item, ErrorKind):
            item = LLMError(
                kind=item,
                message=f"{item.value}: scripted failure on call {number}",
                retryable=item.retryable,
                retry_after=0.0 if item is ErrorKind.RATE_LIMIT else None,
                status_code=_STATUS_BY_KIND.get(item),
            )
        if isinstance(item, LLMError):
            raise _ScriptedError(item)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, (LLMResponse, Mapping)):
            return item
        return completion_payload(item, model=request.model, usage=self.usage, number=number)


class FunctionLLM(BaseLLM):
    """An LLM whose answers come from your function: `FunctionLLM(lambda request: "hi")`.

    The function receives the `ChatRequest` and returns any `ScriptItem` (text, tool
    calls, an error, a payload). It may be sync or async; it may raise to simulate a
    backend failure.
    """

    provider_name = "function"
    config_class = FakeLLMConfig
    config: FakeLLMConfig

    def __init__(
        self,
        function: Callable[[ChatRequest], ScriptItem | Awaitable[ScriptItem]],
        *,
        usage: Usage | None = _UNSET,
        config: BaseLLMConfig | None = None,
        **settings: Any,
    ) -> None:
        """Wrap `function`; `settings` are `FakeLLMConfig` fields."""
        super().__init__(config, **settings)
        self.function = function
        self._fake = FakeLLM(usage=usage, config=self.config)
        self.requests: list[ChatRequest] = []

    def _complete(self, request: ChatRequest) -> Any:
        self.requests.append(request)
        item = self.function(request)
        if inspect.isawaitable(item):
            item = _run_coroutine(item)
        return self._fake._payload(item, request, len(self.requests))

    async def _acomplete(self, request: ChatRequest) -> Any:
        self.requests.append(request)
        item = self.function(request)
        if inspect.isawaitable(item):
            item = await item
        return self._fake._payload(item, request, len(self.requests))

    def _parse(self, payload: Any, request: ChatRequest) -> LLMResponse:
        return self._fake._parse(payload, request)

    def _classify(self, exc: BaseException) -> LLMError:
        return self._fake._classify(exc)


def _run_coroutine(awaitable: Awaitable[ScriptItem]) -> ScriptItem:
    async def wrapper() -> ScriptItem:
        return await awaitable

    return asyncio.run(wrapper())


_STATUS_BY_KIND = {
    ErrorKind.RATE_LIMIT: 429,
    ErrorKind.QUOTA: 429,
    ErrorKind.AUTH: 401,
    ErrorKind.PERMISSION: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.INVALID_REQUEST: 400,
    ErrorKind.CONTEXT_LENGTH: 400,
    ErrorKind.CONTENT_FILTER: 400,
    ErrorKind.SERVER: 500,
}


def completion_payload(
    item: str | FakeToolCall | list[FakeToolCall],
    *,
    model: str,
    usage: Usage | None,
    number: int = 1,
) -> dict[str, Any]:
    """An OpenAI chat.completion payload for text or tool calls."""
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = "stop"
    if isinstance(item, str):
        message["content"] = item
    else:
        calls = [item] if isinstance(item, FakeToolCall) else list(item)
        message["tool_calls"] = [
            {
                "id": call.id if call.id is not None else f"call_fake_{number}_{index}",
                "type": "function",
                "function": {"name": call.name, "arguments": _arguments_text(call.arguments)},
            }
            for index, call in enumerate(calls)
        ]
        finish = "tool_calls"
    payload: dict[str, Any] = {
        "id": f"fake-{number}",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage is not None:
        payload["usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        }
    return payload


def stream_chunks(payload: Any) -> list[Any]:
    """Split a completion payload (or an `LLMResponse`) into OpenAI stream chunks."""
    if isinstance(payload, LLMResponse):
        message = payload.to_message()
        reason = payload.raw_finish_reason or payload.finish_reason
        usage = payload.usage if payload.usage.is_known else None
        payload = {"choices": [{"message": message, "finish_reason": reason}]}
        if usage is not None:
            payload["usage"] = {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            }
    if not isinstance(payload, Mapping) or not payload.get("choices"):
        return [payload]  # errors and oddities pass through unchanged
    choice = payload["choices"][0]
    message = choice.get("message") or {}
    chunks: list[Any] = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    for word in re.findall(r"\S+\s*|\s+", message.get("content") or ""):
        chunks.append({"choices": [{"index": 0, "delta": {"content": word}}]})
    for index, call in enumerate(message.get("tool_calls") or []):
        arguments = call["function"].get("arguments") or ""
        half = len(arguments) // 2
        opening: dict[str, Any] = {
            "index": index,
            "id": call.get("id"),
            "function": {"name": call["function"]["name"], "arguments": arguments[:half]},
        }
        rest: dict[str, Any] = {"index": index, "function": {"arguments": arguments[half:]}}
        for delta in (opening, rest):
            chunks.append({"choices": [{"index": 0, "delta": {"tool_calls": [delta]}}]})
    last: dict[str, Any] = {
        "index": 0,
        "delta": {},
        "finish_reason": choice.get("finish_reason") or "stop",
    }
    chunks.append({"choices": [last]})
    if payload.get("usage") is not None:
        chunks.append({"choices": [], "usage": payload["usage"]})
    return chunks


def _arguments_text(arguments: Mapping[str, Any] | str | None) -> str | None:
    if arguments is None or isinstance(arguments, str):
        return arguments
    return json.dumps(dict(arguments))
