"""Fenced JSON answers in every Markdown shape, and response formats that cannot work."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from llmport.testing import FakeLLM

USER = [{"role": "user", "content": "Weather in Oslo?"}]
BODY = '{"city": "Oslo", "celsius": -3}'


class Weather(BaseModel):
    city: str
    celsius: float


OSLO = Weather(city="Oslo", celsius=-3)


def parsed(text: str) -> Any:
    return FakeLLM([text]).chat_completions(USER, response_format=Weather).parsed


def test_a_tilde_fence_is_read() -> None:
    assert parsed(f"~~~json\n{BODY}\n~~~") == OSLO


def test_a_fence_longer_than_three_is_closed_only_by_one_as_long() -> None:
    body = '{"city": "```", "celsius": 1}'
    assert parsed(f"````json\n{body}\n````") == Weather(city="```", celsius=1)


def test_backticks_inside_a_fenced_value_do_not_close_the_block() -> None:
    body = '{"city": "a ```b``` c", "celsius": 1}'
    assert parsed(f"```json\n{body}\n```") == Weather(city="a ```b``` c", celsius=1)


@pytest.mark.parametrize("tag", ["jsonc", "json5", "javascript", "js", "json title=answer"])
def test_a_block_with_any_info_string_is_read(tag: str) -> None:
    assert parsed(f"```{tag}\n{BODY}\n```") == OSLO


def test_the_first_block_that_holds_json_is_read_after_a_code_block() -> None:
    text = f"Run this:\n```python\nprint('hi')\n```\nThe answer:\n```json\n{BODY}\n```"
    assert parsed(text) == OSLO


def test_windows_line_endings_are_read() -> None:
    assert parsed(f"Here it is:\r\n```json\r\n{BODY}\r\n```\r\n") == OSLO


def test_a_byte_order_mark_before_the_json_is_ignored() -> None:
    assert parsed("\ufeff" + BODY) == OSLO


@given(
    fence=st.sampled_from(["```", "````", "~~~", "~~~~~"]),
    tag=st.sampled_from(["", "json", "JSON", "jsonc", "text"]),
    prose=st.text(alphabet=st.characters(blacklist_characters="`~{[\r"), max_size=30),
    city=st.text(min_size=1, max_size=20),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_any_fenced_block_after_any_prose_is_read(
    fence: str, tag: str, prose: str, city: str, newline: str
) -> None:
    body = json.dumps({"city": city, "celsius": 5})
    text = newline.join([prose, f"{fence}{tag}", body, fence, "Anything else?"])
    assert parsed(text) == Weather(city=city, celsius=5)


@pytest.mark.parametrize(
    "response_format",
    [
        BaseModel,
        {},
        {"schema": {"type": "object"}},
        {"type": 3},
        {"type": "json_schema"},
        {"type": "json_schema", "json_schema": "Weather"},
    ],
)
def test_a_response_format_that_cannot_work_raises_before_io(response_format: Any) -> None:
    llm = FakeLLM(["{}"])
    with pytest.raises(ValueError, match="response_format"):
        llm.chat_completions(USER, response_format=response_format)
    assert llm.call_count == 0


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "text"},
        {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}},
        {"type": "grammar", "grammar": "root ::= 'x'"},
    ],
)
def test_a_response_format_dict_with_a_type_is_passed_through(response_format: Any) -> None:
    llm = FakeLLM(["{}"])
    llm.chat_completions(USER, response_format=response_format)
    assert llm.last_request.response_format == response_format


def test_prose_that_starts_with_a_bracket_still_finds_the_fenced_block() -> None:
    assert parsed(f"[Note] the data is below.\n```json\n{BODY}\n```") == OSLO


def test_an_unfenced_json_answer_holding_a_fence_line_in_a_string_is_read_as_is() -> None:
    body = '{"city": "a\\n```\\nb", "celsius": 1}'
    assert parsed(body) == Weather(city="a\n```\nb", celsius=1)
