"""The one redaction pass at the boundary: responses and stream events lose every secret.

`BaseLLM` applies it where a response or a stream event is built, so hooks, spans,
logs, reprs and the CLI only ever see redacted values. `redact_secrets` walks plain
data (strings, dataclasses, mappings, sequences) and rebuilds only what holds a
secret; `StreamRedactor` does the same for events, holding back the tail of a text
fragment that could be the start of a secret split across two events, and a
message shortened with "…" loses the start of a secret it was cut in. The `raw`
field (the provider payload, documented as such) is not walked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from llmport.streaming import ReasoningDelta, StreamEvent, TextDelta, ToolCallDelta

__all__ = ["MASK", "StreamRedactor", "redact_secrets"]

MASK = "[REDACTED]"
#: What a shortened message ends with (`llmport.redaction.summarise_body`).
ELLIPSIS = "…"
#: The start of a secret at the end of a text (a shortened message, a stream that stopped
#: in the middle of an echoed secret) is masked from this length; fewer characters say
#: nothing about the secret and could be ordinary text.
_SHORTEST_SHOWN_START = 4
#: Fields that keep what the provider sent (`LLMResponse.raw`).
_KEPT_AS_SENT = frozenset({"raw"})

T = TypeVar("T")


def redact_secrets(value: T, secrets: Sequence[str]) -> T:
    """`value` with every occurrence of each secret masked; `value` itself when none occurs."""
    if not secrets:
        return value
    return _walk(value, secrets)  # type: ignore[no-any-return]


def _walk(value: Any, secrets: Sequence[str]) -> Any:
    kind = type(value)
    if kind is str:
        return _mask(value, secrets)
    if kind in _LEAVES:
        return value
    names = _fields_of(kind)
    if names is not None:
        changes = {}
        for name in names:
            old = getattr(value, name)
            new = _walk(old, secrets)
            if new is not old:
                changes[name] = new
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, str):  # a str subclass, e.g. an enum member: no secret in it
        return value
    if isinstance(value, Mapping):
        pairs = [(_walk(k, secrets), _walk(v, secrets)) for k, v in value.items()]
        if all(nk is k and nv is v for (nk, nv), (k, v) in zip(pairs, value.items(), strict=True)):
            return value
        return dict(pairs)
    if isinstance(value, (list, tuple)):
        items = [_walk(item, secrets) for item in value]
        for new, old in zip(items, value, strict=True):
            if new is not old:
                return type(value)(items) if isinstance(value, tuple) else items
        return value
    return value


_LEAVES = frozenset({type(None), bool, int, float})
_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _fields_of(kind: type) -> tuple[str, ...] | None:
    """The walked field names of a dataclass type (cached), or None for other types."""
    try:
        return _FIELDS[kind]
    except KeyError:
        pass
    names = None
    if dataclasses.is_dataclass(kind):
        names = tuple(
            f.name
            for f in dataclasses.fields(kind)
            if f.init and f.name not in _KEPT_AS_SENT and not _only_numbers(f.type)
        )
    _FIELDS[kind] = names
    return names


def _only_numbers(annotation: Any) -> bool:
    """True for a field declared to hold only numbers or None (no string to look at)."""
    if not isinstance(annotation, str):
        annotation = getattr(annotation, "__name__", repr(annotation))
    return set(annotation.replace(" ", "").split("|")) <= {"int", "float", "bool", "None"}


def _mask(text: str, secrets: Sequence[str], *, ended: bool = True) -> str:
    """`text` with each secret masked; with `ended`, also a secret's start at its end.

    A stream fragment is not `ended`: its end may go on in the next fragment, which is
    `StreamRedactor`'s to hold back and judge.
    """
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    end = text.find(ELLIPSIS)
    while end != -1:  # a text shortened in the middle of a secret shows the secret's start
        cut = _held_tail(text[:end], secrets)
        if cut >= _SHORTEST_SHOWN_START:
            text = text[: end - cut] + MASK + text[end:]
            end += len(MASK) - cut
        end = text.find(ELLIPSIS, end + 1)
    if ended:  # the text stops here: a secret's start is all of the secret it will show
        cut = _held_tail(text, secrets)
        if cut >= _SHORTEST_SHOWN_START:
            text = text[:-cut] + MASK
    return text


def _held_tail(text: str, secrets: Sequence[str]) -> int:
    """Length of the longest end of `text` that begins some secret (so may continue it)."""
    longest = 0
    for secret in secrets:
        position = text.find(secret[0], max(len(text) - len(secret) + 1, 0))
        while position != -1:
            size = len(text) - position
            if size <= longest:
                break
            if secret.startswith(text[position:]):
                longest = size
                break
            position = text.find(secret[0], position + 1)
    return longest


class StreamRedactor:
    """Redact stream events as they pass, even when a secret is split across fragments.

    Text, reasoning and each tool call's arguments are separate channels. A fragment's
    end that could begin a secret is held back and sent with the channel's next
    fragment, or by `flush()` when the stream ends; the joined fragments then equal the
    redacted whole.
    """

    def __init__(self, secrets: Sequence[str]) -> None:
        self._secrets = tuple(secrets)
        self._held: dict[tuple[str, int], str] = {}

    def events(self, events: list[StreamEvent]) -> list[StreamEvent]:
        """The redacted form of `events` (fragments may be shortened or held back)."""
        if not self._secrets:
            return events
        out: list[StreamEvent] = []
        for event in events:
            if isinstance(event, (TextDelta, ReasoningDelta)):
                channel = ("text", 0) if isinstance(event, TextDelta) else ("reasoning", 0)
                text = self._pass(channel, event.text)
                if text == event.text:
                    out.append(event)
                elif text:
                    out.append(type(event)(text))
            elif isinstance(event, ToolCallDelta):
                arguments = self._pass(("tool", event.index), event.arguments)
                out.append(
                    ToolCallDelta(
                        event.index,
                        redact_secrets(event.id, self._secrets),
                        redact_secrets(event.name, self._secrets),
                        arguments,
                    )
                )
            else:
                out.append(redact_secrets(event, self._secrets))
        return out

    def flush(self) -> list[StreamEvent]:
        """The fragments still held back, redacted; call once the stream has ended."""
        out: list[StreamEvent] = []
        for (channel, index), text in self._held.items():
            text = _mask(text, self._secrets)
            if not text:
                continue
            if channel == "text":
                out.append(TextDelta(text))
            elif channel == "reasoning":
                out.append(ReasoningDelta(text))
            else:
                out.append(ToolCallDelta(index, None, None, text))
        self._held.clear()
        return out

    def _pass(self, channel: tuple[str, int], fragment: str) -> str:
        text = _mask(self._held.pop(channel, "") + fragment, self._secrets, ended=False)
        keep = _held_tail(text, self._secrets)
        if keep:
            self._held[channel] = text[-keep:]
            return text[:-keep]
        return text
