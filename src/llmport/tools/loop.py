"""`run_tools`: call the model, run the tools it asks for, repeat until it answers.

    messages -> LLM call -> ERROR response                 -> LLM_ERROR
                         -> answer without tool calls      -> COMPLETED
                         -> tool calls, budget spent       -> MAX_ITERATIONS (tools not run)
                         -> tool calls -> one turn         -> next LLM call

One turn, for the calls of one answer: each call is resolved (unknown tool, bad
arguments -> an error message for the model); calls that need confirmation are
put to `confirm` or, without it, held back; the rest run (concurrently in
`arun_tools`); their tool messages are appended in the order the model asked.
If any call was held back the loop stops with PENDING_CONFIRMATION, and
`resume_tools` runs or rejects it and carries on.

Nothing a tool or the model does raises out of the loop; only programming mistakes
(bad arguments to these functions) raise.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from pydantic import ValidationError

from llmport.base import BaseLLM
from llmport.errors import redact
from llmport.response import LLMResponse, ToolCall, Usage
from llmport.tools.audit import AuditEvent, AuditEventKind, AuditHook, emit_audit
from llmport.tools.definition import Tool, describe_validation_error, serialize_result
from llmport.tools.result import PendingConfirmation, ToolLoopResult, ToolLoopStatus

__all__ = ["REJECTED", "arun_tools", "aresume_tools", "resume_tools", "run_tools"]

logger = logging.getLogger(__name__)

#: The tool message the model gets for a call the user rejected.
REJECTED = "The user rejected this action."

ToolLike: TypeAlias = "Tool[..., Any] | Callable[..., Any]"
Confirm: TypeAlias = Callable[[ToolCall], bool]
AsyncConfirm: TypeAlias = Callable[[ToolCall], "bool | Awaitable[bool]"]
Approval: TypeAlias = "bool | Mapping[str, bool]"


def run_tools(
    llm: BaseLLM,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[ToolLike],
    *,
    max_iterations: int = 5,
    confirm: Confirm | None = None,
    audit: AuditHook | Iterable[AuditHook] = (),
    response_format: Any = None,
    **options: Any,
) -> ToolLoopResult:
    """Run the tool-call loop until the model answers, and return the whole exchange.

    Args:
        tools: `Tool`s or plain typed functions (wrapped with `tool()`).
        max_iterations: the most LLM calls to make; tools asked for by the last one
            are not run.
        confirm: asked `confirm(call) -> bool` before a tool marked
            `requires_confirmation` runs; without it the loop stops with `pending`.
        audit: hooks that receive every step as an `AuditEvent`.
        response_format: passed to every call, so the final answer is `response.parsed`.
        options: passed to `chat_completions` (temperature, metadata, tool_choice, ...).

    Raises:
        ValueError: an argument is malformed (two tools with one name, bad messages...).
        RuntimeError: an async tool is given while an event loop runs (use `arun_tools`).
    """
    run = _Run(llm, messages, tools, max_iterations, audit, response_format, options)
    run.check_sync_use()
    return _loop(run, confirm)


async def arun_tools(
    llm: BaseLLM,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[ToolLike],
    *,
    max_iterations: int = 5,
    confirm: AsyncConfirm | None = None,
    audit: AuditHook | Iterable[AuditHook] = (),
    response_format: Any = None,
    **options: Any,
) -> ToolLoopResult:
    """Async twin of `run_tools`: the calls of one turn run concurrently (sync tools in
    threads), and `confirm` may be async."""
    run = _Run(llm, messages, tools, max_iterations, audit, response_format, options)
    return await _aloop(run, confirm)


def resume_tools(
    llm: BaseLLM,
    pending: PendingConfirmation,
    tools: Sequence[ToolLike],
    approve: Approval,
    *,
    max_iterations: int = 5,
    confirm: Confirm | None = None,
    audit: AuditHook | Iterable[AuditHook] = (),
    response_format: Any = None,
    **options: Any,
) -> ToolLoopResult:
    """Approve or reject the pending calls, run the approved ones, and continue the loop.

    `approve` is one decision for every pending call, or a `{call_id: bool}` dict
    covering each of them. A rejected call tells the model `REJECTED`. Pass the same
    tools and options as to `run_tools`; `max_iterations` counts the calls made before
    the pause too.

    Raises:
        ValueError: `approve` misses or invents a call id, or `max_iterations` leaves
            no room for another LLM call.
    """
    run = _Run.resumed(llm, pending, tools, max_iterations, audit, response_format, options)
    run.check_sync_use()
    steps = run.decide_pending(pending, approve)
    for step in steps:
        if step.runnable:
            run.execute(step)
    run.append_results(steps)
    return _loop(run, confirm)


async def aresume_tools(
    llm: BaseLLM,
    pending: PendingConfirmation,
    tools: Sequence[ToolLike],
    approve: Approval,
    *,
    max_iterations: int = 5,
    confirm: AsyncConfirm | None = None,
    audit: AuditHook | Iterable[AuditHook] = (),
    response_format: Any = None,
    **options: Any,
) -> ToolLoopResult:
    """Async twin of `resume_tools`."""
    run = _Run.resumed(llm, pending, tools, max_iterations, audit, response_format, options)
    steps = run.decide_pending(pending, approve)
    await asyncio.gather(*(run.aexecute(step) for step in steps if step.runnable))
    run.append_results(steps)
    return await _aloop(run, confirm)


def _loop(run: _Run, confirm: Confirm | None) -> ToolLoopResult:
    while True:
        response = run.llm.chat_completions(run.messages, **run.call_options)
        result = run.take(response)
        if result is not None:
            return result
        steps = [run.resolve(call) for call in response.tool_calls]
        if confirm is not None:
            for step in steps:
                if step.awaits_confirmation:
                    run.decide(step, *_ask(confirm, step.call))
        for step in steps:
            if step.runnable:
                run.execute(step)
        result = run.end_turn(steps, response)
        if result is not None:
            return result


async def _aloop(run: _Run, confirm: AsyncConfirm | None) -> ToolLoopResult:
    while True:
        response = await run.llm.achat_completions(run.messages, **run.call_options)
        result = run.take(response)
        if result is not None:
            return result
        steps = [run.resolve(call) for call in response.tool_calls]
        if confirm is not None:
            for step in steps:
                if step.awaits_confirmation:
                    run.decide(step, *await _aask(confirm, step.call))
        await asyncio.gather(*(run.aexecute(step) for step in steps if step.runnable))
        result = run.end_turn(steps, response)
        if result is not None:
            return result


@dataclass
class _Step:
    """One tool call of the current turn, and its tool message once known."""

    call: ToolCall
    tool: Tool[..., Any] | None = None
    kwargs: dict[str, Any] | None = None
    content: str | None = None
    approved: bool = False

    @property
    def awaits_confirmation(self) -> bool:
        return (
            self.content is None
            and self.tool is not None
            and self.tool.requires_confirmation
            and not self.approved
        )

    @property
    def runnable(self) -> bool:
        return self.content is None and self.tool is not None and not self.awaits_confirmation


class _Run:
    """The state of one loop: transcript, counters, tools and audit hooks."""

    def __init__(
        self,
        llm: BaseLLM,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[ToolLike],
        max_iterations: int,
        audit: AuditHook | Iterable[AuditHook],
        response_format: Any,
        options: Mapping[str, Any],
        *,
        run_id: str | None = None,
        iterations: int = 0,
        usage: Usage | None = None,
    ) -> None:
        if isinstance(max_iterations, bool) or not isinstance(max_iterations, int):
            raise ValueError(f"max_iterations must be an integer, got {max_iterations!r}")
        if max_iterations <= iterations:
            raise ValueError(
                f"max_iterations={max_iterations} leaves no room for another LLM call "
                f"({iterations} already made)"
            )
        self.llm = llm
        self.messages = [dict(message) for message in messages]
        self.tools = _index(tools)
        self.max_iterations = max_iterations
        self.audit: tuple[AuditHook, ...] = (audit,) if callable(audit) else tuple(audit)
        definitions = [t.definition() for t in self.tools.values()] or None
        self.call_options = {**options, "tools": definitions, "response_format": response_format}
        self.run_id = run_id or uuid.uuid4().hex
        self.iterations = iterations
        self.usage = usage or Usage()

    @classmethod
    def resumed(
        cls,
        llm: BaseLLM,
        pending: PendingConfirmation,
        tools: Sequence[ToolLike],
        max_iterations: int,
        audit: AuditHook | Iterable[AuditHook],
        response_format: Any,
        options: Mapping[str, Any],
    ) -> _Run:
        return cls(
            llm,
            pending.messages,
            tools,
            max_iterations,
            audit,
            response_format,
            options,
            run_id=pending.run_id,
            iterations=pending.iterations,
            usage=pending.usage,
        )

    def check_sync_use(self) -> None:
        if any(t.is_async for t in self.tools.values()) and _loop_is_running():
            raise RuntimeError("async tools inside a running event loop: use arun_tools()")

    def emit(self, kind: AuditEventKind, **fields: Any) -> None:
        if self.audit:
            event = AuditEvent(kind=kind, run_id=self.run_id, iteration=self.iterations, **fields)
            emit_audit(self.audit, event)

    # --- LLM answers --------------------------------------------------------------------

    def take(self, response: LLMResponse) -> ToolLoopResult | None:
        """Count an LLM answer; the result if it ends the loop, None if its tools should run."""
        self.iterations += 1
        self.usage = self.usage + response.usage
        self.emit(
            AuditEventKind.LLM_CALL,
            model=response.model,
            status=response.status.value,
            usage=response.usage,
            duration_ms=response.latency_ms,
            error=response.error.message if response.error else None,
        )
        if not response.ok:
            return self.finish(ToolLoopStatus.LLM_ERROR, response)
        if not response.tool_calls:
            self.messages.append(response.to_message())
            return self.finish(ToolLoopStatus.COMPLETED, response)
        if self.iterations >= self.max_iterations:
            # The unanswered tool calls are left out so the transcript stays valid to resend.
            return self.finish(ToolLoopStatus.MAX_ITERATIONS, response)
        self.messages.append(response.to_message())
        return None

    def end_turn(self, steps: list[_Step], response: LLMResponse) -> ToolLoopResult | None:
        """Append the turn's tool messages; the pending result if a call awaits approval."""
        self.append_results(steps)
        held = [step.call for step in steps if step.awaits_confirmation]
        if not held:
            return None
        for call in held:
            self.emit(
                AuditEventKind.CONFIRMATION_REQUESTED,
                tool_call_id=call.id,
                tool_name=call.name,
                arguments=call.arguments,
            )
        pending = PendingConfirmation(
            calls=held,
            messages=list(self.messages),
            iterations=self.iterations,
            usage=self.usage,
            run_id=self.run_id,
        )
        return self.finish(ToolLoopStatus.PENDING_CONFIRMATION, response, pending)

    def finish(
        self,
        status: ToolLoopStatus,
        response: LLMResponse,
        pending: PendingConfirmation | None = None,
    ) -> ToolLoopResult:
        self.emit(AuditEventKind.LOOP_END, status=status.value, usage=self.usage)
        logger.debug(
            "tool loop %s",
            status.value,
            extra={"run_id": self.run_id, "iterations": self.iterations, "status": status.value},
        )
        return ToolLoopResult(
            status=status,
            response=response,
            messages=self.messages,
            usage=self.usage,
            iterations=self.iterations,
            run_id=self.run_id,
            pending=pending,
        )

    # --- tool calls ---------------------------------------------------------------------

    def resolve(self, call: ToolCall) -> _Step:
        """Find the tool and validate the arguments; a step with an error message if not."""
        tool = self.tools.get(call.name)
        if tool is None:
            available = ", ".join(self.tools) or "none"
            error = f"Error: unknown tool {call.name!r}. Available tools: {available}."
        elif call.arguments_error is not None:
            error = (
                f"Error: the arguments for {call.name} could not be read "
                f"({call.arguments_error}). Send them as one JSON object."
            )
        else:
            try:
                return _Step(call, tool, tool.validate(call.arguments))
            except ValidationError as exc:
                error = (
                    f"Error: invalid arguments for {call.name}: {describe_validation_error(exc)}"
                )
        self.emit(
            AuditEventKind.TOOL_ERROR,
            tool_call_id=call.id,
            tool_name=call.name,
            arguments=call.arguments,
            error=error,
        )
        return _Step(call, tool, content=error)

    def decide(self, step: _Step, approved: bool, error: str | None = None) -> None:
        step.approved = approved
        if not approved:
            step.content = REJECTED
        self.emit(
            AuditEventKind.CONFIRMATION,
            tool_call_id=step.call.id,
            tool_name=step.call.name,
            approved=approved,
            error=error,
        )

    def decide_pending(self, pending: PendingConfirmation, approve: Approval) -> list[_Step]:
        decisions = _decisions(pending, approve)
        steps = [self.resolve(call) for call in pending.calls]
        for step in steps:
            if step.content is None:
                self.decide(step, decisions[step.call.id])
        return steps

    def execute(self, step: _Step) -> None:
        assert step.tool is not None and step.kwargs is not None
        began = self._started(step)
        try:
            content = serialize_result(step.tool.invoke(step.kwargs))
        except Exception as exc:
            self._failed(step, exc, began)
        else:
            self._returned(step, content, began)

    async def aexecute(self, step: _Step) -> None:
        assert step.tool is not None and step.kwargs is not None
        began = self._started(step)
        try:
            content = serialize_result(await step.tool.ainvoke(step.kwargs))
        except Exception as exc:
            self._failed(step, exc, began)
        else:
            self._returned(step, content, began)

    def append_results(self, steps: list[_Step]) -> None:
        for step in steps:
            if step.content is not None:
                message = {"role": "tool", "tool_call_id": step.call.id, "content": step.content}
                self.messages.append(message)

    def _started(self, step: _Step) -> float:
        self.emit(
            AuditEventKind.TOOL_CALL,
            tool_call_id=step.call.id,
            tool_name=step.call.name,
            arguments=step.call.arguments,
        )
        return time.perf_counter()

    def _returned(self, step: _Step, content: str, began: float) -> None:
        step.content = content
        self.emit(
            AuditEventKind.TOOL_RESULT,
            tool_call_id=step.call.id,
            tool_name=step.call.name,
            result=content,
            duration_ms=_elapsed_ms(began),
        )

    def _failed(self, step: _Step, exc: Exception, began: float) -> None:
        step.content = f"Error: {type(exc).__name__}: {redact(str(exc))}"
        logger.warning(
            "tool %s failed: %s",
            step.call.name,
            step.content,
            extra={"run_id": self.run_id, "tool": step.call.name},
        )
        self.emit(
            AuditEventKind.TOOL_ERROR,
            tool_call_id=step.call.id,
            tool_name=step.call.name,
            error=step.content,
            duration_ms=_elapsed_ms(began),
        )


def _index(tools: Sequence[ToolLike]) -> dict[str, Tool[..., Any]]:
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
        raise ValueError(f"tools must be a list of tools, got {type(tools).__name__}")
    indexed: dict[str, Tool[..., Any]] = {}
    for item in tools:
        if not callable(item):
            raise ValueError(f"tools must be tools or functions, got {type(item).__name__}")
        wrapped = item if isinstance(item, Tool) else Tool(item)
        if wrapped.name in indexed:
            raise ValueError(f"two tools are named {wrapped.name!r}; names must be unique")
        indexed[wrapped.name] = wrapped
    return indexed


def _decisions(pending: PendingConfirmation, approve: Approval) -> dict[str, bool]:
    ids = [call.id for call in pending.calls]
    if isinstance(approve, bool):
        return dict.fromkeys(ids, approve)
    missing = [i for i in ids if i not in approve]
    unknown = [i for i in approve if i not in ids]
    if missing or unknown:
        raise ValueError(
            f"approve must decide exactly the pending calls {ids}; "
            f"missing {missing}, not pending {unknown}"
        )
    return {i: approve[i] is True for i in ids}


def _ask(confirm: Confirm, call: ToolCall) -> tuple[bool, str | None]:
    """The user's decision; a callback that fails counts as a rejection."""
    try:
        answer: object = confirm(call)
    except Exception as exc:
        return _confirm_failed(call, exc)
    if inspect.isawaitable(answer):
        if inspect.iscoroutine(answer):
            answer.close()
        raise TypeError("confirm returned an awaitable: use arun_tools() for async callbacks")
    return answer is True, None


async def _aask(confirm: AsyncConfirm, call: ToolCall) -> tuple[bool, str | None]:
    try:
        answer: object = confirm(call)
        if inspect.isawaitable(answer):
            answer = await answer
    except Exception as exc:
        return _confirm_failed(call, exc)
    return answer is True, None


def _confirm_failed(call: ToolCall, exc: Exception) -> tuple[bool, str]:
    error = f"confirm failed, rejected: {type(exc).__name__}: {redact(str(exc))}"
    logger.warning("tool %s: %s", call.name, error, extra={"tool": call.name})
    return False, error


def _elapsed_ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 3)


def _loop_is_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
