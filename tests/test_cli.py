"""The `llmport` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from llmport.cli import main


def test_demo_runs_end_to_end_with_no_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json"]) == 0
    steps = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [s["step"] for s in steps] == [
        "plain completion",
        "tool call",
        "retried error (503 twice, then success)",
        "stream (8 chunks)",
    ]
    assert all(s["status"] == "success" for s in steps)
    assert steps[1]["tool_calls"][0]["arguments"] == {"city": "Paris"}
    assert steps[2]["attempts"] == 3
    assert steps[0]["usage"]["total_tokens"] > 0


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmport", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for command in ("demo", "chat", "ping", "config", "gateway"):
        assert command in result.stdout


def test_chat_prints_the_answer(
    llm_env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    llm_env(DEFAULT_LLM="fake", FAKE_LLM_DEFAULT_TEXT="Hi from the fake")
    assert main(["chat", "hello"]) == 0
    assert capsys.readouterr().out == "Hi from the fake\n"


def test_chat_stream_prints_tokens(
    llm_env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    llm_env(DEFAULT_LLM="fake", FAKE_LLM_DEFAULT_TEXT="one two")
    assert main(["chat", "hello", "--stream"]) == 0
    assert capsys.readouterr().out == "one two\n"


def test_ping_reports_latency_and_usage_as_json(
    llm_env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    llm_env(DEFAULT_LLM="fake")
    assert main(["ping", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["ok"], result["provider"], result["usage"]["total_tokens"]) == (True, "fake", 15)


def test_ping_failure_exits_1_with_the_error_kind(
    llm_env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    llm_env(
        DEFAULT_LLM="openai_compatible",
        OPENAI_COMPATIBLE_BASE_URL="http://127.0.0.1:9/v1",
        OPENAI_COMPATIBLE_CHAT_MODEL="m",
        OPENAI_COMPATIBLE_RETRY__MAX_ATTEMPTS="1",
    )
    assert main(["ping", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error_kind"] == "connection"


def test_unknown_provider_exits_2_with_a_hint(
    llm_env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    llm_env(DEFAULT_LLM="litelm")
    assert main(["ping"]) == 2
    assert "Did you mean 'litellm'?" in capsys.readouterr().err


def test_config_shows_sources_and_masks_secrets(
    llm_env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    llm_env(DEFAULT_LLM="fake", FAKE_LLM_API_KEY="sk-cli-canary-123456", FAKE_LLM_TEMPERATURE="0.5")
    assert main(["config", "--json"]) == 0
    out = capsys.readouterr().out
    assert "sk-cli-canary-123456" not in out
    settings = {row["setting"]: row for row in json.loads(out)["settings"]}
    assert settings["api_key"]["value"] == "****"
    assert (settings["temperature"]["value"], settings["temperature"]["source"]) == (
        0.5,
        "environment",
    )
    assert settings["timeout"]["source"] == "default"
