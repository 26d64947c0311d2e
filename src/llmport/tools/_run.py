"""The state and the steps of one tool loop, shared by the sync and async loops."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias

from pydantic import ValidationError

from llmport.base import BaseLLM
from llmport.cost import Spend
from llmport.errors import redact
from llmport.options import CallOptions
from llmport.parsing import parse_tool_arguments, synthesise_tool_call_id
from llmport.response import LLMResponse, ToolCall, Usage
from llmport.tools.audit import (
    AuditEvent,
    AuditEventKind,
    AuditHook,
    emit_audit,
    hide_secret_names,
    hide_values,
    secret_values,
)
from llmport.tools.confirmation import ConfirmationGuard
from llmport.tools.definition import Tool, describe_validation_error, serialize_result
from llmport.tools.result import PendingConfirmation, ToolLoopResult, ToolLoopStatus

logger = logging.getLogger(__name__)

#: The tool message the model gets for a call the user rejected.
REJECTED = "The user rejected this action."

ToolLike: TypeAlias = "Tool | Callable[..., Any]"
Approval: TypeAlias = "bool | Mapping[str, bool]"


@dataclass
class Step:
    """One tool call of the current turn, and its tool message once known."""

    call: ToolCall
    tool: Tool | None = None
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


class Run:
    """One loop: its transcript, counters, tools and audit hooks."""

    def __init__(
        self,
        llm: BaseLLM,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[ToolLike],
        max_iterations: int,
        audit: AuditHook | Iterable[AuditHook],
        options: CallOptions,
        response_format: Any = None,
        pending: PendingConfirmation | None = None,
        guard: ConfirmationGuard | None = None,
    ) -> None:
        self.iterations = pending.iterations if pending else 0
        if isinstance(max_iterations, bool) or not isinstance(max_iterations, int):
            raise ValueError(f"max_iterations must be an integer, got {max_iterations!r}")
        if max_iterations <= self.iterations:
            raise ValueError(
                f"max_iterations={max_iterations} leaves no room for an LLM call "
                f"({self.iterations} already made)"
            )
        self.llm = llm
        self.messages = [dict(m) for m in (pending.messages if pending else messages)]
        self.tools = index_tools(tools)
        self.max_iterations = max_iterations
        self.audit: tuple[AuditHook, ...] = (audit,) if callable(audit) else tuple(audit)
        self.definitions = [t.definition() for t in self.tools.values()] or None
        #: What every LLM call of the loop is given besides the transcript and the tools.
        self.options = options
        self.response_format = response_format
        self.run_id = pending.run_id if pending else uuid.uuid4().hex
        self.usage = pending.usage if pending else Usage()
        self.spend = Spend.resumed(pending.cost) if pending else Spend()
        self.guard = guard or ConfirmationGuard()
        #: Values of secret-named tool arguments seen in this run: hidden wherever they reappear.
        self.secrets: set[str] = set()
        for message in self.messages:
            entries = message.get("tool_calls")
            for entry in entries if isinstance(entries, list) else ():
                self.remember_secrets(_arguments_of(entry))

    def remember_secrets(self, arguments: Any) -> None:
        self.secrets |= secret_values(arguments)

    def hide(self, text: str) -> str:
        """`text` without this run's secret argument values."""
        return str(hide_values(text, self.secrets))

    def emit(self, kind: AuditEventKind, call: ToolCall | None = None, **fields: Any) -> None:
        if not self.audit:
            return
        if call is not None:
            fields.update(tool_call_id=call.id, tool_name=call.name)
        if fields.get("arguments") is not None:
            fields["arguments"] = hide_secret_names(fields["arguments"])
        fields = hide_values(fields, self.secrets) if self.secrets else fields
        event = AuditEvent(kind=kind, run_id=self.run_id, iteration=self.iterations, **fields)
        emit_audit(self.audit, event)

    # --- LLM answers --------------------------------------------------------------------

    def take(self, response: LLMResponse) -> ToolLoopResult | None:
        """Count an LLM answer: the result if it ends the loop, None if its tools should run."""
        self.iterations += 1
        self.usage = self.usage + response.usage
        self.spend.add_call(response)
        error = response.error.message if response.error else None
        self.emit(
            AuditEventKind.LLM_CALL,
            model=response.model,
            status=response.status.value,
            usage=response.usage,
            duration_ms=response.latency_ms,
            error=error,
        )
        if not response.ok:
            return self.finish(ToolLoopStatus.LLM_ERROR, response)
        if not response.tool_calls:
            self.messages.append(response.to_message())
            return self.finish(ToolLoopStatus.COMPLETED, response)
        if self.iterations >= self.max_iterations:
            # Unanswered tool calls are left out, so the transcript stays valid to resend.
            return self.finish(ToolLoopStatus.MAX_ITERATIONS, response)
        self.messages.append(response.to_message())
        return None

    def end_turn(self, steps: list[Step], response: LLMResponse) -> ToolLoopResult | None:
        """Append the turn's tool messages: the pending result if a call awaits approval."""
        self.append_results(steps)
        held = [
            ToolCall(id=step.call.id, name=step.call.name, arguments=step.call.arguments)
            for step in steps
            if step.awaits_confirmation
        ]
        if not held:
            return None
        for call in held:
            self.emit(AuditEventKind.CONFIRMATION_REQUESTED, call, arguments=call.arguments)
        pending = self.guard.new_pending(
            held, list(self.messages), self.iterations, self.usage, self.run_id, self.spend.cost
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
            "tool loop %s after %d LLM calls",
            status.value,
            self.iterations,
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
            cost=self.spend.cost,
        )

    # --- tool calls ---------------------------------------------------------------------

    def resolve(self, call: ToolCall) -> Step:
        """Find the tool and validate the arguments; a step holding an error if that fails."""
        self.remember_secrets(call.arguments)
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
                return Step(call, tool, tool.validate(call.arguments))
            except ValidationError as exc:
                problems = describe_validation_error(exc)
                error = f"Error: invalid arguments for {call.name}: {problems}"
        self.emit(AuditEventKind.TOOL_ERROR, call, arguments=call.arguments, error=error)
        return Step(call, tool, content=self.hide(error))

    def decide(self, step: Step, approved: bool, error: str | None = None) -> None:
        step.approved = approved
        if not approved:
            step.content = REJECTED
        self.emit(AuditEventKind.CONFIRMATION, step.call, approved=approved, error=error)

    def admit(self, pending: PendingConfirmation, approve: Approval) -> dict[str, bool]:
        """Check the state and the decisions before anything runs: `{call_id: approved}`.

        Raises:
            ConfirmationError: the state is altered, inconsistent or expired.
            ValueError: `approve` misses or invents a call id.
        """
        self.guard.check(pending)
        return _decisions(pending, approve)

    def decide_pending(
        self, pending: PendingConfirmation, decisions: Mapping[str, bool]
    ) -> list[Step]:
        steps = [self.resolve(call) for call in pending.calls]
        for step in steps:
            if step.content is None:
                self.decide(step, decisions[step.call.id])
        return steps

    def execute(self, step: Step) -> None:
        tool, kwargs = _runnable(step)
        self.emit(AuditEventKind.TOOL_CALL, step.call, arguments=step.call.arguments)
        began = time.perf_counter()
        try:
            value = tool.invoke(kwargs)
        except Exception as exc:
            self._failed(step, exc, began)
        else:
            self._returned(step, value, began)

    async def aexecute(self, step: Step) -> None:
        tool, kwargs = _runnable(step)
        self.emit(AuditEventKind.TOOL_CALL, step.call, arguments=step.call.arguments)
        began = time.perf_counter()
        try:
            value = await tool.ainvoke(kwargs)
        except Exception as exc:
            self._failed(step, exc, began)
        else:
            self._returned(step, value, began)

    def append_results(self, steps: list[Step]) -> None:
        for step in steps:
            if step.content is not None:
                message = {"role": "tool", "tool_call_id": step.call.id, "content": step.content}
                self.messages.append(message)

    def _returned(self, step: Step, value: Any, began: float) -> None:
        duration = _elapsed_ms(began)
        content, warning = serialize_result(value)
        step.content = content = self.hide(content)
        if warning is not None:
            logger.warning(
                "tool %s: %s",
                step.call.name,
                warning,
                extra={"run_id": self.run_id, "tool": step.call.name},
            )
        self.emit(
            AuditEventKind.TOOL_RESULT,
            step.call,
            result=content,
            duration_ms=duration,
            warning=warning,
        )

    def _failed(self, step: Step, exc: Exception, began: float) -> None:
        step.content = error = self.hide(f"Error: {type(exc).__name__}: {redact(str(exc))}")
        logger.warning(
            "tool %s failed: %s",
            step.call.name,
            error,
            extra={"run_id": self.run_id, "tool": step.call.name},
        )
        duration = _elapsed_ms(began)
        self.emit(AuditEventKind.TOOL_ERROR, step.call, error=error, duration_ms=duration)


def unique_call_ids(response: LLMResponse) -> LLMResponse:
    """`response` with a fresh id for each tool call that repeats an earlier call's id.

    Each tool message answers one id, so two calls sharing one could not both be
    answered, and a pause holding either could never be resumed.
    """
    ids = [call.id for call in response.tool_calls]
    if len(set(ids)) == len(ids):
        return response
    seen: set[str] = set()
    calls = []
    for call in response.tool_calls:
        if call.id in seen:
            call = replace(call, id=synthesise_tool_call_id())
        seen.add(call.id)
        calls.append(call)
    return replace(response, tool_calls=calls)


def index_tools(tools: Sequence[ToolLike]) -> dict[str, Tool]:
    """Tools by name; plain functions are wrapped with `Tool`.

    Raises:
        ValueError: `tools` is not a list of callables, or two share a name.
    """
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
        raise ValueError(f"tools must be a list of tools, got {type(tools).__name__}")
    indexed: dict[str, Tool] = {}
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
            f"approve must decide exactly the pending calls {ids}: "
            f"missing {missing}, not pending {unknown}"
        )
    return {i: approve[i] is True for i in ids}


def _runnable(step: Step) -> tuple[Tool, dict[str, Any]]:
    if step.tool is None or step.kwargs is None:  # resolve() guarantees both for runnable steps
        raise RuntimeError(f"tool call {step.call.id} is not runnable")
    return step.tool, step.kwargs


def _arguments_of(entry: Any) -> dict[str, Any]:
    """The parsed arguments of an OpenAI `tool_calls` entry ({} when unreadable)."""
    function = entry.get("function") if isinstance(entry, Mapping) else None
    raw = function.get("arguments") if isinstance(function, Mapping) else None
    return parse_tool_arguments(raw)[0]


def _elapsed_ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 3)
