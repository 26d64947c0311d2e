"""LiteLLM provider: 100+ backends by model string (`openai/gpt-4o-mini`, `anthropic/...`).

litellm is imported on the first call, not at `import llmport`: it costs seconds
and ~160 MB. Before that import `LITELLM_LOCAL_MODEL_COST_MAP` defaults to True so
importing never reaches the network. Every call looks the module up in `sys.modules`,
so a fake `litellm` a test installs there is honoured. litellm's own retries are off:
llmport's `RetryPolicy` is the one retry layer.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

from pydantic_settings import SettingsConfigDict

from llmport._deadline import read_timeout
from llmport.base import BaseLLM, ChatRequest
from llmport.config import BaseLLMConfig
from llmport.providers._backend_keys import backend_key_values
from llmport.providers._litellm_errors import classify_litellm
from llmport.providers._litellm_stream import abackend_chunks, backend_chunks
from llmport.response import LLMError, LLMResponse, Usage

__all__ = ["LiteLLM", "LiteLLMConfig"]

_import_lock = threading.Lock()
#: The litellm module last configured by `import_litellm`; an app or a test may swap it.
_configured: Any = None


def import_litellm() -> Any:
    """The `litellm` module in `sys.modules`, imported (offline, quiet) on first use.

    Looked up at each call, not cached: a fake `litellm` a test puts in `sys.modules`
    is the one the next call uses. Once imported this is one dictionary lookup.
    """
    module = sys.modules.get("litellm")
    if module is not None and module is _configured:
        return module
    return _import_and_configure()


def _import_and_configure() -> Any:
    global _configured
    with _import_lock:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        if litellm is not _configured:
            # litellm prints "Give Feedback / Get Help" banners to stdout on errors.
            with contextlib.suppress(Exception):  # a test's fake module may refuse it
                litellm.suppress_debug_info = True
            _configured = litellm
    return litellm


class LiteLLMConfig(BaseLLMConfig):
    """LiteLLM settings, read from `LITELLM_*` environment variables.

    `LITELLM_CHAT_MODEL` (required, e.g. `openai/gpt-4o-mini`), `LITELLM_API_KEY`,
    `LITELLM_API_BASE`, `LITELLM_TEMPERATURE`, `LITELLM_TOP_P`, `LITELLM_MAX_TOKENS`,
    `LITELLM_SEED`, `LITELLM_TIMEOUT`, `LITELLM_DROP_PARAMS` (default true: parameters a
    backend does not support are dropped instead of failing the call),
    `LITELLM_DISABLE_STREAMING_LOGGING` (default false),
    `LITELLM_EXTRA_PARAMS` (JSON) and `LITELLM_RETRY__*`. Without an api key, litellm
    falls back to the backend's own variable (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, ...).
    """

    model_config = SettingsConfigDict(env_prefix="LITELLM_")

    drop_params: bool = True
    #: `LITELLM_DISABLE_STREAMING_LOGGING`: turn off litellm's per-chunk success logging
    #: and stream caching, which costs about half of a litellm stream's CPU. It is a
    #: process-wide litellm switch: it also silences litellm callbacks on streams.
    disable_streaming_logging: bool = False

    def secret_values(self) -> tuple[str, ...]:
        """The inherited secrets plus the key litellm reads from the environment for the
        chosen backend (`OPENAI_API_KEY` for `openai/...`): a server may echo that one too."""
        return (*super().secret_values(), *backend_key_values(self.chat_model))


class LiteLLM(BaseLLM):
    """Calls any LiteLLM-supported model through `litellm.completion` / `acompletion`."""

    provider_name = "litellm"
    config_class = LiteLLMConfig
    config: LiteLLMConfig

    def completion_kwargs(self, request: ChatRequest) -> dict[str, Any]:
        """The keyword arguments passed to `litellm.completion` for `request`."""
        config = self.config
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "timeout": read_timeout(request.timeout, request.deadline),
            "num_retries": 0,
            "drop_params": config.drop_params,
            **request.params,
        }
        if request.tools is not None:
            kwargs["tools"] = request.tools
        if request.tool_choice is not None:
            kwargs["tool_choice"] = request.tool_choice
        if request.stop is not None:
            kwargs["stop"] = request.stop
        if request.response_format is not None:
            kwargs["response_format"] = request.response_format
        if config.api_key is not None:
            kwargs["api_key"] = config.api_key.get_secret_value()
        if config.api_base is not None:
            kwargs["api_base"] = config.api_base
        if request.metadata:
            kwargs["metadata"] = request.metadata
        if config.extra_headers or request.headers:
            kwargs["extra_headers"] = {**config.extra_headers, **request.headers}
        return kwargs

    def _secrets_for(self, request: ChatRequest) -> tuple[str, ...]:
        # litellm reads the backend's key variable at each call, so it is read here at
        # each call too: a key set or rotated after this provider was built is a secret,
        # and a per-call model may name another backend with a key of its own.
        secrets = super()._secrets_for(request)
        extra = [key for key in backend_key_values(request.model) if key not in secrets]
        return (*secrets, *extra) if extra else secrets

    def _prepare(self) -> None:
        litellm = import_litellm()
        if self.config.disable_streaming_logging:
            litellm.disable_streaming_logging = True

    def _client(self) -> Any:
        """What `completion` / `acompletion` are called on: the litellm module here."""
        return import_litellm()

    def _complete(self, request: ChatRequest) -> Any:
        return self._client().completion(**self.completion_kwargs(request))

    async def _acomplete(self, request: ChatRequest) -> Any:
        return await self._client().acompletion(**self.completion_kwargs(request))

    def _parse(self, payload: Any, request: ChatRequest) -> LLMResponse:
        response = super()._parse(payload, request)
        usage = _without_filled_zeros(response.usage, bool(response.content or response.tool_calls))
        return response if usage == response.usage else replace(response, usage=usage)

    def _classify(self, exc: BaseException) -> LLMError:
        return classify_litellm(exc, self.config.chat_model) or super()._classify(exc)

    def _stream(self, request: ChatRequest) -> Iterator[Any]:
        stream = self._client().completion(**self._stream_kwargs(request))
        try:
            yield from backend_chunks(stream)
        finally:
            # Leaving early must release the HTTP connection held by the provider stream.
            close = getattr(getattr(stream, "completion_stream", None), "close", None)
            if close is not None:
                close()

    async def _astream(self, request: ChatRequest) -> AsyncIterator[Any]:
        stream = await self._client().acompletion(**self._stream_kwargs(request))
        try:
            async for chunk in abackend_chunks(stream):
                yield chunk
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    def _stream_kwargs(self, request: ChatRequest) -> dict[str, Any]:
        kwargs = self.completion_kwargs(request)
        kwargs["stream"] = True
        kwargs["stream_options"] = {"include_usage": True}
        return kwargs


def _without_filled_zeros(usage: Usage, answered: bool) -> Usage:
    """`usage` with the zeros litellm writes for counts the backend did not send as None.

    A real prompt is never 0 tokens, an answer with text or tool calls never 0
    completion tokens, and a total is never 0 when a part is not: such a 0 means "not
    reported", which llmport spells None. A total left out is derived, as on the direct
    path, only when both parts are known.
    """
    prompt = usage.prompt_tokens or None
    completion = usage.completion_tokens
    if completion == 0 and (answered or prompt is None):
        completion = None
    total = usage.total_tokens
    if total == 0:
        total = None if prompt is None or completion is None else prompt + completion
    if prompt is None and completion is None and total is None:
        return Usage()
    return replace(usage, prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)
