"""`BaseLLM`: the template method every provider inherits.

The base class owns the shared request path: argument checks, merging config
defaults with per-call overrides, the retry loop, timing, logging, error
classification and response building. A provider implements `_complete` (and,
when it has a native async client, `_acomplete`) and nothing else.

    messages -> ChatRequest (config + overrides) -> _complete -> raw payload
             -> _parse -> LLMResponse
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from typing_extensions import Unpack

from llmport._build_request import build_request
from llmport._call_log import log_attempt_failed, log_call
from llmport._deadline import acomplete_in_time, complete_in_time, start_deadline
from llmport._redact import redact_secrets
from llmport.budget import Budget
from llmport.config import BaseLLMConfig, header_secrets
from llmport.cost import Pricing, Spend, outside_spends, start_spend
from llmport.errors import ConfigurationError
from llmport.hooks import LLMHooks, emit, global_hooks
from llmport.options import CallOptions
from llmport.provider_hooks import ProviderHooks
from llmport.redaction import longest_first, register_secret
from llmport.request import ChatRequest
from llmport.response import LLMResponse, LLMResponseStatus
from llmport.response_stream import AsyncResponseStream, ResponseStream
from llmport.structured import (
    OutputT,
    ResponseFormat,
    validate_output,
)

__all__ = ["BaseLLM", "ChatRequest"]


class BaseLLM(ProviderHooks):
    """Base class of every provider. Subclasses implement `_complete` (and optionally
    `_acomplete`), set `provider_name` and point `config_class` at their config.

    The hooks a provider implements are documented on `ProviderHooks`."""

    config_class: ClassVar[type[BaseLLMConfig]] = BaseLLMConfig
    #: Whether the backend enforces a JSON schema passed as `response_format`. When False,
    #: `response_format=SomeModel` asks for the schema in a system message instead.
    supports_response_schema: ClassVar[bool] = True

    def __init__(
        self,
        config: BaseLLMConfig | None = None,
        *,
        hooks: Sequence[LLMHooks] = (),
        budget: Budget | Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> None:
        """Build from an explicit config, or from `settings` plus the environment.

        `hooks` observe this instance's calls (see `llmport.hooks`); `budget` caps what
        each tenant spends through it (see `llmport.budget`).

        Raises:
            ConfigurationError: a setting is invalid or a required one is missing.
        """
        if config is not None and settings:
            config = self.config_class.load(**{**_explicit_fields(config), **settings})
        elif config is None:
            config = self.config_class.load(**settings)
        elif not isinstance(config, self.config_class):
            raise ConfigurationError(
                f"{type(self).__name__} needs a {self.config_class.__name__}, "
                f"got {type(config).__name__}"
            )
        else:
            config.check_required()
        self.config = config
        self.hooks: tuple[LLMHooks, ...] = tuple(hooks)
        self.budget = None if budget is None else Budget.from_setting(budget)
        self._pricing = Pricing(config)
        self._secrets = longest_first(config.secret_values())
        for secret in self._secrets:
            register_secret(secret)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.config.chat_model!r})"

    @property
    def model(self) -> str:
        """The configured model name."""
        return self.config.chat_model

    # --- the template method -------------------------------------------------------------

    def chat_completions(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        stop: str | Sequence[str] | None = None,
        response_format: ResponseFormat[OutputT] = None,
        **options: Unpack[CallOptions],
    ) -> LLMResponse[OutputT]:
        """Send a chat completion and return an `LLMResponse`; provider failures never raise.

        `options` (see `CallOptions`) override the config for this call: `model`,
        `timeout`, `temperature`, `max_tokens`, `tool_choice`, `metadata`, ...; a
        backend's own parameters go in `extra_params={...}`.

        Raises:
            TypeError: an unknown keyword (the message names the closest option).
            ValueError: `messages`, `tools` or an option is malformed (before any I/O).
        """
        request = self.build_request(messages, tools, stop, response_format, overrides=options)
        self.prepare()
        hooks = self._active_hooks()
        if hooks:
            emit(hooks, "on_request", self, request)
        return self._run(request, hooks)

    async def achat_completions(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        stop: str | Sequence[str] | None = None,
        response_format: ResponseFormat[OutputT] = None,
        **options: Unpack[CallOptions],
    ) -> LLMResponse[OutputT]:
        """Async twin of `chat_completions`, with the same arguments and contract.

        The first call's one-time set-up (e.g. importing litellm) runs in a worker
        thread, so the event loop keeps running; `await llm.aprepare()` pays it up front.
        """
        request = self.build_request(messages, tools, stop, response_format, overrides=options)
        await self.aprepare()
        hooks = self._active_hooks()
        if hooks:
            emit(hooks, "on_request", self, request)
        return await self._arun(request, hooks)

    def stream(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        stop: str | Sequence[str] | None = None,
        response_format: ResponseFormat = None,
        **options: Unpack[CallOptions],
    ) -> ResponseStream:
        """Stream a chat completion: iterate typed events; `.response` is the aggregate.

        Same arguments and failure contract as `chat_completions`. Use it as a context
        manager to close the connection when leaving early:

            with llm.stream(messages) as stream:
                for event in stream:
                    if isinstance(event, TextDelta):
                        show(event.text)
            usage = stream.response.usage
        """
        request = self.build_request(messages, tools, stop, response_format, overrides=options)
        return ResponseStream(self, replace(request, stream=True))

    def astream(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        stop: str | Sequence[str] | None = None,
        response_format: ResponseFormat = None,
        **options: Unpack[CallOptions],
    ) -> AsyncResponseStream:
        """Async twin of `stream`: `async with llm.astream(...) as s: async for event in s`."""
        request = self.build_request(messages, tools, stop, response_format, overrides=options)
        return AsyncResponseStream(self, replace(request, stream=True))

    def _run(self, request: ChatRequest, hooks: tuple[LLMHooks, ...]) -> LLMResponse:
        """The retry loop around `_complete`; returns the finished response."""
        self._pricing.prices(request.model)  # the first call reads the price map, untimed
        started = time.monotonic()
        request = start_deadline(request, started)
        refused = self.budget.refuse(request, self.provider_name) if self.budget else None
        if refused is not None:
            return self._finish(refused, request, 0, started, hooks)
        spend = start_spend()
        try:
            attempt = 0
            while True:
                attempt += 1
                response = self._attempt(request, attempt)
                spend.add(response, self._pricing.cost(response, request.model))
                delay = self._retry_delay(response, attempt, started, request.deadline)
                if delay is None:
                    return self._finish(response, request, attempt, started, hooks, spend)
                if hooks:
                    emit(hooks, "on_retry", self, request, response, attempt, delay)
                self._sleep(delay)
        finally:  # also when the call is cancelled or interrupted: its billed attempts count
            if self.budget is not None:
                self.budget.charge(request, spend)

    async def _arun(self, request: ChatRequest, hooks: tuple[LLMHooks, ...]) -> LLMResponse:
        """Async twin of `_run`."""
        await self._pricing.aload()
        started = time.monotonic()
        request = start_deadline(request, started)
        refused = await self.budget.arefuse(request, self.provider_name) if self.budget else None
        if refused is not None:
            return self._finish(refused, request, 0, started, hooks)
        spend = start_spend()
        try:
            attempt = 0
            while True:
                attempt += 1
                response = await self._aattempt(request, attempt)
                spend.add(response, self._pricing.cost(response, request.model))
                delay = self._retry_delay(response, attempt, started, request.deadline)
                if delay is None:
                    return self._finish(response, request, attempt, started, hooks, spend)
                if hooks:
                    emit(hooks, "on_retry", self, request, response, attempt, delay)
                await self._asleep(delay)
        finally:  # also when the call is cancelled or interrupted: its billed attempts count
            if self.budget is not None:
                await self.budget.acharge(request, spend)

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def _asleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    # --- shared machinery -------------------------------------------------------------------

    def _active_hooks(self) -> tuple[LLMHooks, ...]:
        shared = global_hooks()
        return self.hooks + shared if shared else self.hooks

    def build_request(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        stop: str | Sequence[str] | None = None,
        response_format: Any = None,
        tool_choice: Any = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> ChatRequest:
        """Check the arguments and merge config defaults with per-call options.

        `overrides` holds `CallOptions`; its `tool_choice` wins over the parameter.

        Raises:
            TypeError: an unknown option, or an option of the wrong type.
            ValueError: an argument is malformed; the message says which and why.
        """
        return build_request(
            self.config,
            messages,
            tools,
            stop,
            response_format,
            tool_choice,
            overrides,
            supports_response_schema=self.supports_response_schema,
        )

    def _attempt(self, request: ChatRequest, attempt: int) -> LLMResponse:
        began = time.perf_counter()
        try:
            with outside_spends():  # calls the provider's code makes are not this call's
                payload = complete_in_time(self._complete, request)
        except Exception as exc:
            return self._failure(exc, request, attempt, began)
        return self._parse_safely(payload, request, attempt, began)

    async def _aattempt(self, request: ChatRequest, attempt: int) -> LLMResponse:
        began = time.perf_counter()
        try:
            with outside_spends():
                payload = await acomplete_in_time(self._acomplete, request)
        except Exception as exc:
            return self._failure(exc, request, attempt, began)
        return self._parse_safely(payload, request, attempt, began)

    def _parse_safely(
        self, payload: Any, request: ChatRequest, attempt: int, began: float
    ) -> LLMResponse:
        try:
            parsed: object = self._parse(payload, request)
            if not isinstance(parsed, LLMResponse):  # a bad_response, like a _parse that raises
                kind = type(parsed).__name__
                raise ValueError(
                    f"{type(self).__name__}._parse returned {kind}, not an LLMResponse"
                )
            response = parsed
        except Exception as exc:  # a custom _parse that raises still yields a response
            return self._failure(exc, request, attempt, began)
        response = self._redact(response, request)
        if not response.ok:
            self._log_attempt(response, request, attempt, began)
        return response

    def _failure(
        self, exc: Exception, request: ChatRequest, attempt: int, began: float
    ) -> LLMResponse:
        error = self._checked_classify(exc, self._secrets_for(request))
        response = LLMResponse(
            status=LLMResponseStatus.ERROR,
            finish_reason="error",
            model=request.model,
            provider=self.provider_name,
            error=error,
        )
        response = self._redact(response, request)
        self._log_attempt(response, request, attempt, began)
        return response

    def _secrets_for(self, request: ChatRequest) -> tuple[str, ...]:
        """The secrets to mask in this call's output: the config's and the call's auth headers."""
        if not request.headers:
            return self._secrets
        extra = [s for s in header_secrets(request.headers) if s not in self._secrets]
        return longest_first((*self._secrets, *extra)) if extra else self._secrets

    def _redact(self, response: LLMResponse, request: ChatRequest) -> LLMResponse:
        """`response` with every secret masked: the one pass everything downstream relies on."""
        return redact_secrets(response, self._secrets_for(request))

    def _retry_delay(
        self, response: LLMResponse, attempt: int, started: float, deadline: float | None = None
    ) -> float | None:
        if response.error is None:
            return None
        now = time.monotonic()
        delay = self.config.retry.next_delay(response.error, attempt, now - started)
        if delay is not None and deadline is not None and now + delay >= deadline:
            return None  # the next attempt could not finish within total_timeout
        return delay

    def _log_attempt(
        self, response: LLMResponse, request: ChatRequest, attempt: int, began: float
    ) -> None:
        latency_ms = (time.perf_counter() - began) * 1000
        log_attempt_failed(self.provider_name, response, request, attempt, latency_ms)

    def _finish(
        self,
        response: LLMResponse,
        request: ChatRequest,
        attempt: int,
        started: float,
        hooks: tuple[LLMHooks, ...] = (),
        spend: Spend | None = None,
    ) -> LLMResponse:
        latency_ms = (time.monotonic() - started) * 1000
        cost = response.cost if spend is None else spend.cost
        response = replace(response, latency_ms=latency_ms, attempts=attempt, cost=cost)
        if request.output_type is not None:
            response = validate_output(response, request.output_type)
        log_call(self.provider_name, response, request, attempt, latency_ms)
        if hooks:
            emit(hooks, "on_response" if response.ok else "on_error", self, request, response)
        return response


def _explicit_fields(config: BaseLLMConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.model_fields_set}
