"""response_format=SomeModel: validated `parsed`, or a bad_response ERROR keeping the text."""

from __future__ import annotations

import dataclasses
import json
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from llmport import ErrorKind, LLMResponseStatus
from llmport.testing import FakeLLM

USER = [{"role": "user", "content": "Weather in Paris?"}]


class Weather(BaseModel):
    city: str
    celsius: float


def test_valid_json_is_parsed_into_the_model() -> None:
    llm = FakeLLM(['{"city": "Paris", "celsius": 21.5}'])
    response = llm.chat_completions(USER, response_format=Weather)
    assert response.parsed == Weather(city="Paris", celsius=21.5)
    fmt = llm.last_request.response_format
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Weather"
    assert fmt["json_schema"]["schema"]["required"] == ["city", "celsius"]


def test_code_fenced_json_is_accepted() -> None:
    llm = FakeLLM(['```json\n{"city": "Oslo", "celsius": -3}\n```'])
    assert llm.chat_completions(USER, response_format=Weather).parsed == Weather(
        city="Oslo", celsius=-3
    )


def test_invalid_output_is_bad_response_with_raw_text_kept() -> None:
    llm = FakeLLM(['{"city": "Paris"}'])
    response = llm.chat_completions(USER, response_format=Weather)
    assert response.status is LLMResponseStatus.ERROR
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE
    assert "celsius" in response.error.message
    assert response.content == '{"city": "Paris"}'
    assert response.parsed is None


def test_not_json_at_all_is_bad_response() -> None:
    response = FakeLLM(["It is sunny."]).chat_completions(USER, response_format=Weather)
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE


class PromptOnlyLLM(FakeLLM):
    supports_response_schema: ClassVar[bool] = False


def test_providers_without_schema_support_get_a_system_instruction() -> None:
    llm = PromptOnlyLLM(['{"city": "Rome", "celsius": 30}'])
    response = llm.chat_completions(USER, response_format=Weather)
    assert response.parsed == Weather(city="Rome", celsius=30)
    assert llm.last_request.response_format is None
    first = llm.last_messages[0]
    assert first["role"] == "system"
    assert '"celsius"' in first["content"]


def test_plain_dict_response_format_passes_through() -> None:
    llm = FakeLLM(["{}"])
    response = llm.chat_completions(USER, response_format={"type": "json_object"})
    assert response.parsed is None
    assert llm.last_request.response_format == {"type": "json_object"}


@pytest.mark.parametrize("tag", ["json", "JSON", "Json", ""])
def test_a_fenced_block_is_parsed_whatever_the_case_of_its_tag(tag: str) -> None:
    llm = FakeLLM([f'```{tag}\n{{"city": "Oslo", "celsius": -3}}\n```'])
    assert llm.chat_completions(USER, response_format=Weather).parsed == Weather(
        city="Oslo", celsius=-3
    )


@given(
    prose=st.text(alphabet=st.characters(blacklist_characters="`{["), max_size=40),
    city=st.text(min_size=1, max_size=20),
    celsius=st.integers(-50, 50),
    tag=st.sampled_from(["json", "JSON", ""]),
)
def test_a_fenced_block_after_a_line_of_prose_is_parsed(
    prose: str, city: str, celsius: int, tag: str
) -> None:
    body = json.dumps({"city": city, "celsius": celsius})
    text = f"{prose}\n```{tag}\n{body}\n```\nHope this helps."
    response = FakeLLM([text]).chat_completions(USER, response_format=Weather)
    assert response.parsed == Weather(city=city, celsius=celsius)


def test_an_unfenced_answer_with_a_fence_inside_a_string_is_read_as_is() -> None:
    text = '{"city": "```json {} ```", "celsius": 1}'
    response = FakeLLM([text]).chat_completions(USER, response_format=Weather)
    assert response.parsed == Weather(city="```json {} ```", celsius=1)


@pytest.mark.parametrize(
    "response_format", [dict, list, str, int, Weather(city="x", celsius=1), "json_object", 3]
)
def test_a_response_format_that_is_neither_a_model_nor_a_dict_raises_before_io(
    response_format: object,
) -> None:
    llm = FakeLLM(["{}"])
    with pytest.raises(ValueError, match="response_format must be a pydantic model class"):
        llm.chat_completions(USER, response_format=response_format)  # type: ignore[arg-type]
    assert llm.call_count == 0


def test_a_dataclass_response_format_raises_before_io() -> None:
    @dataclasses.dataclass
    class Plain:
        city: str

    with pytest.raises(ValueError, match="got Plain"):
        FakeLLM(["{}"]).chat_completions(USER, response_format=Plain)  # type: ignore[type-var]
