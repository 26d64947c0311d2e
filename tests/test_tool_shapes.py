"""`tools=` accepts the OpenAI shape and the flat `{"name", "description", "parameters"}` one."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport.testing import FakeLLM

USER = [{"role": "user", "content": "hi"}]

names = st.text(min_size=1, max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
schemas = st.dictionaries(st.text(max_size=10), json_values, max_size=4)
flat_tools = st.fixed_dictionaries(
    {"name": names},
    optional={"description": st.text(max_size=30), "parameters": schemas},
)


def sent_tools(tools: Any) -> list[dict[str, Any]] | None:
    return FakeLLM().build_request(USER, tools=tools).tools


@given(st.lists(flat_tools, min_size=1, max_size=4))
def test_flat_tools_are_sent_nested_under_function(tools: list[dict[str, Any]]) -> None:
    assert sent_tools(tools) == [{"type": "function", "function": tool} for tool in tools]


@given(st.lists(flat_tools, min_size=1, max_size=4))
def test_normalising_is_idempotent(tools: list[dict[str, Any]]) -> None:
    once = sent_tools(tools)
    assert sent_tools(once) == once


@given(flat_tools)
def test_flat_tool_with_type_function_is_nested_too(tool: dict[str, Any]) -> None:
    assert sent_tools([{"type": "function", **tool}]) == [{"type": "function", "function": tool}]


def test_director_tool_is_normalised() -> None:
    director_tool = {
        "name": "search",
        "description": "Search the video",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
    }
    assert sent_tools([director_tool]) == [{"type": "function", "function": director_tool}]


def test_non_function_tools_pass_through_unchanged() -> None:
    assert sent_tools([{"type": "web_search"}]) == [{"type": "web_search"}]


@pytest.mark.parametrize(
    ("tool", "match"),
    [
        ({"description": "no name", "parameters": {}}, r"tools\[0\] has no function name"),
        ({"name": "", "parameters": {}}, r"tools\[0\] has no function name"),
        ({"name": 3}, r"tools\[0\] has no function name"),
        ({"type": "function", "function": "search"}, r"tools\[0\] must look like"),
        ({"type": "function", "function": {"parameters": {}}}, "has no function name"),
        ({"name": "search", "parameters": "query: str"}, r"\(search\): parameters must be"),
        ({"name": "search", "description": 7}, r"\(search\): description must be a string"),
    ],
)
def test_bad_tool_shapes_raise_value_error_naming_both_shapes(tool: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FakeLLM().chat_completions(USER, tools=[tool])


def test_the_error_shows_both_accepted_shapes() -> None:
    with pytest.raises(ValueError, match="no function name") as raised:
        sent_tools([{"description": "no name"}])
    assert "'function': {'name'" in str(raised.value)
    assert "{'name': ..., 'description': ..., 'parameters'" in str(raised.value)
