"""StreamAccumulator and SSEDecoder: chunks fold into the same answer as a buffered call."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from llmport import ErrorKind, LLMResponseStatus
from llmport.parsing import parse_completion
from llmport.streaming import (
    ReasoningDelta,
    SSEDecoder,
    StreamAccumulator,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> Any:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "c1", "object": "chat.completion.chunk", "choices": choices, **extra}


def fold(chunks: list[Any]) -> StreamAccumulator:
    acc = StreamAccumulator(provider="p", model="m")
    for item in chunks:
        acc.add(item)
    return acc


def test_text_deltas_are_joined_and_emitted() -> None:
    acc = StreamAccumulator()
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, "stop"),
    ]
    events = [event for item in chunks for event in acc.add(item)]
    assert events == [TextDelta("Hel"), TextDelta("lo")]
    response = acc.response()
    assert (response.content, response.finish_reason) == ("Hello", "stop")
    assert response.status is LLMResponseStatus.SUCCESS


def test_interleaved_parallel_tool_calls_are_assembled_by_index() -> None:
    acc = fold(
        [
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "a", "function": {"name": "f", "arguments": ""}}
                    ]
                }
            ),
            chunk(
                {
                    "tool_calls": [
                        {"index": 1, "id": "b", "function": {"name": "g", "arguments": ""}}
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x"'}}]}),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"y": 2}'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
            chunk({}, "tool_calls"),
        ]
    )
    calls = acc.response().tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("a", "f", {"x": 1}),
        ("b", "g", {"y": 2}),
    ]


def test_deltas_without_index_continue_the_last_call() -> None:
    acc = fold(
        [
            chunk({"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": '{"q":'}}]}),
            chunk({"tool_calls": [{"function": {"arguments": ' "v"}'}}]}),
        ]
    )
    assert acc.response().tool_calls[0].arguments == {"q": "v"}


def test_several_calls_under_index_zero_with_different_ids() -> None:
    acc = fold(
        [
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}
                    ]
                }
            ),
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "b", "function": {"name": "g", "arguments": '{"n": 1}'}}
                    ]
                }
            ),
        ]
    )
    calls = acc.response().tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [("a", "f", {}), ("b", "g", {"n": 1})]


def test_two_calls_sharing_an_id_at_two_indexes_stay_two_calls() -> None:
    def call(index: int, arguments: str) -> Any:
        entry = {"index": index, "id": "call_1", "function": {"arguments": arguments}}
        return chunk({"tool_calls": [entry]})

    response = fold([call(0, '{"a": 1}'), call(1, '{"b": 2}'), chunk({}, "tool_calls")])
    calls = response.response().tool_calls
    assert [(c.id, c.arguments) for c in calls] == [("call_1", {"a": 1}), ("call_1", {"b": 2})]


def test_a_stream_the_content_filter_withheld_is_a_content_filter_error_as_buffered() -> None:
    streamed = fold([chunk({"role": "assistant"}), chunk({}, "content_filter")]).response()
    buffered = parse_completion(
        {"choices": [{"message": {"content": None}, "finish_reason": "content_filter"}]}
    )
    assert streamed.error is not None
    assert buffered.error is not None
    assert streamed.error.kind is buffered.error.kind is ErrorKind.CONTENT_FILTER
    assert streamed.finish_reason == buffered.finish_reason == "error"


def test_a_stream_cut_by_the_content_filter_after_some_text_keeps_it_as_success() -> None:
    response = fold([chunk({"content": "Once upon"}), chunk({}, "content_filter")]).response()
    assert response.status is LLMResponseStatus.SUCCESS
    assert (response.content, response.finish_reason) == ("Once upon", "content_filter")


def test_empty_tool_call_arrays_are_ignored() -> None:
    acc = fold([chunk({"content": "hi", "tool_calls": []}), chunk({"tool_calls": []}, "stop")])
    response = acc.response()
    assert (response.content, response.tool_calls, response.finish_reason) == ("hi", [], "stop")


def test_usage_from_final_include_usage_chunk() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    acc = StreamAccumulator()
    acc.add(chunk({"content": "x"}, "stop"))
    events = acc.add(chunk(None, usage=usage))
    assert isinstance(events[0], UsageEvent)
    assert acc.response().usage.total_tokens == 5


def test_usage_on_finish_chunk_survives_a_later_null_usage() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2}
    acc = fold([chunk({"content": "x"}, "stop", usage=usage), chunk(None, usage=None)])
    assert acc.response().usage.total_tokens == 5


def test_absent_usage_stays_none() -> None:
    assert fold([chunk({"content": "x"}, "stop")]).response().usage.prompt_tokens is None


def test_reasoning_is_kept_apart() -> None:
    acc = StreamAccumulator()
    events = acc.add(chunk({"reasoning_content": "think "})) + acc.add(chunk({"reasoning": "more"}))
    acc.add(chunk({"content": "answer"}, "stop"))
    assert events == [ReasoningDelta("think "), ReasoningDelta("more")]
    response = acc.response()
    assert (response.content, response.reasoning) == ("answer", "think more")


def test_error_event_mid_stream_keeps_partial_content() -> None:
    acc = fold(
        [
            chunk({"content": "partial"}),
            {"error": {"message": "overloaded", "type": "server_error"}},
        ]
    )
    response = acc.response()
    assert response.status is LLMResponseStatus.ERROR
    assert response.content == "partial"
    assert response.error is not None
    assert response.error.kind is ErrorKind.SERVER


def test_tool_call_delta_events_carry_fragments() -> None:
    acc = StreamAccumulator()
    events = acc.add(
        chunk(
            {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{"}}]}
        )
    )
    assert events == [ToolCallDelta(0, "a", "f", "{")]


def test_garbage_chunks_never_raise() -> None:
    acc = fold(
        [None, "text", 5, [1], {"choices": "x"}, {"choices": [None]}, {"choices": [{"delta": 3}]}]
    )
    assert acc.response().content == ""


def test_sse_decoder_skips_comments_and_joins_split_frames() -> None:
    decoder = SSEDecoder()
    stream = b': keep-alive\n\ndata: {"a":\ndata: 1}\n\nevent: x\ndata: [DONE]\n\n'
    out = [d for i in range(0, len(stream), 5) for d in decoder.feed(stream[i : i + 5])]
    assert out == ['{"a":\n1}', "[DONE]"]
    assert not decoder.pending


def test_sse_decoder_reports_a_frame_cut_in_the_middle() -> None:
    decoder = SSEDecoder()
    assert list(decoder.feed(b'data: {"choices": [')) == []
    assert decoder.pending


# --- property: any split of a completion into chunks aggregates to the buffered parse -------

texts = st.text(max_size=40)
argument_dicts = st.dictionaries(
    st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3
)


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points) if text[a:b]]


@settings(max_examples=150, deadline=None)
@given(
    content=texts,
    calls=st.lists(st.tuples(st.text(min_size=1, max_size=8), argument_dicts), max_size=3),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6),
    usage=st.none() | st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)),
)
def test_any_chunking_aggregates_to_the_buffered_parse(
    content: str,
    calls: list[tuple[str, dict[str, Any]]],
    cuts: list[int],
    usage: tuple[int, int] | None,
) -> None:
    usage_obj = (
        None if usage is None else {"prompt_tokens": usage[0], "completion_tokens": usage[1]}
    )
    tool_calls: list[dict[str, Any]] = [
        {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
        for i, (n, a) in enumerate(calls)
    ]
    finish = "tool_calls" if calls else "stop"
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    buffered = parse_completion(
        {"id": "c1", "choices": [{"message": message, "finish_reason": finish}], "usage": usage_obj}
    )
    chunks: list[Any] = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in split(content, cuts)]
    for index, call in enumerate(tool_calls):
        head = {
            "index": index,
            "id": call["id"],
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        chunks.append(chunk({"tool_calls": [head]}))
        for piece in split(call["function"]["arguments"], cuts):
            chunks.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            )
    chunks.append(chunk({}, finish))
    chunks.append(chunk(None, usage=usage_obj))
    streamed = fold(chunks).response()
    assert streamed.content == buffered.content
    assert [(c.id, c.name, c.arguments) for c in streamed.tool_calls] == [
        (c.id, c.name, c.arguments) for c in buffered.tool_calls
    ]
    assert streamed.usage == buffered.usage
    assert streamed.finish_reason == buffered.finish_reason
