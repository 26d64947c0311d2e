"""SSEDecoder: the same events however the byte stream is cut, line endings and all."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmport.parsing import parse_completion
from llmport.streaming import SSEDecoder, StreamAccumulator

ENDINGS = [b"\n", b"\r\n", b"\r"]


def decode(reads: list[bytes]) -> list[str]:
    decoder = SSEDecoder()
    return [data for read in reads for data in decoder.feed(read)]


def cut(stream: bytes, cuts: list[int]) -> list[bytes]:
    """`stream` split at the positions `cuts` (taken modulo its length)."""
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    return [stream[a:b] for a, b in itertools.pairwise(points)]


@pytest.mark.parametrize("ending", ENDINGS, ids=["LF", "CRLF", "CR"])
def test_every_line_ending_decodes_alike(ending: bytes) -> None:
    stream = b": hi\n\ndata: a\ndata: b\n\nid: 7\ndata: [DONE]\n\n".replace(b"\n", ending)
    assert decode([stream]) == ["a\nb", "[DONE]"]


def test_a_crlf_cut_between_two_reads_ends_one_line() -> None:
    assert decode([b"data: a\r", b"\ndata: b\r\n\r\n"]) == ["a\nb"]


def test_an_empty_read_inside_a_cut_crlf_changes_nothing() -> None:
    assert decode([b"data: a\r", b"", b"\ndata: b\r\n\r\n"]) == ["a\nb"]


def test_a_cr_at_the_end_of_a_read_ends_the_line() -> None:
    assert decode([b"data: a\r", b"\r", b"data: b\r\r"]) == ["a", "b"]


def test_a_byte_order_mark_at_the_start_is_skipped_even_split_over_reads() -> None:
    stream = b"\xef\xbb\xbfdata: a\n\n"
    assert decode([stream[i : i + 1] for i in range(len(stream))]) == ["a"]


def test_a_stream_shorter_than_a_byte_order_mark_is_kept() -> None:
    decoder = SSEDecoder()
    assert list(decoder.feed(b"\xef")) == []
    assert decoder.pending


def test_a_data_field_without_a_colon_is_an_empty_line_of_data() -> None:
    assert decode([b"data\ndata: x\n\n"]) == ["\nx"]


def test_only_one_space_after_the_colon_is_removed() -> None:
    assert decode([b"data:  two\ndata:none\n\n"]) == [" two\nnone"]


def test_an_event_without_data_is_not_dispatched() -> None:
    assert decode([b"event: ping\nid: 1\n\n: comment\n\n\n"]) == []


def test_an_event_cut_before_its_blank_line_is_never_dispatched() -> None:
    decoder = SSEDecoder()
    assert list(decoder.feed(b"data: 1\n\ndata: 2\n")) == ["1"]
    assert decoder.pending


def test_done_is_set_by_the_done_sentinel() -> None:
    decoder = SSEDecoder()
    list(decoder.feed(b"data: {}\n\n"))
    assert not decoder.done
    list(decoder.feed(b"data: [DONE]\n\n"))
    assert decoder.done


def test_a_multibyte_character_cut_between_reads_survives() -> None:
    stream = "data: héllo €\n\n".encode()
    assert decode([stream[:8], stream[8:15], stream[15:]]) == ["héllo €"]


def test_hundreds_of_events_in_one_read_come_out_in_order() -> None:
    stream = b"".join(b"data: %d\n\n" % i for i in range(500))
    assert decode([stream]) == [str(i) for i in range(500)]


def test_one_event_over_many_reads_comes_out_whole() -> None:
    payload = b"x" * 100_000
    stream = b"data: " + payload + b"\n\n"
    reads = [stream[i : i + 1000] for i in range(0, len(stream), 1000)]
    assert decode(reads) == [payload.decode()]


# --- property: any cut of an event stream decodes like the whole stream --------------------

line_text = st.characters(codec="utf-8", exclude_characters="\r\n")
lines = st.lists(st.text(line_text, max_size=12), max_size=3)


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(lines, max_size=8),
    ending=st.sampled_from(ENDINGS),
    bom=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    empty_reads=st.booleans(),
)
def test_any_cut_of_an_event_stream_decodes_like_the_whole(
    events: list[list[str]], ending: bytes, bom: bool, cuts: list[int], empty_reads: bool
) -> None:
    text = "".join(
        ": c\n" + "".join(f"data: {line}\n" for line in event) + "\n" for event in events
    )
    stream = (b"\xef\xbb\xbf" if bom else b"") + text.encode().replace(b"\n", ending)
    expected = ["\n".join(event) for event in events if event]
    reads = cut(stream, cuts)
    if empty_reads:
        reads = [piece for read in reads for piece in (read, b"")]
    assert decode(reads) == expected


# --- property: any chunking of a streamed completion aggregates to the buffered parse ------


def frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def delta(body: dict[str, Any], finish: str | None = None) -> bytes:
    return frame({"id": "c1", "choices": [{"index": 0, "delta": body, "finish_reason": finish}]})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    word=st.text(min_size=1, max_size=8),
    repeat=st.sampled_from([1, 100, 50_000, 400_000]),
    events=st.integers(min_value=1, max_value=400),
    arguments=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5)),
    ending=st.sampled_from(ENDINGS),
    cuts=st.lists(st.integers(min_value=0, max_value=8 << 20), max_size=8),
)
def test_any_chunking_of_the_byte_stream_aggregates_to_the_buffered_parse(
    word: str,
    repeat: int,
    events: int,
    arguments: dict[str, Any],
    ending: bytes,
    cuts: list[int],
) -> None:
    """Reads of one byte to several MiB, holding one event or hundreds, give one answer."""
    content = word * repeat
    raw_arguments = json.dumps(arguments)
    usage = {"prompt_tokens": 3, "completion_tokens": 5}
    buffered = parse_completion(
        {
            "id": "c1",
            "choices": [
                {
                    "message": {
                        "content": content,
                        "tool_calls": [
                            {"id": "t1", "function": {"name": "f", "arguments": raw_arguments}}
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": usage,
        }
    )
    step = -(-len(content) // events)
    stream = delta({"role": "assistant", "content": ""})
    stream += b"".join(
        delta({"content": content[i : i + step]}) for i in range(0, len(content), step)
    )
    stream += delta({"tool_calls": [{"index": 0, "id": "t1", "function": {"name": "f"}}]})
    stream += delta({"tool_calls": [{"index": 0, "function": {"arguments": raw_arguments}}]})
    stream += delta({}, "tool_calls") + frame({"choices": [], "usage": usage})
    stream = (stream + b"data: [DONE]\n\n").replace(b"\n", ending)

    decoder, acc = SSEDecoder(), StreamAccumulator()
    for read in cut(stream, cuts):
        for data in decoder.feed(read):
            acc.add_data(data)
    streamed = acc.response()

    assert decoder.done
    assert not decoder.pending
    assert streamed.content == buffered.content
    assert [(c.id, c.name, c.arguments) for c in streamed.tool_calls] == [
        (c.id, c.name, c.arguments) for c in buffered.tool_calls
    ]
    assert streamed.usage == buffered.usage
    assert streamed.finish_reason == buffered.finish_reason


def test_nothing_after_done_is_decoded_even_in_the_same_read() -> None:
    assert decode([b"data: a\n\ndata: [DONE]\n\ndata: b\n\ndata: [DONE]\n\n"]) == ["a", "[DONE]"]


def test_nothing_after_done_is_decoded_from_later_reads() -> None:
    assert decode([b"data: [DONE]\n\n", b"data: b\n\n"]) == ["[DONE]"]
