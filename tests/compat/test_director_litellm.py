"""`llmport.compat.director.LiteLLM` behaves as Director's LiteLLM provider.

Every test gets its own fake `litellm` module in `sys.modules` (the pattern Director's
tests use), and the provider must call the fake of the test it runs in.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import types
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport import ErrorKind, Usage
from llmport.compat.director import (
    LiteLLM,
    LiteLLMConfig,
    LLMResponse,
    LLMResponseStatus,
)

USER = [{"role": "user", "content": "hi"}]
SEARCH = {"name": "search", "description": "Search", "parameters": {"type": "object"}}
Answer = Callable[..., Any]


def make_llm(**settings: Any) -> LiteLLM:
    return LiteLLM(config=LiteLLMConfig(**settings))


def sent(fake: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = fake.completion.call_args.kwargs
    return kwargs


# --- the fake module is looked up at each call ---------------------------------------------


def test_the_fake_installed_by_this_test_answers(fake_litellm: Any) -> None:
    assert make_llm().chat_completions(USER).content == "hello"
    assert fake_litellm.completion.call_count == 1


def test_a_fake_swapped_in_mid_test_answers_the_next_call(
    fake_litellm: Any, answer: Answer, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = make_llm()
    llm.chat_completions(USER)
    second = types.ModuleType("litellm")
    second.completion = mock.MagicMock(return_value=answer("from the second fake"))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "litellm", second)
    assert llm.chat_completions(USER).content == "from the second fake"
    assert fake_litellm.completion.call_count == 1


def test_a_fake_installed_before_the_first_call_of_a_fresh_process_answers() -> None:
    # An app's test module run alone: nothing has read litellm's files before the fake.
    code = (
        "import sys, types; from unittest import mock; "
        "fake = types.ModuleType('litellm'); "
        "fake.completion = mock.MagicMock(return_value={'choices': "
        "[{'message': {'content': 'from the fake'}, 'finish_reason': 'stop'}]}); "
        "sys.modules['litellm'] = fake; "
        "from llmport.compat.director import LiteLLM; "
        "print(LiteLLM().chat_completions([{'role': 'user', 'content': 'hi'}]).content)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert (result.stdout.strip(), result.returncode) == ("from the fake", 0), result.stderr


def test_calls_from_a_thread_pool_each_get_their_own_answer(fake_litellm: Any) -> None:
    # Director's prompt_clip agent submits llm.chat_completions to a ThreadPoolExecutor.
    def echo(**kwargs: Any) -> dict[str, Any]:
        text = kwargs["messages"][0]["content"]
        return {"choices": [{"message": {"content": text}, "finish_reason": "stop"}]}

    fake_litellm.completion.side_effect = echo
    llm = make_llm()
    prompts = [f"prompt {n}" for n in range(32)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(
                lambda p: (
                    llm.chat_completions(
                        [{"role": "user", "content": p}], response_format={"type": "json_object"}
                    ).content
                ),
                prompts,
            )
        )
    assert answers == prompts


# --- what reaches litellm.completion -------------------------------------------------------


def test_every_call_forwards_sampling_stop_timeout_and_drop_params(fake_litellm: Any) -> None:
    llm = make_llm(chat_model="anthropic/claude-3-haiku", temperature=0.7, top_p=0.95)
    llm.chat_completions(USER, stop=["STOP"])
    kwargs = sent(fake_litellm)
    assert kwargs["model"] == "anthropic/claude-3-haiku"
    assert (kwargs["temperature"], kwargs["top_p"], kwargs["max_tokens"]) == (0.7, 0.95, 4096)
    assert (kwargs["stop"], kwargs["timeout"], kwargs["drop_params"]) == (["STOP"], 120, True)


def test_stop_is_sent_as_none_when_not_given(fake_litellm: Any) -> None:
    make_llm().chat_completions(USER)
    assert sent(fake_litellm)["stop"] is None


def test_director_defaults_are_sent(fake_litellm: Any) -> None:
    make_llm().chat_completions(USER)
    kwargs = sent(fake_litellm)
    assert (kwargs["model"], kwargs["temperature"], kwargs["top_p"]) == ("openai/gpt-4o", 0.9, 1)
    assert (kwargs["max_tokens"], kwargs["timeout"]) == (4096, 120)


def test_api_key_and_base_are_sent_only_when_set(fake_litellm: Any) -> None:
    make_llm().chat_completions(USER)
    assert "api_key" not in sent(fake_litellm)
    assert "api_base" not in sent(fake_litellm)
    make_llm(api_key="sk-test-key", api_base="http://127.0.0.1:4000").chat_completions(USER)
    assert sent(fake_litellm)["api_key"] == "sk-test-key"
    assert sent(fake_litellm)["api_base"] == "http://127.0.0.1:4000"


def test_tools_and_tool_choice_auto_are_sent_only_with_tools(fake_litellm: Any) -> None:
    llm = make_llm()
    llm.chat_completions(USER, tools=[])
    assert "tools" not in sent(fake_litellm)
    assert "tool_choice" not in sent(fake_litellm)
    llm.chat_completions(USER, tools=[SEARCH])
    assert sent(fake_litellm)["tools"] == [{"type": "function", "function": SEARCH}]
    assert sent(fake_litellm)["tool_choice"] == "auto"


def test_response_format_is_sent_only_when_given(fake_litellm: Any) -> None:
    llm = make_llm()
    llm.chat_completions(USER)
    assert "response_format" not in sent(fake_litellm)
    llm.chat_completions(USER, response_format={"type": "json_object"})
    assert sent(fake_litellm)["response_format"] == {"type": "json_object"}


def test_attributes_assigned_after_construction_are_used(fake_litellm: Any) -> None:
    llm = make_llm()
    llm.temperature, llm.chat_model, llm.api_key = 0.1, "groq/llama3", "sk-later-key"
    llm.chat_completions(USER)
    kwargs = sent(fake_litellm)
    assert (kwargs["temperature"], kwargs["model"], kwargs["api_key"]) == (
        0.1,
        "groq/llama3",
        "sk-later-key",
    )


def test_director_tool_calls_in_history_reach_litellm_in_openai_shape(fake_litellm: Any) -> None:
    history: list[dict[str, Any]] = [
        *USER,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "tc1",
                    "tool": {"name": "search", "arguments": {"q": "x"}},
                    "type": "function",
                }
            ],
        },
        {"role": "tool", "tool_call_id": "tc1", "content": "found"},
    ]
    make_llm().chat_completions(history, tools=[SEARCH])
    assistant, tool_result = sent(fake_litellm)["messages"][1:]
    assert assistant["tool_calls"] == [
        {"id": "tc1", "function": {"name": "search", "arguments": '{"q": "x"}'}, "type": "function"}
    ]
    assert tool_result == {"role": "tool", "tool_call_id": "tc1", "content": "found"}


def test_bad_tools_raise_value_error_before_litellm_is_called(fake_litellm: Any) -> None:
    with pytest.raises(ValueError, match="no function name"):
        make_llm().chat_completions(USER, tools=[{"description": "nameless", "parameters": {}}])
    fake_litellm.completion.assert_not_called()


# --- what comes back -----------------------------------------------------------------------


def test_success_is_director_shaped(fake_litellm: Any, answer: Answer) -> None:
    fake_litellm.completion.return_value = answer("ok", finish_reason="length")
    result = make_llm().chat_completions(USER)
    assert isinstance(result, LLMResponse)
    assert (result.content, result.status, result.finish_reason) == ("ok", True, "length")
    assert (result.send_tokens, result.recv_tokens, result.total_tokens) == (10, 5, 15)
    assert result.tool_calls == []
    assert result.error is None
    assert result.usage == Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)


def test_tool_calls_come_back_in_director_shape(fake_litellm: Any, answer: Answer) -> None:
    fake_litellm.completion.return_value = answer(
        "", tool_calls=[("tc1", "search", {"q": "a"}), ("tc2", "fetch", {"url": "u"})]
    )
    result = make_llm().chat_completions(USER, tools=[SEARCH])
    assert result.tool_calls == [
        {"id": "tc1", "tool": {"name": "search", "arguments": {"q": "a"}}, "type": "function"},
        {"id": "tc2", "tool": {"name": "fetch", "arguments": {"url": "u"}}, "type": "function"},
    ]


@pytest.mark.parametrize("raw", ["", None, "{not json", '"{\\"q\\": 1}"'])
def test_odd_tool_arguments_never_fail_the_call(
    fake_litellm: Any, answer: Answer, raw: str | None
) -> None:
    fake_litellm.completion.return_value = answer("", tool_calls=[("tc1", "ping", raw)])
    result = make_llm().chat_completions(USER, tools=[SEARCH])
    assert result.status == LLMResponseStatus.SUCCESS
    expected = {"q": 1} if raw and raw.startswith('"') else {}
    assert result.tool_calls[0]["tool"]["arguments"] == expected


def test_missing_usage_is_zero_tokens_and_none_usage(fake_litellm: Any, answer: Answer) -> None:
    fake_litellm.completion.return_value = answer("ok", usage=None)
    result = make_llm().chat_completions(USER)
    assert (result.send_tokens, result.recv_tokens, result.total_tokens) == (0, 0, 0)
    assert result.usage == Usage()
    assert result.status == LLMResponseStatus.SUCCESS


def test_none_content_becomes_empty_string(fake_litellm: Any, answer: Answer) -> None:
    fake_litellm.completion.return_value = answer(None)
    assert make_llm().chat_completions(USER).content == ""


def test_failure_is_error_text_in_content_with_zero_tokens(fake_litellm: Any) -> None:
    fake_litellm.completion.side_effect = ConnectionRefusedError("connection failed")
    result = make_llm().chat_completions(USER)
    assert result.status == LLMResponseStatus.ERROR
    assert result.error is not None
    assert result.error.kind is ErrorKind.CONNECTION
    assert result.content == f"Error: {result.error.message}"
    assert "connection failed" in result.content
    assert (result.send_tokens, result.recv_tokens, result.total_tokens) == (0, 0, 0)


def test_a_failure_is_tried_once(fake_litellm: Any) -> None:
    fake_litellm.completion.side_effect = TimeoutError("timed out")
    make_llm().chat_completions(USER)
    assert fake_litellm.completion.call_count == 1


def test_the_key_never_appears_in_the_error_content(fake_litellm: Any) -> None:
    fake_litellm.completion.side_effect = Exception("bad key sk-secret-123456 rejected")
    result = make_llm(api_key="sk-secret-123456").chat_completions(USER)
    assert "sk-secret-123456" not in result.content
    assert result.content.startswith("Error: ")


def test_failure_is_logged_not_printed(
    fake_litellm: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_litellm.completion.side_effect = Exception("upstream down, key sk-secret-654321")
    with caplog.at_level(logging.ERROR, logger="llmport.compat.director"):
        make_llm(api_key="sk-secret-654321").chat_completions(USER)
    records = [r for r in caplog.records if r.name == "llmport.compat.director"]
    assert [r.levelno for r in records] == [logging.ERROR]
    assert "upstream down" in records[0].getMessage()
    assert "sk-secret-654321" not in caplog.text
    assert capsys.readouterr().out == ""


# --- formatting helpers --------------------------------------------------------------------

names = st.text(min_size=1, max_size=12)
arguments = st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3)


@given(st.lists(st.tuples(names, names, arguments), min_size=1, max_size=3))
def test_format_messages_round_trips_director_tool_calls(
    calls: list[tuple[str, str, dict[str, Any]]],
) -> None:
    director_calls = [
        {"id": call_id, "tool": {"name": name, "arguments": args}, "type": "function"}
        for call_id, name, args in calls
    ]
    message = {"role": "assistant", "content": "", "tool_calls": director_calls}
    (formatted,) = LiteLLM(LiteLLMConfig())._format_messages([message])
    assert [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]), c["type"])
        for c in formatted["tool_calls"]
    ] == [(call_id, name, args, "function") for call_id, name, args in calls]


def test_format_messages_passes_other_messages_through() -> None:
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "tool", "tool_call_id": "tc1", "content": '{"result": "ok"}'},
    ]
    assert LiteLLM(LiteLLMConfig())._format_messages(messages) == messages


def test_format_messages_names_a_malformed_tool_call() -> None:
    broken = {"role": "assistant", "content": "", "tool_calls": [{"tool": {"name": "x"}}]}
    with pytest.raises(ValueError, match=r"messages\[0\]\.tool_calls must look like"):
        LiteLLM(LiteLLMConfig())._format_messages([broken])


@given(st.lists(st.fixed_dictionaries({"name": names, "description": names}), max_size=3))
def test_format_tools_gives_the_openai_function_shape_without_strict(
    tools: list[dict[str, Any]],
) -> None:
    tools = [{**tool, "parameters": {"type": "object"}} for tool in tools]
    assert LiteLLM(LiteLLMConfig())._format_tools(tools) == [
        {"type": "function", "function": tool} for tool in tools
    ]


# --- config --------------------------------------------------------------------------------


def test_config_defaults_are_directors() -> None:
    config = LiteLLMConfig()
    assert (config.llm_type, config.chat_model, config.api_key, config.api_base) == (
        "litellm",
        "openai/gpt-4o",
        "",
        "",
    )
    assert (config.temperature, config.top_p, config.max_tokens, config.timeout) == (
        0.9,
        1,
        4096,
        120,
    )
    assert config.enable_langfuse is False


def test_config_reads_litellm_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "anthropic/claude-3-haiku")
    monkeypatch.setenv("LITELLM_API_KEY", "sk-env-key")
    monkeypatch.setenv("LITELLM_MAX_TOKENS", "8192")
    config = LiteLLMConfig()
    assert (config.chat_model, config.api_key, config.max_tokens) == (
        "anthropic/claude-3-haiku",
        "sk-env-key",
        8192,
    )


def test_no_key_is_required_and_config_values_become_attributes() -> None:
    llm = LiteLLM(LiteLLMConfig(temperature=0.2, api_base="http://127.0.0.1:4000"))
    assert (llm.api_key, llm.api_base, llm.temperature) == ("", "http://127.0.0.1:4000", 0.2)
    assert (llm.llm_type, llm.chat_model, llm.top_p, llm.max_tokens, llm.timeout) == (
        "litellm",
        "openai/gpt-4o",
        1,
        4096,
        120,
    )


def test_the_key_is_not_in_the_config_repr() -> None:
    assert "sk-hidden-key" not in repr(LiteLLMConfig(api_key="sk-hidden-key"))
