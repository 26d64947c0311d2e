"""What a litellm stream says, minus what litellm made up or dropped.

litellm's stream wrapper smooths over a broken backend. When the stream stops without a
finish reason (cut mid-frame, cut between frames, keep-alives only) it sends a final
chunk with `finish_reason: "stop"` of its own; when the backend reported no usage it
counts tokens itself; a data line that is not a JSON object (`42`, `null`) is skipped or
fails as an attribute error; a streamed refusal is dropped. `backend_chunks` and
`abackend_chunks` undo that, so the `StreamAccumulator` judges a litellm stream exactly
as it judges the direct provider's: a cut stream is a `connection` error, a non-object
chunk is `bad_response`, usage the backend did not send is unknown, and a refusal is
kept.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

__all__ = ["abackend_chunks", "backend_chunks"]


class _RawChunks:
    """Wraps the openai SDK stream under litellm's wrapper, to see each decoded data line.

    A value that is not a JSON object is held back (litellm would skip or choke on it)
    and reported through `take_invalid()` as its JSON text.
    """

    def __init__(self, source: Any) -> None:
        self._source = source
        self._sync: Any = None
        self._async: Any = None
        self._invalid: str | None = None
        self._refusals: list[str] = []

    def _check(self, item: Any) -> Any:
        if item is None or isinstance(item, (str, int, float, list)):
            self.mark_invalid(json.dumps(item))
            return None  # litellm skips None chunks
        choices = getattr(item, "choices", None)
        refusal = getattr(getattr(choices[0], "delta", None), "refusal", None) if choices else None
        if isinstance(refusal, str) and refusal:
            self._refusals.append(refusal)  # litellm drops a streamed refusal
        return item

    def take_refusals(self) -> list[dict[str, Any]]:
        """Chunks carrying the refusal text read since the last call."""
        refusals, self._refusals = self._refusals, []
        return [{"choices": [{"index": 0, "delta": {"refusal": text}}]} for text in refusals]

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
        return self._check(next(self._sync))

    def __aiter__(self) -> _RawChunks:
        return self

    async def __anext__(self) -> Any:
        if self._async is None:
            self._async = self._source.__aiter__()
        return self._check(await self._async.__anext__())

    def __getattr__(self, name: str) -> Any:  # close(), aclose(), response, ...
        return getattr(self._source, name)


def _inspect(stream: Any) -> _RawChunks | None:
    source = getattr(stream, "completion_stream", None)
    kind = type(source)
    if kind.__module__.split(".")[0] == "openai" and kind.__name__ in ("Stream", "AsyncStream"):
        raw = _RawChunks(source)
        headers = getattr(getattr(source, "response", None), "headers", None) or {}
        if not str(headers.get("content-type", "text/event-stream")).startswith(
            "text/event-stream"
        ):  # e.g. a JSON document: the SSE parser would find no events and litellm say "stop"
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


def _cleaned(stream: Any, chunk: Any) -> Any:
    """`chunk` without a finish reason or usage that the backend never sent."""
    if not _reads_the_backend(stream):
        return chunk
    choices = getattr(chunk, "choices", None)
    if choices and getattr(choices[0], "finish_reason", None) and _no_backend_finish(stream):
        choices[0].finish_reason = None
    if getattr(chunk, "usage", None) is not None and _no_backend_usage(stream):
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
    for chunk in stream:
        invalid = raw.take_invalid() if raw is not None else None
        if invalid is not None:
            yield invalid  # SSE data text: the accumulator reports it as bad_response
            return
        if raw is not None:
            yield from raw.take_refusals()
        yield _cleaned(stream, chunk)
    if raw is not None:
        yield from raw.take_refusals()
    invalid = raw.take_invalid() if raw is not None else None
    if invalid is not None:
        yield invalid


async def abackend_chunks(stream: Any) -> AsyncIterator[Any]:
    """Async twin of `backend_chunks`."""
    raw = _inspect(stream)
    async for chunk in stream:
        invalid = raw.take_invalid() if raw is not None else None
        if invalid is not None:
            yield invalid
            return
        for refusal in raw.take_refusals() if raw is not None else ():
            yield refusal
        yield _cleaned(stream, chunk)
    for refusal in raw.take_refusals() if raw is not None else ():
        yield refusal
    invalid = raw.take_invalid() if raw is not None else None
    if invalid is not None:
        yield invalid
