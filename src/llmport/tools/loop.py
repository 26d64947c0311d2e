"""`run_tools`: call the model, run the tools it asks for, repeat until it answers.

    messages -> LLM call -> ERROR response               -> LLM_ERROR
                         -> answer without tool calls    -> COMPLETED
                         -> tool calls, budget spent     -> MAX_ITERATIONS (tools not run)
                         -> tool calls -> one turn       -> the next LLM call

One turn handles the calls of one answer: each call is resolved (an unknown tool
or bad arguments become an error message for the model); calls that need
confirmation are put to `confirm` or, without it, held back; the rest run
(concurrently in `arun_tools`); their tool messages are appended in the order the
model asked. If a call was held back the loop stops with PENDING_CONFIRMATION, and
`resume_tools` runs or rejects it and carries on.

Nothing a tool or the model does raises out of the loop; only programming mistakes
(bad arguments to these functions) raise.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

from typing_extensions import Unpack

from llmport.base import BaseLLM
from llmport.errors import redact
from llmport.options import CallOptions
from llmport.response import ToolCall
from llmport.tools._run import REJECTED, Approval, Run, ToolLike, unique_call_ids
from llmport.tools.audit import AuditHook
from llmport.tools.confirmation import ConfirmationGuard
from llmport.tools.definition import loop_is_running
from llmport.tools.result import PendingConfirmation, ToolLoopResult

__all__ = ["REJECTED", "aresume_tools", "arun_tools", "resume_tools", "run_tools"]

logger = logging.getLogger(__name__)

Confirm: TypeAlias = Callable[[ToolCall], bool]
AsyncConfirm: TypeAlias = Callable[[ToolCall], "bool | Awaitable[bool]"]


def run_tools(
    llm: BaseLLM,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[ToolLike],
    *,
    max_iterations: int = 5,
    confirm: Confirm | None = None,
    audit: AuditHook | Iterable[AuditHook] = (),
    hooks: AuditHook | Iterable[AuditHook] = (),
    response_format: Any = None,
    guard: ConfirmationGuard | None = None,
    **options: Unpack[CallOptions],
) -> ToolLoopResult:
    """Run the tool-call loop until the model answers; return the whole exchange.

    Args:
        tools: `Tool`s, or plain typed functions (wrapped with `Tool`).
        max_iterations: the most LLM calls to make; tools asked for by the last
            one are not run.
        confirm: called as `confirm(call)` before a tool marked `requires_confirmation`
            runs; only `True` approves. Without it the loop stops with `pending`.
        audit: hooks that receive every step as an `AuditEvent`.
        hooks: another name for `audit`; both may be given.
        response_format: passed to every call, so the final answer has `parsed`.
        guard: how a pending state is made (id, expiry, signature); the default lasts
            10 minutes and is signed when `LLMPORT_SIGNING_KEY` is set.
        options: `CallOptions` passed to every `chat_completions` call (temperature,
            metadata, tool_choice, ...).

    Raises:
        TypeError: an unknown keyword (the message names the closest option).
        ValueError: an argument is malformed (two tools with one name, bad messages...).
        RuntimeError: an async tool is given inside a running event loop (use `arun_tools`).
    """
    run = Run(
        llm,
        messages,
        tools,
        max_iterations,
        _audit_hooks(audit, hooks),
        options,
        response_format,
        guard=guard,
    )
    _check_calls(run)
    _check_sync_use(run)
    return _loop(run, confirm)


async def arun_tools(
    llm: BaseLLM,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[ToolLike],
    *,
    max_iterations: int = 5,
    confirm: AsyncConfirm | None = None,
    audit: AuditHook | Iterable[AuditHook] = (),
    hooks: AuditHook | Iterable[AuditHook] = (),
    response_format: Any = None,
    guard: ConfirmationGuard | None = None,
    **options: Unpack[CallOptions],
) -> ToolLoopResult:
    """Async twin of `run_tools`: the calls of one turn run concurrently (sync tools in
    worker threads), and `confirm` may be async."""
    run = Run(
        llm,
        messages,
        tools,
        max_iterations,
        _audit_hooks(audit, hooks),
        options,
        response_format,
        guard=guard,
    )
    _check_calls(run)
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
    hooks: AuditHook | Iterable[AuditHook] = (),
    response_format: Any = None,
    guard: ConfirmationGuard | None = None,
    **options: Unpack[CallOptions],
) -> ToolLoopResult:
    """Approve or reject the pending calls, run the approved ones, and continue the loop.

    `approve` is one decision for every pending call, or a `{call_id: bool}` dict that
    covers each of them. A rejected call tells the model `REJECTED`. Pass the same
    tools, options and `guard` as to `run_tools`; `max_iterations` counts the LLM
    calls made before the pause too.

    Before any tool runs, `guard` checks that the state is consistent with its own
    transcript, signed (when a key is configured) and not expired, then claims its
    id so that it is never resumed twice.

    Raises:
        ConfirmationError: the state is altered, inconsistent, expired or already resumed.
        ValueError: `approve` misses or invents a call id, or `max_iterations` leaves
            no room for another LLM call.
    """
    hooks = _audit_hooks(audit, hooks)
    call = (options, response_format)
    run, decisions = _admit(llm, pending, tools, approve, max_iterations, hooks, guard, call)
    _check_sync_use(run)
    run.guard.claim(pending)
    steps = run.decide_pending(pending, decisions)
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
    hooks: AuditHook | Iterable[AuditHook] = (),
    response_format: Any = None,
    guard: ConfirmationGuard | None = None,
    **options: Unpack[CallOptions],
) -> ToolLoopResult:
    """Async twin of `resume_tools` (the claim is made in a worker thread)."""
    hooks = _audit_hooks(audit, hooks)
    call = (options, response_format)
    run, decisions = _admit(llm, pending, tools, approve, max_iterations, hooks, guard, call)
    await asyncio.to_thread(run.guard.claim, pending)
    steps = run.decide_pending(pending, decisions)
    await asyncio.gather(*(run.aexecute(step) for step in steps if step.runnable))
    run.append_results(steps)
    return await _aloop(run, confirm)


def _admit(
    llm: BaseLLM,
    pending: PendingConfirmation,
    tools: Sequence[ToolLike],
    approve: Approval,
    max_iterations: int,
    hooks: tuple[AuditHook, ...],
    guard: ConfirmationGuard | None,
    call: tuple[CallOptions, Any],
) -> tuple[Run, dict[str, bool]]:
    """The resumed run and its decisions, once the state and `approve` pass every check.

    `call` is what every LLM call is given: the options and the response format.
    """
    options, response_format = call
    run = Run(llm, (), tools, max_iterations, hooks, options, response_format, pending, guard)
    decisions = run.admit(pending, approve)
    _check_calls(run)
    return run, decisions


def _loop(run: Run, confirm: Confirm | None) -> ToolLoopResult:
    while True:
        response = unique_call_ids(
            run.llm.chat_completions(
                run.messages, run.definitions, response_format=run.response_format, **run.options
            )
        )
        result = run.take(response)
        if result is not None:
            return result
        steps = [run.resolve(call) for call in response.tool_calls]
        for step in steps:
            if confirm is not None and step.awaits_confirmation:
                run.decide(step, *_ask(confirm, step.call))
        for step in steps:
            if step.runnable:
                run.execute(step)
        result = run.end_turn(steps, response)
        if result is not None:
            return result


async def _aloop(run: Run, confirm: AsyncConfirm | None) -> ToolLoopResult:
    while True:
        response = unique_call_ids(
            await run.llm.achat_completions(
                run.messages, run.definitions, response_format=run.response_format, **run.options
            )
        )
        result = run.take(response)
        if result is not None:
            return result
        steps = [run.resolve(call) for call in response.tool_calls]
        for step in steps:
            if confirm is not None and step.awaits_confirmation:
                run.decide(step, *await _aask(confirm, step.call))
        await asyncio.gather(*(run.aexecute(step) for step in steps if step.runnable))
        result = run.end_turn(steps, response)
        if result is not None:
            return result


def _audit_hooks(
    audit: AuditHook | Iterable[AuditHook], hooks: AuditHook | Iterable[AuditHook]
) -> tuple[AuditHook, ...]:
    """`audit=` plus `hooks=`, two names for the same thing."""
    return tuple(
        hook for group in (audit, hooks) for hook in ((group,) if callable(group) else tuple(group))
    )


def _check_calls(run: Run) -> None:
    """Check what every LLM call of the loop is given (options, response format, the
    transcript so far) before the first call, and before a resumed run's tools run."""
    run.llm.build_request(
        run.messages, run.definitions, response_format=run.response_format, overrides=run.options
    )


def _check_sync_use(run: Run) -> None:
    if loop_is_running() and any(tool.is_async for tool in run.tools.values()):
        raise RuntimeError("async tools inside a running event loop: use arun_tools()")


def _ask(confirm: Confirm, call: ToolCall) -> tuple[bool, str | None]:
    """The user's decision; a callback that raises counts as a rejection."""
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
    error = f"confirm raised, so the call is rejected: {type(exc).__name__}: {redact(str(exc))}"
    logger.warning("tool %s: %s", call.name, error, extra={"tool": call.name})
    return False, error
