"""What a litellm stream says, minus what litellm made up or dropped.

litellm's stream wrapper smooths over a broken backend. When the stream stops without a
finish reason (cut mid-frame, cut between frames, keep-alives only) it sends a final
chunk with `finish_reason: "stop"` of its own; when the backend reported no usage it
counts tokens itself, and it refuses a usage count that is not an integer (`"²"`) by
failing the stream; a data line that is not a JSON object (`42`, `null`) is skipped or
fails as an attribute error; a streamed refusal is dropped. `backend_chunks` and
`abackend_chunks` undo that, so the `StreamAccumulator` judges a litellm stream exactly
as it judges the direct provider's: a cut stream is a `connection` error, a non-object
chunk is `bad_response`, usage is read as the backend sent it (a count it did not send
or that is unusable is unknown), and a refusal is kept.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

__all__ = ["abackend_chunks", "backend_chunks"]


class _RawChunks:
    """Wraps the openai SDK stream under litellm's wrapper, to see each decoded data line.

    A value that is not a JSON object is held back (litellm would skip or choke on it)
    and reported through `take_invalid()` as its JSON text. A chunk's usage is taken off
    before litellm reads it (litellm fails on a count that is not an integer and fills in
    the counts the backend left out) and handed on as sent through `take_extras()`.
    """

    def __init__(self, source: Any) -> None:
        self._source = source
        self._sync: Any = None
        self._async: Any = None
        self._invalid: str | None = None
        self._extras: list[dict[str, Any]] = []

    def _check(self, item: Any) -> Any:
        if item is None or isinstance(item, (str, int, float, list)):
            self.mark_invalid(json.dumps(item))
            return None  # litellm skips None chunks
        choices = getattr(item, "choices", None)
        refusal = getattr(getattr(choices[0], "delta", None), "refusal", None) if choices else None
        if isinstance(refusal, str) and refusal:
            # litellm drops a streamed refusal
            self._extras.append({"choices": [{"index": 0, "delta": {"refusal": refusal}}]})
        usage = getattr(item, "usage", None)
        if usage is not None:
            self._extras.append({"choices": [], "usage": _as_sent(usage)})
            item.usage = None
        return item

    def take_extras(self) -> list[dict[str, Any]]:
        """Chunks (refusal text, usage as sent) read since the last call."""
        extras, self._extras = self._extras, []
        return extras

    def mark_invalid(self, text: str) -> None:
        if self._invalid is None:
            self._invalid = text

    def take_invalid(self) -> str | None:
        invalid, self._invalid = self._invalid, None
        return invalid

    def __iter__(self) -> _RawChunks:
        return self

    def __next__(self) -> Any:
        if self._sync is None:
            self._sync = iter(self._source)
        try:
            item = next(self._sync)
        except UnicodeDecodeError:
            # The openai SDK fails on bytes that are not UTF-8, where the direct provider
            # reads replacement characters that hold no event: both stop where the
            # readable events stop, so an unfinished stream is `connection` on both.
            raise StopIteration from None
        return self._check(item)

    def __aiter__(self) -> _RawChunks:
        return self

    async def __anext__(self) -> Any:
        if self._async is None:
            self._async = self._source.__aiter__()
        try:
            item = await self._async.__anext__()
        except UnicodeDecodeError:  # as in __next__
            raise StopAsyncIteration from None
        return self._check(item)

    def __getattr__(self, name: str) -> Any:  # close(), aclose(), response, ...
        return getattr(self._source, name)


def _as_sent(usage: Any) -> Any:
    """The usage fields the backend sent (the openai SDK keeps them unvalidated)."""
    to_dict = getattr(usage, "to_dict", None)
    if to_dict is None:
        return usage
    try:
        return to_dict(warnings=False)
    except Exception:  # an unreadable usage is unknown, not a failed answer
        return None


def _inspect(stream: Any) -> _RawChunks | None:
    source = getattr(stream, "completion_stream", None)
    kind = type(source)
    if kind.__module__.split(".")[0] == "openai" and kind.__name__ in ("Stream", "AsyncStream"):
        raw = _RawChunks(source)
        response = getattr(source, "response", None)
        headers = getattr(response, "headers", None)
        if getattr(response, "status_code", None) == 204:  # no body, so no events: not a cut
            raw.mark_invalid("the server answered 204 No Content to a stream request")
        elif headers is not None and not str(headers.get("content-type", "")).startswith(
            "text/event-stream"
        ):  # a JSON document, or no content type: not read as events (as the direct
            # provider reads it), where the SSE parser would find none and litellm say "stop"
            raw.mark_invalid("the answer to a stream request is not an event stream")
        stream.completion_stream = raw
        return raw
    return None  # another backend's stream: its chunks are not JSON values


def _reads_the_backend(stream: Any) -> bool:
    """True for litellm's own wrapper, which records what the backend sent.

    A `litellm.Router` hands out a fallback wrapper around it, whose records stay empty:
    its chunks are taken as litellm reports them.
    """
    return type(stream).__name__ == "CustomStreamWrapper"


def _cleaned(stream: Any, chunk: Any, raw: _RawChunks | None) -> Any:
    """`chunk` without a finish reason or usage that the backend never sent.

    When the backend's chunks are read (`raw`), their usage reaches the accumulator as
    sent, so litellm's usage is always its own.
    """
    if not _reads_the_backend(stream):
        return chunk
    choices = getattr(chunk, "choices", None)
    if choices and getattr(choices[0], "finish_reason", None) and _no_backend_finish(stream):
        choices[0].finish_reason = None
    if getattr(chunk, "usage", None) is not None and (raw is not None or _no_backend_usage(stream)):
        chunk.usage = None
    return chunk


def _no_backend_finish(stream: Any) -> bool:
    # litellm records the finish reasons the backend sent; its own "stop" is not one.
    received = getattr(stream, "received_finish_reason", "unknown")
    intermittent = getattr(stream, "intermittent_finish_reason", "unknown")
    return received is None and intermittent is None


def _no_backend_usage(stream: Any) -> bool:
    # Every backend chunk that carried usage is kept in `chunks`; the usage on the final
    # chunk is litellm's sum of those, or its own token count when there were none.
    chunks = getattr(stream, "chunks", None)
    if not isinstance(chunks, list):
        return False
    return all(getattr(chunk, "usage", None) is None for chunk in chunks)


def backend_chunks(stream: Any) -> Iterator[Any]:
    """Iterate a litellm `CustomStreamWrapper`, yielding what the backend really sent."""
    raw = _inspect(stream)
    try:
        for chunk in stream:
            invalid = raw.take_invalid() if raw is not None else None
            if invalid is not None:
                yield invalid  # SSE data text: the accumulator reports it as bad_response
                return
            if raw is not None:
                yield from raw.take_extras()
            yield _cleaned(stream, chunk, raw)
    except Exception:
        # litellm read on past a chunk it does not pass on (a refusal) before failing:
        # what the backend sent before the failure is still part of the partial answer.
        if raw is not None:
            yield from raw.take_extras()
        raise
    if raw is not None:
        yield from raw.take_extras()
    invalid = raw.take_invalid() if raw is not None else None
    if invalid is not None:
        yield invalid


async def abackend_chunks(stream: Any) -> AsyncIterator[Any]:
    """Async twin of `backend_chunks`."""
    raw = _inspect(stream)
    try:
        async for chunk in stream:
            invalid = raw.take_invalid() if raw is not None else None
            if invalid is not None:
                yield invalid
                return
            for extra in raw.take_extras() if raw is not None else ():
                yield extra
            yield _cleaned(stream, chunk, raw)
    except Exception:  # as in backend_chunks
        for extra in raw.take_extras() if raw is not None else ():
            yield extra
        raise
    for extra in raw.take_extras() if raw is not None else ():
        yield extra
    invalid = raw.take_invalid() if raw is not None else None
    if invalid is not None:
        yield invalid
