"""The boundary redaction pass: whole values and split stream fragments lose every secret."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport import LLMResponse, LLMResponseStatus, ToolCall
from llmport._redact import MASK, StreamRedactor, redact_secrets
from llmport.providers._backend_keys import backend_key_values, backend_key_variables
from llmport.redaction import redact, register_secret, short_message
from llmport.streaming import FinishEvent, TextDelta, ToolCallDelta
from llmport.testing import FakeLLM

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


#: An API key, and a gateway token that begins with it (the key and a signature).
NESTED_KEY = "sk-live-N3st3d"
NESTED_TOKEN = f"{NESTED_KEY}.sig789"


@pytest.mark.parametrize("where", ["configured", "per call"])
def test_a_header_token_that_extends_the_api_key_is_masked_whole(where: str) -> None:
    header = {"Authorization": f"Bearer {NESTED_TOKEN}"}
    configured = header if where == "configured" else {}
    per_call = header if where == "per call" else {}
    llm = FakeLLM([f"echo {NESTED_TOKEN}"], api_key=NESTED_KEY, extra_headers=configured)
    response = llm.chat_completions([{"role": "user", "content": "hi"}], extra_headers=per_call)
    assert response.content == f"echo {MASK}"


def test_a_streamed_header_token_that_extends_the_api_key_is_masked_whole() -> None:
    header = {"Authorization": f"Bearer {NESTED_TOKEN}"}
    llm = FakeLLM([f"echo {NESTED_TOKEN}"], api_key=NESTED_KEY, extra_headers=header)
    with llm.stream([{"role": "user", "content": "hi"}]) as stream:
        text = "".join(event.text for event in stream if isinstance(event, TextDelta))
    assert text == f"echo {MASK}"


def test_a_registered_secret_that_extends_a_passed_one_is_masked_whole() -> None:
    register_secret(NESTED_TOKEN)
    assert redact(f"echo {NESTED_TOKEN}", [NESTED_KEY]) == f"echo {MASK}"


@pytest.mark.parametrize("header", ["X-Api-Key", "api-key", "Cookie"])
def test_a_key_header_whose_value_has_a_space_is_masked_whole(header: str) -> None:
    value = "acmeprod k3y-Sp4ce-9"  # no scheme: its first word is part of the key
    llm = FakeLLM([f"echo {value}"], extra_headers={header: value})
    assert llm.chat_completions([{"role": "user", "content": "hi"}]).content == f"echo {MASK}"
