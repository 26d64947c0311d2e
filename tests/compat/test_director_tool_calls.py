"""Director-shaped tool calls survive the trip from one response into the next request.

A Director app appends `response.tool_calls` to its context as they came back and
sends the context again; `_format_messages` must turn them into what llmport's own
`ToolCall.to_message()` would have sent, malformed arguments included.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport import LLMResponse as NativeResponse
from llmport import LLMResponseStatus, ToolCall
from llmport.compat.director import LiteLLM, LiteLLMConfig, LLMResponse
from llmport.parsing import parse_tool_arguments

USER = [{"role": "user", "content": "hi"}]


def formatted_calls(director_calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    message = {"role": "assistant", "content": [], "tool_calls": director_calls}
    (assistant,) = LiteLLM(LiteLLMConfig())._format_messages([message])
    calls: list[dict[str, Any]] = assistant["tool_calls"]
    return calls


def director_call(arguments: Any, call_type: str = "function") -> dict[str, Any]:
    return {"id": "tc1", "tool": {"name": "search", "arguments": arguments}, "type": call_type}


def test_unparseable_arguments_keep_their_text_and_reason_in_the_director_call(
    fake_litellm: Any, answer: Any
) -> None:
    fake_litellm.completion.return_value = answer(
        "", tool_calls=[("tc1", "search", '{"q": "Par')], finish_reason="length"
    )
    (call,) = LiteLLM().chat_completions(USER).tool_calls
    assert call["tool"]["arguments"] == {}
    assert call["tool"]["raw_arguments"] == '{"q": "Par'
    assert "truncated" in call["tool"]["arguments_error"]


def test_parsed_arguments_carry_no_error_keys(fake_litellm: Any, answer: Any) -> None:
    fake_litellm.completion.return_value = answer("", tool_calls=[("tc1", "search", {"q": 1})])
    (call,) = LiteLLM().chat_completions(USER).tool_calls
    assert call == {
        "id": "tc1",
        "tool": {"name": "search", "arguments": {"q": 1}},
        "type": "function",
    }


def test_a_malformed_call_goes_back_to_the_model_as_the_text_it_sent(
    fake_litellm: Any, answer: Any
) -> None:
    fake_litellm.completion.return_value = answer("", tool_calls=[("tc1", "search", "{not json")])
    first = LiteLLM().chat_completions(USER)
    assert formatted_calls(first.tool_calls)[0]["function"]["arguments"] == "{not json"


def test_arguments_the_app_fixed_are_sent_instead_of_the_malformed_text() -> None:
    call = director_call({"q": "fixed"})
    call["tool"].update(raw_arguments="{not json", arguments_error="not valid JSON")
    assert formatted_calls([call])[0]["function"]["arguments"] == '{"q": "fixed"}'


def test_a_call_kept_from_directors_anthropic_provider_is_sent_as_a_function_call() -> None:
    # Director's AnthropicAI stores tool calls with type "tool_use"; OpenAI accepts only "function".
    assert formatted_calls([director_call({}, "tool_use")])[0]["type"] == "function"


@pytest.mark.parametrize("value", [datetime.date(2024, 1, 1), {1, 2}, object(), float("nan")])
def test_arguments_json_cannot_encode_raise_value_error_naming_the_call(value: Any) -> None:
    with pytest.raises(ValueError, match=r"messages\[0\]\.tool_calls\[0\].*JSON"):
        formatted_calls([director_call({"when": value})])


raw_arguments = (
    st.none()
    | st.just("")
    | st.text(max_size=12)
    | st.dictionaries(st.text(max_size=6), st.integers() | st.text(max_size=6), max_size=3).map(
        json.dumps
    )
)


@given(st.lists(st.tuples(st.text(min_size=1, max_size=8), raw_arguments), max_size=3))
def test_director_calls_go_back_as_llmports_own_tool_call_messages(
    calls: list[tuple[str, str | None]],
) -> None:
    native_calls = []
    for index, (name, raw) in enumerate(calls):
        arguments, kept, error = parse_tool_arguments(raw)
        native_calls.append(
            ToolCall(
                id=f"call_{index}",
                name=name,
                arguments=arguments,
                raw_arguments=kept,
                arguments_error=error,
            )
        )
    native = NativeResponse(status=LLMResponseStatus.SUCCESS, tool_calls=native_calls)
    director = LLMResponse.from_response(native)
    assert formatted_calls(director.tool_calls) == [call.to_message() for call in native_calls]


@pytest.mark.parametrize("tool_calls", [5, True, "call", {"id": "tc1"}])
def test_tool_calls_that_are_not_a_list_raise_value_error(tool_calls: Any) -> None:
    message = {"role": "assistant", "content": "", "tool_calls": tool_calls}
    with pytest.raises(ValueError, match=r"messages\[1\]\.tool_calls must be a list"):
        LiteLLM(LiteLLMConfig())._format_messages([*USER, message])


@pytest.mark.parametrize("messages", [None, 5])
def test_messages_that_are_not_a_list_raise_value_error(fake_litellm: Any, messages: Any) -> None:
    with pytest.raises(ValueError, match="messages must be a list"):
        LiteLLM().chat_completions(messages)
    fake_litellm.completion.assert_not_called()
