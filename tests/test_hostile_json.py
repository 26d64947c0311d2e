"""Hostile JSON from a provider never raises: too deep, numbers too long, odd digits."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport import ErrorKind, LLMResponseStatus, classify
from llmport._json import load_json, load_json_chunk
from llmport.parsing import parse_completion, parse_tool_arguments, parse_usage
from llmport.redaction import summarise_body
from llmport.streaming import StreamAccumulator

DEEP = "[" * 100_000 + "]" * 100_000
LONG_INTEGER = "9" * 5_000


def chunk(delta: dict[str, object], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return json.dumps({"id": "c1", "object": "chat.completion.chunk", "choices": [choice]})


@given(st.text())
def test_load_json_fails_only_with_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        load_json(text)
    with contextlib.suppress(ValueError):
        load_json_chunk(text.strip())


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
COUNT_NAMES = ("prompt_tokens", "completion_tokens", "total_tokens", "input_tokens")


@given(st.dictionaries(st.sampled_from(COUNT_NAMES), JSON_VALUES | st.text(alphabet="0123²٣")))
def test_parse_usage_never_raises_and_counts_are_plain_integers(raw: dict[str, object]) -> None:
    usage = parse_usage(raw)
    for count in (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens):
        assert count is None or (type(count) is int and count >= 0)


@given(st.text() | st.builds(json.dumps, JSON_VALUES))
def test_parse_tool_arguments_never_raises_and_keeps_what_it_cannot_read(text: str) -> None:
    arguments, raw, error = parse_tool_arguments(text)
    assert isinstance(arguments, dict)
    if error is not None:
        assert (arguments, raw) == ({}, text)


@given(st.lists(st.text() | st.builds(json.dumps, JSON_VALUES), max_size=6))
def test_stream_data_never_raises_and_ends_in_a_response(lines: list[str]) -> None:
    acc = StreamAccumulator()
    for line in lines:
        acc.add_data(line)
    response = acc.response()
    assert response.ok or response.error is not None


@pytest.mark.parametrize("text", [DEEP, '{"a": ' + DEEP + "}", "[" * 100_000])
def test_load_json_reports_deep_nesting_as_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"nested too deeply|Expecting"):
        load_json(text)
    with pytest.raises(ValueError, match=r"nested too deeply|Expecting"):
        load_json_chunk(text)


def test_summarise_body_of_a_deeply_nested_error_body_describes_it() -> None:
    summary = summarise_body('{"error": ' + DEEP + "}")
    assert summary.startswith("malformed JSON body")
    assert "[[[" not in summary


def test_classify_survives_an_exception_carrying_a_deep_body() -> None:
    error = classify(RuntimeError('{"error": ' + DEEP + "}"), status_code=500)
    assert error.kind is ErrorKind.SERVER
    assert "[[[" not in error.message


def test_deeply_nested_tool_arguments_are_kept_raw() -> None:
    arguments, raw, error = parse_tool_arguments('{"a": ' + DEEP + "}")
    assert arguments == {}
    assert raw is not None
    assert raw.startswith('{"a": [[[')
    assert error == "arguments cannot be decoded: JSON nested too deeply to decode"


def test_tool_arguments_with_an_integer_too_long_to_convert_are_kept_raw() -> None:
    text = '{"n": ' + LONG_INTEGER + "}"
    arguments, raw, error = parse_tool_arguments(text)
    assert (arguments, raw) == ({}, text)
    assert error is not None
    # Python 3.10 says "limit (4300)", later ones "limit (4300 digits)"
    assert "limit (4300" in error


def test_a_buffered_answer_with_an_overlong_integer_argument_stays_a_success() -> None:
    text = '{"n": ' + LONG_INTEGER + "}"
    call = {"id": "c", "function": {"name": "f", "arguments": text}}
    message = {"role": "assistant", "content": "hi", "tool_calls": [call]}
    payload = {"choices": [{"message": message, "finish_reason": "tool_calls"}]}
    response = parse_completion(payload)
    assert response.status is LLMResponseStatus.SUCCESS
    assert response.content == "hi"
    assert response.tool_calls[0].arguments_error is not None
    assert response.tool_calls[0].raw_arguments == text


@pytest.mark.parametrize("count", ["²", "٣", "1" * 5_000, "-3", "1e3", 2**70, -1, 1.5])
def test_an_unusable_usage_count_is_unknown(count: object) -> None:
    usage = parse_usage({"prompt_tokens": count, "completion_tokens": 2, "total_tokens": 5})
    assert usage.prompt_tokens is None
    assert (usage.completion_tokens, usage.total_tokens) == (2, 5)


def test_an_unusable_usage_count_keeps_the_answer() -> None:
    message = {"role": "assistant", "content": "hello"}
    payload = {
        "choices": [{"message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": "²", "completion_tokens": "٣", "total_tokens": "1" * 5_000},
    }
    response = parse_completion(payload)
    assert response.ok
    assert response.content == "hello"
    assert response.usage.prompt_tokens is None
    assert response.usage.total_tokens is None


@pytest.mark.parametrize("count", [" 12 ", "12", 12, 12.0])
def test_plain_usage_counts_still_parse(count: object) -> None:
    assert parse_usage({"prompt_tokens": count}).prompt_tokens == 12


def test_a_deep_stream_chunk_is_bad_response_with_partial_content_kept() -> None:
    acc = StreamAccumulator()
    acc.add_data(chunk({"content": "he"}))
    assert acc.add_data(DEEP) == []
    response = acc.response()
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE
    assert response.content == "he"


def test_a_streamed_overlong_integer_argument_is_kept_raw() -> None:
    text = '{"n": ' + LONG_INTEGER + "}"
    acc = StreamAccumulator()
    acc.add_data(chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f"}}]}))
    acc.add_data(chunk({"tool_calls": [{"index": 0, "function": {"arguments": text}}]}))
    acc.add_data(chunk({}, finish="tool_calls"))
    response = acc.response()
    assert response.ok
    assert response.tool_calls[0].raw_arguments == text
    assert response.tool_calls[0].arguments_error is not None


@pytest.mark.parametrize("data", ["42", "null", "[1,2,3]", '""'])
def test_a_stream_chunk_that_is_not_an_object_is_bad_response(data: str) -> None:
    acc = StreamAccumulator()
    acc.add_data(data)
    acc.add_data("[DONE]")
    response = acc.response()
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE
    buffered = parse_completion(json.loads(data))
    assert buffered.error is not None
    assert buffered.error.kind is response.error.kind


@given(st.text() | st.builds(json.dumps, JSON_VALUES))
def test_summarise_body_and_classify_never_raise_and_stay_short(text: str) -> None:
    assert len(summarise_body(text)) <= 300
    error = classify(RuntimeError(text), status_code=500)
    # A 500, refined by hints in the text ("timed out", "connection reset").
    assert error.kind in (ErrorKind.SERVER, ErrorKind.TIMEOUT, ErrorKind.CONNECTION)
    assert len(error.message) <= 320
