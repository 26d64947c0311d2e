"""LiteLLM provider, unit level: what reaches litellm.completion, lazy import."""

from __future__ import annotations

import subprocess
import sys
import types
from typing import Any

import pytest

from llmport import LiteLLM, RetryPolicy
from llmport.providers import litellm as provider_module

USER = [{"role": "user", "content": "hi"}]
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
OK = {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}


@pytest.fixture
def completion(mocker: Any) -> Any:
    fake_module = mocker.MagicMock()
    fake_module.completion.return_value = OK
    mocker.patch.object(provider_module, "import_litellm", return_value=fake_module)
    return fake_module.completion


def test_forwards_every_setting(completion: Any) -> None:
    llm = LiteLLM(
        chat_model="openai/m",
        api_key="sk-test-123456",
        api_base="http://127.0.0.1:1/v1",
        temperature=0.3,
        top_p=0.8,
        max_tokens=64,
        seed=7,
        timeout=9,
        extra_params={"presence_penalty": 0.1},
        extra_headers={"X-Tenant": "t1"},
    )
    response = llm.chat_completions(
        USER,
        tools=TOOLS,
        stop=["END"],
        response_format={"type": "json_object"},
        tool_choice="auto",
        user="u-1",
    )
    assert response.content == "ok"
    kwargs = completion.call_args.kwargs
    assert kwargs == {
        "model": "openai/m",
        "messages": USER,
        "tools": TOOLS,
        "tool_choice": "auto",
        "stop": ["END"],
        "response_format": {"type": "json_object"},
        "temperature": 0.3,
        "top_p": 0.8,
        "max_tokens": 64,
        "seed": 7,
        "timeout": 9.0,
        "api_key": "sk-test-123456",
        "api_base": "http://127.0.0.1:1/v1",
        "presence_penalty": 0.1,
        "user": "u-1",
        "extra_headers": {"X-Tenant": "t1"},
        "num_retries": 0,
        "drop_params": True,
    }


def test_per_call_overrides_win(completion: Any) -> None:
    LiteLLM(chat_model="openai/m", temperature=0.3).chat_completions(
        USER, temperature=0.9, model="openai/other", timeout=2
    )
    kwargs = completion.call_args.kwargs
    assert (kwargs["temperature"], kwargs["model"], kwargs["timeout"]) == (0.9, "openai/other", 2.0)


def test_unset_sampling_params_are_not_sent(completion: Any) -> None:
    LiteLLM(chat_model="openai/m").chat_completions(USER)
    kwargs = completion.call_args.kwargs
    for name in ("temperature", "top_p", "max_tokens", "seed", "api_key", "api_base", "tools"):
        assert name not in kwargs


def test_drop_params_can_be_turned_off(completion: Any) -> None:
    LiteLLM(chat_model="openai/m", drop_params=False).chat_completions(USER)
    assert completion.call_args.kwargs["drop_params"] is False


def test_litellm_retries_are_always_off(completion: Any) -> None:
    LiteLLM(chat_model="openai/m", retry=RetryPolicy(max_attempts=5)).chat_completions(USER)
    assert completion.call_args.kwargs["num_retries"] == 0


def test_first_call_imports_litellm_with_local_cost_map() -> None:
    code = (
        "import os, sys\n"
        "os.environ.pop('LITELLM_LOCAL_MODEL_COST_MAP', None)\n"
        "from llmport import LiteLLM\n"
        "llm = LiteLLM(chat_model='openai/m', api_base='http://127.0.0.1:9/v1',\n"
        "              api_key='k-123456', timeout=2, retry={'max_attempts': 1})\n"
        "assert 'litellm' not in sys.modules\n"
        "r = llm.chat_completions([{'role': 'user', 'content': 'hi'}])\n"
        "print('litellm' in sys.modules, os.environ.get('LITELLM_LOCAL_MODEL_COST_MAP'),\n"
        "      r.error.kind.value)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True
    )
    assert result.stdout.split() == ["True", "True", "connection"]
    assert "Give Feedback" not in result.stdout + result.stderr


def test_metadata_is_passed_to_litellm(completion: Any) -> None:
    LiteLLM(chat_model="openai/m").chat_completions(USER, metadata={"tenant_id": "t1"})
    assert completion.call_args.kwargs["metadata"] == {"tenant_id": "t1"}


def _fake_litellm(answer: str) -> Any:
    """A stand-in `litellm` module, as apps' tests install it in `sys.modules`."""
    from unittest import mock

    module = types.ModuleType("litellm")
    module.completion = mock.MagicMock(  # type: ignore[attr-defined]
        return_value={"choices": [{"message": {"content": answer}, "finish_reason": "stop"}]}
    )
    return module


def test_a_fake_litellm_in_sys_modules_is_used_by_the_next_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    llm = LiteLLM(chat_model="openai/m", retry=RetryPolicy.never())
    monkeypatch.setitem(sys.modules, "litellm", _fake_litellm("first"))
    assert llm.chat_completions(USER).content == "first"
    second = _fake_litellm("second")
    monkeypatch.setitem(sys.modules, "litellm", second)
    assert llm.chat_completions(USER).content == "second"
    assert second.completion.call_count == 1


def test_the_lookup_returns_whatever_module_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = [_fake_litellm(str(n)) for n in range(3)]
    for fake in fakes:
        monkeypatch.setitem(sys.modules, "litellm", fake)
        assert provider_module.import_litellm() is fake
        assert fake.suppress_debug_info is True
