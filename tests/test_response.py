"""LLMResponse and friends: truthiness, compatibility properties, raise_for_status."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport import (
    ErrorKind,
    LLMError,
    LLMResponse,
    LLMResponseStatus,
    ProviderError,
    RateLimitError,
    ToolCall,
    Usage,
)


def test_status_is_truthy_only_for_success() -> None:
    assert LLMResponseStatus.SUCCESS
    assert not LLMResponseStatus.ERROR


def test_response_is_frozen_and_keyword_only() -> None:
    response = LLMResponse(status=LLMResponseStatus.SUCCESS, content="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        response.content = "y"  # type: ignore[misc]
    with pytest.raises(TypeError):
        LLMResponse(LLMResponseStatus.SUCCESS)  # type: ignore[call-arg]


def test_director_style_token_properties() -> None:
    usage = Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)
    response = LLMResponse(status=LLMResponseStatus.SUCCESS, usage=usage)
    assert (response.send_tokens, response.recv_tokens, response.total_tokens) == (3, 4, 7)


def test_token_properties_are_zero_when_unknown_but_usage_stays_none() -> None:
    response = LLMResponse(status=LLMResponseStatus.SUCCESS)
    assert (response.send_tokens, response.recv_tokens, response.total_tokens) == (0, 0, 0)
    assert response.usage.prompt_tokens is None


def test_raw_is_not_in_repr() -> None:
    response = LLMResponse(status=LLMResponseStatus.SUCCESS, raw={"secret-ish": "payload"})
    assert "payload" not in repr(response)


def test_raise_for_status_raises_the_typed_exception() -> None:
    error = LLMError(kind=ErrorKind.RATE_LIMIT, message="slow", retryable=True, retry_after=2.0)
    response = LLMResponse(status=LLMResponseStatus.ERROR, error=error)
    with pytest.raises(RateLimitError) as info:
        response.raise_for_status()
    assert info.value.retry_after == 2.0
    assert isinstance(info.value, ProviderError)


def test_raise_for_status_returns_self_on_success() -> None:
    response = LLMResponse(status=LLMResponseStatus.SUCCESS, content="ok")
    assert response.raise_for_status() is response


def test_usage_addition_keeps_unknown_as_none() -> None:
    total = Usage(prompt_tokens=1) + Usage(prompt_tokens=2, completion_tokens=5)
    assert (total.prompt_tokens, total.completion_tokens, total.cached_tokens) == (3, 5, None)


def test_to_message_round_trips_tool_calls() -> None:
    call = ToolCall(id="c1", name="f", arguments={"a": 1})
    response = LLMResponse(status=LLMResponseStatus.SUCCESS, tool_calls=[call])
    message = response.to_message()
    assert message["content"] is None
    assert message["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}


def test_broken_tool_call_to_message_keeps_raw_arguments() -> None:
    call = ToolCall(id="c1", name="f", raw_arguments='{"a', arguments_error="bad")
    assert call.to_message()["function"]["arguments"] == '{"a'


errors = (
    st.builds(LLMError, kind=st.sampled_from(ErrorKind), message=st.text(max_size=20)) | st.none()
)


@given(status=st.sampled_from(LLMResponseStatus), error=errors)
def test_error_is_set_exactly_when_the_status_is_error(
    status: LLMResponseStatus, error: LLMError | None
) -> None:
    if status is LLMResponseStatus.SUCCESS and error is not None:
        with pytest.raises(ValueError, match="SUCCESS response carries no error"):
            LLMResponse(status=status, error=error)
        return
    response = LLMResponse(status=status, error=error)
    assert bool(response.status) is (response.error is None)
    assert response.ok is (response.error is None)


def test_an_error_built_without_an_error_gets_a_bad_response_one() -> None:
    response = LLMResponse(status=LLMResponseStatus.ERROR)
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE
