"""`ProviderHooks`: the methods a provider implements, and the one-time set-up around them.

`BaseLLM` inherits this class and calls these hooks from its template method:

    prepare() / aprepare()  ->  _prepare / _aprepare    once, before the first call
    chat_completions        ->  _complete  -> _parse    (errors: _classify)
    achat_completions       ->  _acomplete -> _parse
    stream / astream        ->  _stream / _astream      (chunks to the accumulator)

Only `_complete` is required; every other hook has a working default.
"""

from __future__ import annotations

import abc
import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

from llmport.errors import classify
from llmport.parsing import parse_completion
from llmport.request import ChatRequest
from llmport.response import LLMError, LLMResponse
from llmport.response_stream import StreamingUnsupportedError

__all__ = ["ProviderHooks"]

_SETUP_LOCKS_GUARD = threading.Lock()


class ProviderHooks(abc.ABC):
    """The provider side of `BaseLLM`: set-up, the backend call, parsing, classification."""

    provider_name: ClassVar[str] = "base"
    #: The secret values of this instance's config, kept out of error messages.
    _secrets: tuple[str, ...] = ()

    # --- warm-up ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Do the provider's one-time set-up now (imports, clients) instead of on the first call.

        Call it at application start-up; the first call then costs no more than the next.
        Safe to call more than once, and from several threads: calls that race wait for
        one set-up instead of running their own.
        """
        if self._prepared:
            return
        with self._setup_lock():  # racing first calls wait for one set-up, not run their own
            if not self._prepared:
                self._prepare()
                self._prepared = True

    async def aprepare(self) -> None:
        """Async twin of `prepare`: the set-up runs off the event loop, which keeps running.

        `await llm.aprepare()` in an app's start-up (e.g. a FastAPI lifespan) moves the
        cost of the first call there.
        """
        if not self._aprepared:
            await self._aprepare()
            self._aprepared = True

    def _setup_lock(self) -> threading.RLock:
        """This instance's set-up lock, made on first use (providers have no shared __init__)."""
        lock: threading.RLock | None = self.__dict__.get("_setup_lock_")
        if lock is None:
            with _SETUP_LOCKS_GUARD:
                lock = self.__dict__.setdefault("_setup_lock_", threading.RLock())
        return lock

    def __getstate__(self) -> dict[str, Any]:
        """The instance's state for pickle and copy, without its set-up lock."""
        state = dict(self.__dict__)
        state.pop("_setup_lock_", None)
        return state

    # --- what a provider implements -----------------------------------------------------------

    #: Set once `prepare()` / `aprepare()` has run; the set-up hooks then run no more.
    _prepared: bool = False
    _aprepared: bool = False

    def _prepare(self) -> None:
        """One-time set-up before a sync call (e.g. a lazy import), kept out of latency.

        It may run more than once when calls race, so it must be idempotent.
        """
        return

    async def _aprepare(self) -> None:
        """One-time set-up before an async call; by default `prepare()` in a worker thread.

        An override must not block the event loop: run blocking work in a thread.
        """
        await asyncio.to_thread(self.prepare)

    @abc.abstractmethod
    def _complete(self, request: ChatRequest) -> Any:
        """Send `request` to the backend and return its raw payload; raise on failure."""

    async def _acomplete(self, request: ChatRequest) -> Any:
        """Async version of `_complete`; by default runs `_complete` in a worker thread."""
        return await asyncio.to_thread(self._complete, request)

    def _stream(self, request: ChatRequest) -> Iterator[Any]:
        """Yield stream chunks (dicts, objects, or SSE `data:` strings); raise on failure.

        Closing the generator must release the connection. Providers without streaming
        leave this alone: `stream()` then falls back to a buffered call.
        """
        raise StreamingUnsupportedError(f"{type(self).__name__} does not stream")

    def _astream(self, request: ChatRequest) -> AsyncIterator[Any]:
        """Async version of `_stream`."""
        raise StreamingUnsupportedError(f"{type(self).__name__} does not stream")

    def _parse(self, payload: Any, request: ChatRequest) -> LLMResponse:
        """Turn the raw payload from `_complete` into an `LLMResponse`.

        The default reads an OpenAI-shaped payload (dict or object). Override it for a
        backend with its own shape; an exception raised here becomes an ERROR response
        of kind `bad_response`, never an exception for the caller.
        """
        return parse_completion(payload, provider=self.provider_name, model=request.model)

    def _classify(self, exc: BaseException) -> LLMError:
        """Map an exception raised by `_complete` / `_stream` to an `LLMError`.

        The default reads status codes, `Retry-After` and well-known exception names
        (httpx, aiohttp, litellm, openai); override it to map your client's exceptions,
        and fall back to `super()._classify(exc)` for the rest.
        """
        return classify(exc, secrets=self._secrets)

    # --- the hooks as the template method calls them --------------------------------------------

    def _checked_parse(self, payload: Any, request: ChatRequest) -> LLMResponse:
        """`_parse`, where a result that is not an `LLMResponse` raises like a failed parse."""
        parsed: object = self._parse(payload, request)
        if not isinstance(parsed, LLMResponse):  # a bad_response for the caller
            kind = type(parsed).__name__
            raise ValueError(f"{type(self).__name__}._parse returned {kind}, not an LLMResponse")
        return parsed

    def _checked_classify(self, exc: BaseException, secrets: tuple[str, ...]) -> LLMError:
        """`_classify`, or the default classification when it raises or returns no `LLMError`:
        classifying must never be what crashes a call."""
        try:
            error: object = self._classify(exc)
        except Exception:
            error = None
        return error if isinstance(error, LLMError) else classify(exc, secrets=secrets)
