"""`FallbackLLM`: a group of LLMs tried in order until one answers.

    FallbackLLM([primary, secondary, fast])
        -> primary.chat_completions(...)      its own retry policy runs first
        -> ERROR of a kind in `fallback_on`?  try secondary, then fast
        -> the first SUCCESS (or the last ERROR) is the answer

A group is itself a `BaseLLM`: tools, stop, response_format and the call options
(metadata included) reach every member unchanged, and each member builds its own request
from its own config. The answer is the member's response, so `response.provider`
and `response.model` say which member answered; `attempts` counts every attempt
across the members tried, `cost` sums their costs and `latency_ms` covers the
whole group call. Streaming falls back too, as long as the failing member has not
sent its first event. A budget refusal (kind `budget`) never falls back: the next
member would spend the same tenant's money.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from pydantic_settings import SettingsConfigDict
from typing_extensions import Unpack

from llmport._deadline import start_deadline
from llmport.base import BaseLLM, ChatRequest
from llmport.budget import Budget
from llmport.config import BaseLLMConfig
from llmport.cost import Spend, collect_spends
from llmport.errors import ConfigurationError, ErrorKind
from llmport.hooks import LLMHooks, emit
from llmport.options import CallOptions
from llmport.response import LLMResponse
from llmport.response_stream import AsyncResponseStream, ResponseStream
from llmport.structured import OutputT, ResponseFormat

__all__ = ["DEFAULT_FALLBACK_ON", "FallbackLLM", "FallbackLLMConfig", "error_kinds"]

logger = logging.getLogger(__name__)

#: Failures that say "this member cannot answer now", not "this request is wrong".
DEFAULT_FALLBACK_ON = frozenset(
    {
        ErrorKind.RATE_LIMIT,
        ErrorKind.QUOTA,
        ErrorKind.SERVER,
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION,
        ErrorKind.NOT_FOUND,
        ErrorKind.BAD_RESPONSE,
    }
)


class FallbackLLMConfig(BaseLLMConfig):
    """Settings of a fallback group, from `LLMPORT_FALLBACK_*` variables.

    Nothing is required. Members keep their own configs (model, sampling, timeout,
    retry policy); the group's own fields are used only to check call arguments.
    """

    model_config = SettingsConfigDict(env_prefix="LLMPORT_FALLBACK_")

    required_fields = ()


class FallbackLLM(BaseLLM):
    """Try `members` in order; move on when a member's final error kind is in `fallback_on`.

    >>> from llmport.testing import FakeLLM
    >>> group = FallbackLLM([FakeLLM([ErrorKind.AUTH], chat_model="a"), FakeLLM(["hi"])])
    >>> group.chat_completions([{"role": "user", "content": "x"}]).error.kind.value
    'auth'

    Args:
        members: the LLMs to try, primary first; each keeps its own retry policy.
        fallback_on: error kinds (or their names) that pass the call to the next member;
            default `DEFAULT_FALLBACK_ON`.
        hooks: observe the group call (once per call, with the answering member's
            response). Global hooks (`add_hooks`) see each member's call instead.
        budget: caps each tenant's spend through the group (members may have their own);
            it is charged every attempt of every member tried, by `llmport.cost.Spend`'s rule.

    Raises:
        ConfigurationError: no members, a member that is not a `BaseLLM`, an unknown kind,
            or a `budget` that a member (or a member of a member group) already has.
    """

    provider_name = "fallback"
    config_class = FallbackLLMConfig
    config: FallbackLLMConfig

    def __init__(
        self,
        members: Sequence[BaseLLM],
        *,
        fallback_on: Iterable[ErrorKind | str] | None = None,
        hooks: Sequence[LLMHooks] = (),
        budget: Budget | Mapping[str, Any] | None = None,
        config: FallbackLLMConfig | None = None,
        **settings: Any,
    ) -> None:
        """Group `members`; `settings` are `FallbackLLMConfig` fields."""
        if isinstance(members, BaseLLM) or not members:
            raise ConfigurationError("FallbackLLM needs a non-empty list of LLMs")
        for index, member in enumerate(members):
            if not isinstance(member, BaseLLM):
                raise ConfigurationError(
                    f"FallbackLLM members[{index}] must be a BaseLLM, got {type(member).__name__}"
                )
        super().__init__(config, hooks=hooks, budget=budget, **settings)
        self.members: tuple[BaseLLM, ...] = tuple(members)
        if self.budget is not None and self.budget in _member_budgets(self.members):
            raise ConfigurationError(
                "FallbackLLM budget is already a member's: every call would be charged "
                "twice; give the group its own Budget"
            )
        self.fallback_on: frozenset[ErrorKind] = (
            DEFAULT_FALLBACK_ON if fallback_on is None else error_kinds(fallback_on)
        )

    def __repr__(self) -> str:
        return f"FallbackLLM({list(self.members)!r})"

    @property
    def model(self) -> str:
        """The primary member's model."""
        return self.members[0].model

    def chat_completions(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        stop: str | Sequence[str] | None = None,
        response_format: ResponseFormat[OutputT] = None,
        **options: Unpack[CallOptions],
    ) -> LLMResponse[OutputT]:
        """Ask each member in turn (see the class docstring); provider failures never raise.

        Raises:
            TypeError: an unknown keyword (the message names the closest option).
            ValueError: `messages`, `tools` or an option is malformed (before any I/O).
        """
        request, started = self._begin(messages, tools, stop, response_format, options)
        refused = self.budget.refuse(request, self.provider_name) if self.budget else None
        if refused is not None:
            return self._end(request, [refused], started, Spend())
        answers: list[LLMResponse] = []
        spends: list[Spend] = []  # every attempt of every member tried
        try:
            for member in self.members:
                with collect_spends(spends):
                    answer = member.chat_completions(
                        messages,
                        tools,
                        stop,
                        response_format,
                        **self._share(member, request, options),
                    )
                answers.append(answer)
                if not self._moves_on(member, answers, request):
                    break
            return self._end(request, answers, started, Spend.total(spends))
        finally:  # also when the call is cancelled part way: what the members spent counts
            if self.budget is not None:
                self.budget.charge(request, Spend.total(spends))

    async def achat_completions(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        stop: str | Sequence[str] | None = None,
        response_format: ResponseFormat[OutputT] = None,
        **options: Unpack[CallOptions],
    ) -> LLMResponse[OutputT]:
        """Async twin of `chat_completions`, with the same arguments and contract."""
        request, started = self._begin(messages, tools, stop, response_format, options)
        refused = await self.budget.arefuse(request, self.provider_name) if self.budget else None
        if refused is not None:
            return self._end(request, [refused], started, Spend())
        answers: list[LLMResponse] = []
        spends: list[Spend] = []
        try:
            for member in self.members:
                with collect_spends(spends):
                    answer = await member.achat_completions(
                        messages,
                        tools,
                        stop,
                        response_format,
                        **self._share(member, request, options),
                    )
                answers.append(answer)
                if not self._moves_on(member, answers, request):
                    break
            return self._end(request, answers, started, Spend.total(spends))
        finally:  # also when the call is cancelled part way: what the members spent counts
            if self.budget is not None:
                await self.budget.acharge(request, Spend.total(spends))

    def stream(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        stop: str | Sequence[str] | None = None,
        response_format: ResponseFormat = None,
        **options: Unpack[CallOptions],
    ) -> ResponseStream:
        """Stream from the first member that starts answering.

        A member that fails before its first event is skipped like a failed call; once a
        member has sent an event, its stream is the answer (text cannot be taken back).
        """
        from llmport._fallback_stream import FallbackStream

        request = self.build_request(messages, tools, stop, response_format, overrides=options)
        return FallbackStream(
            self,
            replace(request, stream=True),
            lambda member, request: member.stream(
                messages, tools, stop, response_format, **self._share(member, request, options)
            ),
        )

    def astream(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        stop: str | Sequence[str] | None = None,
        response_format: ResponseFormat = None,
        **options: Unpack[CallOptions],
    ) -> AsyncResponseStream:
        """Async twin of `stream`."""
        from llmport._fallback_stream import AsyncFallbackStream

        request = self.build_request(messages, tools, stop, response_format, overrides=options)
        return AsyncFallbackStream(
            self,
            replace(request, stream=True),
            lambda member, request: member.astream(
                messages, tools, stop, response_format, **self._share(member, request, options)
            ),
        )

    def _prepare(self) -> None:
        """Prepare every member, so `prepare()` warms the whole group."""
        for member in self.members:
            member.prepare()

    async def _aprepare(self) -> None:
        """Prepare every member off the event loop, concurrently."""
        await asyncio.gather(*(member.aprepare() for member in self.members))

    def _complete(self, request: ChatRequest) -> Any:
        """Never used: the group delegates whole calls to its members."""
        raise NotImplementedError("FallbackLLM delegates whole calls to its members")

    # --- helpers ------------------------------------------------------------------------------

    def _begin(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None,
        stop: str | Sequence[str] | None,
        response_format: Any,
        options: Mapping[str, Any],
    ) -> tuple[ChatRequest, float]:
        # Checking the arguments once here makes a bad call raise before any member runs.
        request = self.build_request(messages, tools, stop, response_format, overrides=options)
        self._announce(request)
        started = time.monotonic()
        return start_deadline(request, started), started

    def _announce(self, request: ChatRequest) -> None:
        if self.hooks:
            emit(self.hooks, "on_request", self, request)

    def _share(self, member: BaseLLM, request: ChatRequest, options: CallOptions) -> CallOptions:
        """`options` for `member`, its `total_timeout` cut to what is left of the group's."""
        if request.deadline is None:
            return options
        left = max(request.deadline - time.monotonic(), 0.001)
        own = member.config.total_timeout
        return {**options, "total_timeout": min(left, own) if own else left}

    def _moves_on(self, member: BaseLLM, answers: list[LLMResponse], request: ChatRequest) -> bool:
        """Whether the last answer hands the call to the next member (and logs it)."""
        error = answers[-1].error
        if error is None or error.kind not in self.fallback_on or error.kind is ErrorKind.BUDGET:
            return False
        if len(answers) == len(self.members):
            return False
        if request.deadline is not None and time.monotonic() >= request.deadline:
            return False  # the group's total_timeout is spent
        logger.warning(
            "llm fallback: %s failed with %s, trying %s",
            member,
            error.kind.value,
            self.members[len(answers)],
            extra={
                "provider_id": member.provider_name,
                "model": answers[-1].model or member.model,
                "error_kind": error.kind.value,
                "member": len(answers) - 1,
                "next_member": len(answers),
            },
        )
        return True

    def _end(
        self, request: ChatRequest, answers: list[LLMResponse], started: float, spend: Spend
    ) -> LLMResponse:
        """The group's response: the last answer, with the attempts and `spend` of them all."""
        response = replace(
            answers[-1],
            attempts=sum(answer.attempts for answer in answers),
            latency_ms=(time.monotonic() - started) * 1000,
            cost=spend.cost,
        )
        if self.hooks:
            emit(self.hooks, "on_response" if response.ok else "on_error", self, request, response)
        return response


def _member_budgets(members: Iterable[BaseLLM]) -> list[Budget]:
    """The budgets of `members` and of the members of groups among them."""
    found: list[Budget] = []
    for member in members:
        if member.budget is not None:
            found.append(member.budget)
        if isinstance(member, FallbackLLM):
            found += _member_budgets(member.members)
    return found


def error_kinds(kinds: Iterable[ErrorKind | str]) -> frozenset[ErrorKind]:
    """Error kinds from kinds or their names (`"rate_limit"`).

    Raises:
        ConfigurationError: a name is not an error kind (the message lists the known ones).
    """
    if isinstance(kinds, str):
        kinds = [kinds]
    result: set[ErrorKind] = set()
    for kind in kinds:
        try:
            result.add(ErrorKind(kind))
        except ValueError:
            known = ", ".join(k.value for k in ErrorKind)
            raise ConfigurationError(f"unknown error kind {kind!r}; known: {known}") from None
    return frozenset(result)
