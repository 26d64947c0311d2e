"""Defensive parsing: every strange payload gives a well-formed LLMResponse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmport import ErrorKind, LLMResponseStatus
from llmport.parsing import (
    normalise_finish_reason,
    parse_completion,
    parse_content,
    parse_tool_arguments,
    parse_tool_calls,
    parse_usage,
)


def completion(
    message: dict[str, Any], finish: str | None = "stop", **extra: Any
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        **extra,
    }


# --- usage ---------------------------------------------------------------------------------


def test_missing_usage_is_all_none() -> None:
    usage = parse_completion(completion({"content": "hi"})).usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (None, None, None)


def test_null_usage_is_all_none_not_zero() -> None:
    usage = parse_completion(completion({"content": "hi"}, usage=None)).usage
    assert usage.prompt_tokens is None
    assert not usage.is_known


def test_partial_usage_keeps_known_fields_only() -> None:
    usage = parse_usage({"prompt_tokens": 7})
    assert usage.prompt_tokens == 7
    assert usage.completion_tokens is None
    assert usage.total_tokens is None


def test_total_is_derived_when_both_parts_are_known() -> None:
    assert parse_usage({"prompt_tokens": 7, "completion_tokens": 3}).total_tokens == 10


def test_null_detail_blocks_leave_cached_and_reasoning_unknown() -> None:
    usage = parse_usage(
        {
            "prompt_tokens": 5,
            "completion_tokens": 2,
            "total_tokens": 7,
            "prompt_tokens_details": None,
            "completion_tokens_details": None,
        }
    )
    assert usage.cached_tokens is None
    assert usage.reasoning_tokens is None
    assert usage.total_tokens == 7


def test_cached_and_reasoning_tokens_are_subsets_not_additions() -> None:
    usage = parse_usage(
        {
            "prompt_tokens": 100,
            "completion_tokens": 50,
            "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 80},
            "completion_tokens_details": {"reasoning_tokens": 30},
        }
    )
    assert (usage.cached_tokens, usage.reasoning_tokens) == (80, 30)
    assert usage.total_tokens == 150


def test_negative_and_garbage_counts_are_unknown() -> None:
    usage = parse_usage({"prompt_tokens": -1, "completion_tokens": "lots", "total_tokens": True})
    assert usage.prompt_tokens is None
    assert usage.completion_tokens is None
    assert usage.total_tokens is None


def test_anthropic_style_usage_names_are_read() -> None:
    # Anthropic's input_tokens leaves out cache reads; the prompt count holds them.
    usage = parse_usage({"input_tokens": 4, "output_tokens": 6, "cache_read_input_tokens": 2})
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (6, 6, 2)


# --- content -------------------------------------------------------------------------------


def test_null_content_becomes_empty_string() -> None:
    response = parse_completion(completion({"content": None}))
    assert response.content == ""
    assert response.status is LLMResponseStatus.SUCCESS


def test_content_parts_are_joined() -> None:
    parts = [{"type": "text", "text": "Hel"}, {"type": "image_url"}, {"type": "text", "text": "lo"}]
    assert parse_content(parts) == "Hello"


def test_refusal_becomes_content_and_is_kept() -> None:
    response = parse_completion(completion({"content": None, "refusal": "I can't help."}))
    assert response.content == "I can't help."
    assert response.refusal == "I can't help."


def test_empty_choices_is_bad_response() -> None:
    response = parse_completion({"id": "x", "choices": [], "usage": {"prompt_tokens": 3}})
    assert response.status is LLMResponseStatus.ERROR
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE
    assert response.usage.prompt_tokens == 3


def test_first_of_several_choices_is_used() -> None:
    payload = {
        "choices": [
            {"message": {"content": "first"}, "finish_reason": "stop"},
            {"message": {"content": "second"}, "finish_reason": "stop"},
        ]
    }
    assert parse_completion(payload).content == "first"


def test_reasoning_is_kept_apart_from_content() -> None:
    response = parse_completion(completion({"content": "42", "reasoning_content": "think"}))
    assert (response.content, response.reasoning) == ("42", "think")


def test_unknown_extra_fields_are_ignored() -> None:
    response = parse_completion(
        completion({"content": "ok", "audio": {"x": 1}}, system_fingerprint="fp", weird=[1])
    )
    assert response.content == "ok"


def test_finish_reasons_are_normalised_and_raw_is_kept() -> None:
    response = parse_completion(completion({"content": "x"}, finish="end_turn"))
    assert (response.finish_reason, response.raw_finish_reason) == ("stop", "end_turn")
    assert normalise_finish_reason("MAX_TOKENS") == "length"
    assert normalise_finish_reason(None) == "unknown"
    assert normalise_finish_reason("something_new") == "unknown"


def test_content_filter_without_content_is_an_error() -> None:
    response = parse_completion(completion({"content": None}, finish="content_filter"))
    assert response.error is not None
    assert response.error.kind is ErrorKind.CONTENT_FILTER


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_an_answer_the_filter_withheld_keeps_the_reasoning_shown_before_it(field: str) -> None:
    message = {"content": None, field: "Thinking it over"}
    response = parse_completion(completion(message, finish="content_filter"))
    assert response.error is not None
    assert response.error.kind is ErrorKind.CONTENT_FILTER
    assert response.reasoning == "Thinking it over"  # as a stream of the same answer keeps it


# --- tool calls ----------------------------------------------------------------------------


def tool_message(arguments: Any, call_id: Any = "call_1") -> dict[str, Any]:
    return {
        "content": None,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": "f", "arguments": arguments}}
        ],
    }


def test_empty_tool_arguments_parse_to_empty_dict_without_raw_text() -> None:
    call = parse_completion(completion(tool_message(""), "tool_calls")).tool_calls[0]
    # as a stream whose argument fragments add up to nothing
    assert (call.arguments, call.raw_arguments, call.arguments_error) == ({}, None, None)


def test_null_tool_arguments_parse_to_empty_dict() -> None:
    call = parse_completion(completion(tool_message(None), "tool_calls")).tool_calls[0]
    assert (call.arguments, call.arguments_error) == ({}, None)


def test_invalid_json_arguments_are_kept_raw_with_error() -> None:
    call = parse_completion(completion(tool_message("{city: Paris}"), "tool_calls")).tool_calls[0]
    assert call.arguments == {}
    assert call.raw_arguments == "{city: Paris}"
    assert call.arguments_error is not None
    assert "not valid JSON" in call.arguments_error


def test_truncated_arguments_under_length_say_truncated() -> None:
    response = parse_completion(completion(tool_message('{"city": "Par'), "length"))
    call = response.tool_calls[0]
    assert call.raw_arguments == '{"city": "Par'
    assert call.arguments_error is not None
    assert "truncated" in call.arguments_error
    assert response.finish_reason == "length"


def test_dict_arguments_are_used_as_is() -> None:
    call = parse_completion(completion(tool_message({"a": 1}), "tool_calls")).tool_calls[0]
    assert call.arguments == {"a": 1}
    assert call.ok


def test_dict_arguments_keep_their_json_text_so_a_nameless_call_replays_them() -> None:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    message["tool_calls"] = [{"id": "c1", "type": "function", "function": {"arguments": {"a": 1}}}]
    call = parse_completion(completion(message, "tool_calls")).tool_calls[0]
    assert call.raw_arguments == '{"a": 1}'
    assert call.arguments_error == "tool call has no function name"
    assert call.to_message()["function"]["arguments"] == '{"a": 1}'


def test_double_encoded_arguments_are_decoded() -> None:
    twice = json.dumps(json.dumps({"city": "Paris"}))
    arguments, raw, error = parse_tool_arguments(twice)
    assert arguments == {"city": "Paris"}
    assert error is None
    assert raw == twice


def test_non_object_arguments_are_an_error() -> None:
    arguments, _, error = parse_tool_arguments("[1, 2]")
    assert arguments == {}
    assert error == "arguments must be a JSON object, got list"


@pytest.mark.parametrize("call_id", [None, ""])
def test_missing_or_empty_tool_call_id_is_synthesised(call_id: Any) -> None:
    call = parse_completion(completion(tool_message("{}", call_id), "tool_calls")).tool_calls[0]
    assert call.id.startswith("call_")
    assert len(call.id) > len("call_")


def test_tool_calls_with_finish_stop_are_kept_and_normalised() -> None:
    response = parse_completion(completion(tool_message('{"a": 1}'), "stop"))
    assert response.tool_calls[0].arguments == {"a": 1}
    assert (response.finish_reason, response.raw_finish_reason) == ("tool_calls", "stop")


def test_tool_call_without_function_name_is_kept_with_error() -> None:
    calls = parse_tool_calls([{"id": "c", "function": {"arguments": "{}"}}])
    assert calls[0].name == ""
    assert calls[0].arguments_error == "tool call has no function name"


def test_legacy_function_call_becomes_a_tool_call() -> None:
    message = {"content": None, "function_call": {"name": "f", "arguments": '{"x": 2}'}}
    response = parse_completion(completion(message, "function_call"))
    assert [(c.name, c.arguments) for c in response.tool_calls] == [("f", {"x": 2})]
    assert response.finish_reason == "tool_calls"


# --- errors inside bodies ------------------------------------------------------------------


def test_error_object_in_200_body_is_an_error_response() -> None:
    response = parse_completion({"error": {"message": "upstream failure", "type": "server_error"}})
    assert response.status is LLMResponseStatus.ERROR
    assert response.error is not None
    assert response.error.kind is ErrorKind.SERVER
    assert response.error.retryable
    assert "upstream failure" in response.error.message


def test_error_object_with_rate_limit_code() -> None:
    response = parse_completion({"error": {"message": "slow down", "code": "rate_limit_exceeded"}})
    assert response.error is not None
    assert response.error.kind is ErrorKind.RATE_LIMIT


@pytest.mark.parametrize("payload", [None, "", "<html>oops</html>", 42, [1, 2], b"bytes"])
def test_non_object_payloads_are_bad_response(payload: Any) -> None:
    response = parse_completion(payload)
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE
    assert response.content == ""


# --- property: nothing JSON-shaped makes the parser raise ----------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "choices",
                    "message",
                    "content",
                    "tool_calls",
                    "function",
                    "arguments",
                    "name",
                    "id",
                    "usage",
                    "prompt_tokens",
                    "finish_reason",
                    "error",
                    "refusal",
                    "prompt_tokens_details",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_never_raises(payload: Any) -> None:
    response = parse_completion(payload, provider="p", model="m")
    assert isinstance(response.content, str)
    assert all(isinstance(call.arguments, dict) for call in response.tool_calls)
    assert response.status in (LLMResponseStatus.SUCCESS, LLMResponseStatus.ERROR)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_arbitrary_choice_shapes_never_raise(message: Any) -> None:
    payload = {"choices": [{"message": message, "finish_reason": "stop"}], "usage": message}
    response = parse_completion(payload)
    assert isinstance(response.content, str)
