"""Streaming: typed events, an SSE decoder, and the accumulator that rebuilds one response.

A stream is a series of OpenAI `chat.completion.chunk` objects. `StreamAccumulator`
folds them into the same `LLMResponse` a buffered call would give, and turns each
chunk into typed events for callers that show tokens as they arrive. Like
`llmport.parsing`, nothing here raises on a strange chunk.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from llmport._fields import read_field
from llmport._json import load_json_chunk
from llmport._sse import SSEDecoder
from llmport._tool_call_parsing import parse_tool_arguments, synthesise_tool_call_id
from llmport.errors import ErrorKind
from llmport.parsing import (
    WITHHELD,
    error_from_payload,
    normalise_finish_reason,
    parse_content,
    parse_usage,
)
from llmport.response import LLMError, LLMResponse, LLMResponseStatus, ToolCall, Usage

__all__ = [
    "FinishEvent",
    "ReasoningDelta",
    "SSEDecoder",
    "StreamAccumulator",
    "StreamEvent",
    "TextDelta",
    "ToolCallDelta",
    "UsageEvent",
]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of reasoning text (kept apart from the answer)."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of tool call number `index` (in order of first appearance)."""

    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """Token usage, usually sent in the last chunk; the cost is on the final response."""

    usage: Usage


@dataclass(frozen=True, slots=True)
class FinishEvent:
    """The stream is over; `response` is the aggregated answer (SUCCESS or ERROR)."""

    response: LLMResponse


StreamEvent: TypeAlias = TextDelta | ReasoningDelta | ToolCallDelta | UsageEvent | FinishEvent


def _reader(obj: Any) -> Callable[[str], Any]:
    """`read_field` bound to `obj`; a dict's own `get` for JSON chunks, the hot stream path."""
    return obj.get if type(obj) is dict else functools.partial(read_field, obj)


@dataclass
class _ToolCallBuilder:
    index: int
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class StreamAccumulator:
    """Fold stream chunks into one `LLMResponse`, emitting typed events on the way.

    Tool-call fragments are assembled by index and by id: parallel calls with
    interleaved fragments, fragments with no index (they continue the last call),
    several calls sent under index 0 with different ids, and empty `tool_calls`
    arrays all come out right. Usage is taken from whichever chunk carries it; a
    later chunk with `usage: null` does not erase it.
    """

    def __init__(self, *, provider: str = "", model: str = "") -> None:
        self.provider = provider
        self.model = model
        self.id = ""
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._refusal: list[str] = []
        self._calls: list[_ToolCallBuilder] = []
        self._by_index: dict[int, _ToolCallBuilder] = {}
        self._by_id: dict[str, _ToolCallBuilder] = {}
        self._usage: Usage | None = None
        self._raw_finish: str | None = None
        self._error: LLMError | None = None
        self._done = False
        self.chunks = 0

    @property
    def content(self) -> str:
        """The text received so far."""
        return "".join(self._text)

    @property
    def finished(self) -> bool:
        """True once a finish reason or `[DONE]` arrived."""
        return self._raw_finish is not None or self._done

    @property
    def failed(self) -> bool:
        """True once an error was recorded."""
        return self._error is not None

    def add_data(self, data: str) -> list[StreamEvent]:
        """Add one SSE `data:` payload (JSON text); `[DONE]` and blanks add nothing."""
        data = data.strip()
        if data == "[DONE]":
            self._done = True
            return []
        if not data:
            return []
        try:
            chunk = load_json_chunk(data)
        except ValueError:
            self.fail(_bad_chunk("invalid JSON chunk"))
            return []
        return self.add(chunk)

    def add(self, chunk: Any) -> list[StreamEvent]:
        """Add one chunk (a dict or a litellm chunk object); return its events."""
        try:
            return self._add(chunk)
        except Exception as exc:  # never let a strange chunk break the stream
            self.fail(_bad_chunk(f"unreadable stream chunk ({type(exc).__name__})"))
            return []

    def fail(self, error: LLMError) -> None:
        """Record that the stream ended in an error; the content so far is kept."""
        if self._error is None:
            self._error = error

    def _add(self, chunk: Any) -> list[StreamEvent]:
        if type(chunk) is not dict and (
            chunk is None or isinstance(chunk, (str, bytes, int, float, list))
        ):
            # `42`, `null`, `[1, 2]`, `""`: the same payload buffered is bad_response too.
            self.fail(_bad_chunk(f"a stream chunk is not a JSON object ({type(chunk).__name__})"))
            return []
        self.chunks += 1
        get = _reader(chunk)
        error = get("error")
        if error:
            self.fail(error_from_payload(error))
            return []
        events: list[StreamEvent] = []
        # Cheap truth tests come before isinstance: this runs for every chunk.
        if not self.id:
            chunk_id = get("id")
            if chunk_id and isinstance(chunk_id, str):
                self.id = chunk_id
        chunk_model = get("model")
        if chunk_model and isinstance(chunk_model, str):
            self.model = chunk_model
        usage = get("usage")
        if usage:
            parsed = parse_usage(usage)
            if parsed.is_known:
                self._usage = parsed
                events.append(UsageEvent(parsed))
        choices = get("choices")
        if choices and isinstance(choices, (list, tuple)):
            if not events:
                return self._add_choice(choices[0])
            events[:0] = self._add_choice(choices[0])
        return events

    def _add_choice(self, choice: Any) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        get = _reader(choice)
        delta = get("delta") or get("message") or {}
        delta_get = _reader(delta)
        text = delta_get("content")
        if not isinstance(text, str):  # a list of parts, or None
            text = parse_content(text)
        if text:
            self._text.append(text)
            events.append(TextDelta(text))
        reasoning = delta_get("reasoning_content") or delta_get("reasoning")
        if reasoning and isinstance(reasoning, str):
            self._reasoning.append(reasoning)
            events.append(ReasoningDelta(reasoning))
        refusal = delta_get("refusal")
        if refusal and isinstance(refusal, str):
            self._refusal.append(refusal)
        tool_calls = delta_get("tool_calls")
        if tool_calls and isinstance(tool_calls, (list, tuple)):
            for entry in tool_calls:
                events.append(self._add_tool_fragment(entry))
        finish = get("finish_reason")
        if finish and isinstance(finish, str):
            self._raw_finish = finish
        if get("error"):
            self.fail(error_from_payload(get("error")))
        return events

    def _add_tool_fragment(self, entry: Any) -> ToolCallDelta:
        index = read_field(entry, "index")
        index = index if isinstance(index, int) and not isinstance(index, bool) else None
        call_id = read_field(entry, "id")
        call_id = call_id if isinstance(call_id, str) and call_id else None
        function = read_field(entry, "function") or {}
        name = read_field(function, "name")
        name = name if isinstance(name, str) and name else None
        arguments = read_field(function, "arguments")
        builder = self._builder_for(index, call_id)
        if name and not builder.name:
            builder.name = name
        fragment = ""
        if isinstance(arguments, str):
            fragment = arguments
        elif arguments is not None:  # some providers send the whole object at once
            fragment = json.dumps(arguments)
        if fragment:
            builder.arguments.append(fragment)
        return ToolCallDelta(builder.index, builder.id, name, fragment)

    def _builder_for(self, index: int | None, call_id: str | None) -> _ToolCallBuilder:
        # The index says which call a fragment continues; an id only when there is no
        # index (two calls may share an id, as they may in a buffered answer).
        if index is None and call_id is not None and call_id in self._by_id:
            return self._by_id[call_id]
        existing = self._by_index.get(index) if index is not None else None
        if existing is None and index is None and call_id is None and self._calls:
            return self._calls[-1]  # no index, no id: continues the last call
        if existing is not None and (call_id is None or existing.id in (None, call_id)):
            if call_id is not None:
                existing.id = call_id
                self._by_id[call_id] = existing
            return existing
        builder = _ToolCallBuilder(index=len(self._calls), id=call_id)
        self._calls.append(builder)
        if index is not None:
            self._by_index[index] = builder
        if call_id is not None:
            self._by_id[call_id] = builder
        return builder

    def response(self) -> LLMResponse:
        """The aggregated answer: SUCCESS, or ERROR with the partial content kept."""
        finish = normalise_finish_reason(self._raw_finish)
        tool_calls = [
            ToolCall(
                id=builder.id or synthesise_tool_call_id(),
                name=builder.name,
                arguments=arguments,
                raw_arguments=raw,
                arguments_error=error
                if builder.name
                else (error or "tool call has no function name"),
            )
            for builder in self._calls
            for arguments, raw, error in [
                parse_tool_arguments("".join(builder.arguments) or None, finish)
            ]
        ]
        if tool_calls and finish in ("stop", "unknown") and self._error is None:
            finish = "tool_calls"
        reasoning = "".join(self._reasoning) or None
        refusal = "".join(self._refusal) or None
        error = self._error
        if error is None and finish == "content_filter" and not (self.content or refusal):
            error = None if tool_calls else WITHHELD  # as a buffered answer reads
        if error is not None:
            # Partial content is what the caller was shown as text events; a refusal cut
            # short stays in `refusal` only.
            return LLMResponse(
                status=LLMResponseStatus.ERROR,
                content=self.content,
                tool_calls=tool_calls,
                finish_reason="error",
                raw_finish_reason=self._raw_finish,
                model=self.model,
                provider=self.provider,
                id=self.id,
                usage=self._usage or Usage(),
                error=error,
                reasoning=reasoning,
                refusal=refusal,
            )
        return LLMResponse(
            status=LLMResponseStatus.SUCCESS,
            content=self.content or refusal or "",  # as a buffered answer reads
            tool_calls=tool_calls,
            finish_reason=finish,
            raw_finish_reason=self._raw_finish,
            model=self.model,
            provider=self.provider,
            id=self.id,
            usage=self._usage or Usage(),
            reasoning=reasoning,
            refusal=refusal,
        )


def _bad_chunk(reason: str) -> LLMError:
    return LLMError(kind=ErrorKind.BAD_RESPONSE, message=f"bad_response: {reason}")
