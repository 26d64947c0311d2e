"""The boundary redaction pass: whole values and split stream fragments lose every secret."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from llmport import LLMResponse, LLMResponseStatus, ToolCall
from llmport._redact import MASK, StreamRedactor, redact_secrets
from llmport.providers._backend_keys import backend_key_values, backend_key_variables
from llmport.redaction import short_message
from llmport.streaming import FinishEvent, TextDelta, ToolCallDelta

SECRET = "k3y-Canary-77xQ"


def test_response_without_secrets_is_returned_as_is() -> None:
    response = LLMResponse(status=LLMResponseStatus.SUCCESS, content="hello")
    assert redact_secrets(response, [SECRET]) is response


def test_every_string_field_is_masked_but_raw_is_kept() -> None:
    response = LLMResponse(
        status=LLMResponseStatus.SUCCESS,
        content=f"a {SECRET}",
        model=SECRET,
        tool_calls=[ToolCall(id=SECRET, name="f", arguments={"k": [SECRET]})],
        raw={"model": SECRET},
    )
    redacted = redact_secrets(response, [SECRET])
    assert (redacted.content, redacted.model) == (f"a {MASK}", MASK)
    assert redacted.tool_calls[0].id == MASK
    assert redacted.tool_calls[0].arguments == {"k": [MASK]}
    assert redacted.raw == {"model": SECRET}


@given(
    before=st.text(max_size=20),
    after=st.text(max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=6),
)
def test_split_fragments_join_to_the_redacted_whole(
    before: str, after: str, cuts: list[int]
) -> None:
    whole = before + SECRET + after
    points = sorted({min(cut, len(whole)) for cut in cuts} | {0, len(whole)})
    fragments = [whole[a:b] for a, b in itertools.pairwise(points)]
    redactor = StreamRedactor([SECRET])
    seen = []
    for fragment in fragments:
        seen += redactor.events([TextDelta(fragment)])
    seen += redactor.flush()
    texts = [event.text for event in seen if isinstance(event, TextDelta)]
    assert all(SECRET not in text for text in texts)
    assert "".join(texts) == redact_secrets(whole, [SECRET])
    assert MASK in redact_secrets(whole, [SECRET])


@given(
    before=st.text(max_size=20),
    stop=st.integers(min_value=1, max_value=len(SECRET) - 1),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=6),
)
def test_a_stream_that_stops_inside_a_secret_shows_at_most_three_of_its_characters(
    before: str, stop: int, cuts: list[int]
) -> None:
    whole = before + SECRET[:stop]
    points = sorted({min(cut, len(whole)) for cut in cuts} | {0, len(whole)})
    redactor = StreamRedactor([SECRET])
    seen = []
    for a, b in itertools.pairwise(points):
        seen += redactor.events([TextDelta(whole[a:b])])
    seen += redactor.flush()
    joined = "".join(event.text for event in seen if isinstance(event, TextDelta))
    assert joined == redact_secrets(whole, [SECRET])
    if stop >= 4:
        assert joined.endswith(MASK)
        assert SECRET[:4] not in joined.removesuffix(MASK)[len(before) :]
    else:
        assert joined == whole


def test_tool_call_arguments_split_across_fragments_are_masked() -> None:
    redactor = StreamRedactor([SECRET])
    events = redactor.events([ToolCallDelta(0, SECRET, "f", '{"k": "' + SECRET[:5])])
    events += redactor.events([ToolCallDelta(0, None, None, SECRET[5:] + '"}')])
    events += redactor.flush()
    calls = [event for event in events if isinstance(event, ToolCallDelta)]
    assert calls[0].id == MASK
    assert "".join(call.arguments for call in calls) == '{"k": "' + MASK + '"}'


def test_finish_event_response_is_masked() -> None:
    response = LLMResponse(status=LLMResponseStatus.SUCCESS, content=SECRET)
    (event,) = StreamRedactor([SECRET]).events([FinishEvent(response)])
    assert isinstance(event, FinishEvent)
    assert event.response.content == MASK


def test_no_secrets_means_events_pass_untouched() -> None:
    events = [TextDelta("s")]
    assert StreamRedactor([]).events(list(events)) == events


def test_backend_key_variable_is_derived_from_the_model_prefix() -> None:
    assert backend_key_variables("groq/llama-3")[0] == "GROQ_API_KEY"
    assert "AZURE_OPENAI_API_KEY" in backend_key_variables("azure/gpt-4o")
    assert backend_key_variables("claude-3-5-sonnet") == ("ANTHROPIC_API_KEY",)
    assert backend_key_variables("my-own-model") == ()


def test_backend_key_values_are_the_ones_set() -> None:
    environ = {"ANTHROPIC_API_KEY": "ant-secret-123", "OPENAI_API_KEY": "sk-other-123"}
    assert backend_key_values("anthropic/claude-3", environ) == ("ant-secret-123",)


@given(st.sampled_from("[]{}"), st.integers(3, 5_000), st.text(max_size=20))
def test_a_run_of_one_bracket_in_a_message_is_shown_as_one_bracket(
    bracket: str, count: int, tail: str
) -> None:
    message = short_message(f"Error code: 500 - {{'error': {bracket * count}{tail}")
    assert bracket * 3 not in message
    assert message.startswith(f"Error code: 500 - {{'error': {bracket}…")
