"""The `llmport` command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmport
from llmport._cli_output import error_line, next_step
from llmport.cli import main
from llmport.errors import ErrorKind
from llmport.providers.litellm import LiteLLMConfig
from llmport.response import LLMError
from llmport.testing import LocalGateway
from llmport.testing.gateway import MODELS
from llmport.testing.pytest_plugin import ENV_NAMES, ENV_PREFIXES


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


@pytest.fixture
def unreachable_llm(llm_env: Callable[..., None]) -> None:
    """DEFAULT_LLM is the direct provider, pointed at a closed port, with one attempt."""
    llm_env(
        DEFAULT_LLM="openai_compatible",
        OPENAI_COMPATIBLE_BASE_URL="http://127.0.0.1:9/v1",
        OPENAI_COMPATIBLE_CHAT_MODEL="m",
        OPENAI_COMPATIBLE_RETRY__MAX_ATTEMPTS="1",
    )


def test_ping_failure_exits_1_with_the_error_kind(
    unreachable_llm: None, capsys: pytest.CaptureFixture[str]
) -> None:
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


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"llmport {llmport.__version__}\n"


def test_demo_prints_its_steps_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    titles = [line for line in out.splitlines() if line.startswith("== ")]
    assert titles == [
        "== step 1 of 4: plain completion",
        "== step 2 of 4: tool call",
        "== step 3 of 4: retried error (503 twice, then success)",
        "== step 4 of 4: stream (8 chunks)",
    ]
    assert out.index("streamed:    tok0") > out.index("== step 4 of 4")


def test_failed_chat_prints_one_error_line_naming_the_key_variable(
    llm_env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalGateway(api_key="sk-the-right-key") as gateway:
        llm_env(
            DEFAULT_LLM="openai_compatible",
            OPENAI_COMPATIBLE_BASE_URL=gateway.base_url,
            OPENAI_COMPATIBLE_CHAT_MODEL="echo",
            OPENAI_COMPATIBLE_API_KEY="sk-a-wrong-key",
        )
        assert main(["chat", "hello"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("llmport: auth: ")
    assert line.count("auth:") == 1
    assert line.endswith("Next step: set OPENAI_COMPATIBLE_API_KEY to a valid key "
                         "(or the backend's own key variable).")  # fmt: skip


def test_model_without_provider_prefix_hints_the_prefix(
    llm_env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalGateway() as gateway:
        llm_env(
            LITELLM_CHAT_MODEL="echo",
            LITELLM_API_BASE=gateway.base_url,
            LITELLM_API_KEY="sk-local-key",
            LITELLM_LOCAL_MODEL_COST_MAP="True",
        )
        assert main(["chat", "hello"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("llmport: invalid_request: LLM Provider NOT provided")
    assert line.endswith("Next step: add a provider prefix to the model: "
                         "set LITELLM_CHAT_MODEL=openai/echo.")  # fmt: skip


def test_an_unknown_provider_prefix_is_named_not_asked_for_again() -> None:
    error = LLMError(
        kind=ErrorKind.INVALID_REQUEST,
        message="invalid_request: LLM Provider NOT provided. You passed model=acme/m1",
    )
    step = next_step(error, LiteLLMConfig(chat_model="acme/m1"))
    assert step == (
        "'acme/' is not a provider prefix litellm knows: "
        "set LITELLM_CHAT_MODEL to one it does, such as openai/m1"
    )


def test_failed_ping_reports_on_stderr_only(
    unreachable_llm: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ping"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("llmport: connection: ")
    assert line.count("connection:") == 1
    assert "Next step: check that OPENAI_COMPATIBLE_BASE_URL is right" in line


@settings(max_examples=60)
@given(kind=st.sampled_from(ErrorKind), text=st.text(min_size=0, max_size=80))
def test_every_error_is_one_line_with_its_kind_once_and_a_next_step(
    kind: ErrorKind, text: str
) -> None:
    error = LLMError(kind=kind, message=f"{kind.value}: {text}" if text else kind.value)
    line = error_line(error, LiteLLMConfig(chat_model="openai/m"))
    assert len(line.splitlines()) == 1
    assert line.startswith(f"llmport: {kind.value}: ")
    assert not line.startswith(f"llmport: {kind.value}: {kind.value}:")
    assert " Next step: " in line
    assert next_step(error, None)  # a step even when the provider is unknown


PROBE = """
import signal
import sys
# A parent that ignores SIGINT (some CI runners) passes that on: restore Python's default.
signal.signal(signal.SIGINT, signal.default_int_handler)
from llmport.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
sys.stderr.write(f"\\nexit={code} litellm_imported={'litellm' in sys.modules}\\n")
"""


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, bool]:
    """Run the CLI in a fresh interpreter; returns (exit code, whether litellm was imported)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}
    clean = {k: v for k, v in clean.items() if k not in ENV_NAMES}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **env},
        cwd=cwd,
        check=False,
    )
    last = done.stderr.strip().splitlines()[-1]
    code, imported = (part.split("=")[1] for part in last.split())
    return int(code), imported == "True"


@pytest.mark.parametrize(
    ("args", "env", "expected_exit"),
    [
        (["--version"], {}, 0),
        (["--help"], {}, 0),
        (["config", "--llm", "fake"], {}, 0),
        (["config", "--llm", "litellm"], {"LITELLM_CHAT_MODEL": "openai/gpt-4o-mini"}, 0),
        (["chat", "hi"], {"DEFAULT_LLM": "fake"}, 0),
        (["ping"], {"DEFAULT_LLM": "openai_compatible"}, 0),
        (["chat", "hi"], {"DEFAULT_LLM": "openai_compatible"}, 0),
    ],
    ids=["version", "help", "config-fake", "config-litellm", "chat-fake", "ping-oc", "chat-oc"],
)
def test_commands_that_do_not_call_litellm_do_not_import_it(
    args: list[str],
    env: dict[str, str],
    expected_exit: int,
    local_gateway: LocalGateway,
    tmp_path: Path,
) -> None:
    direct = {"OPENAI_COMPATIBLE_BASE_URL": local_gateway.base_url}
    direct["OPENAI_COMPATIBLE_CHAT_MODEL"] = "echo"
    assert run_cli(args, {**direct, **env}, tmp_path) == (expected_exit, False)


def test_profiles_export_does_not_import_litellm(tmp_path: Path) -> None:
    profiles = tmp_path / "llmport.toml"
    profiles.write_text('[profiles.fast]\nprovider = "litellm"\nchat_model = "openai/small"\n')
    args = ["profiles", "export", "--format", "litellm-proxy", "--config", str(profiles)]
    assert run_cli(args, {}, tmp_path) == (0, False)


def test_gateway_command_does_not_import_litellm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", PROBE, "gateway", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("llmport local gateway on http://127.0.0.1:")
        for _ in MODELS:  # the listing is printed once the gateway serves
            process.stdout.readline()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert err.strip().splitlines()[-1] == "exit=0 litellm_imported=False"


def test_the_chat_command_that_calls_litellm_does_import_it(
    local_gateway: LocalGateway, tmp_path: Path
) -> None:
    env = {
        "LITELLM_CHAT_MODEL": "openai/echo",
        "LITELLM_API_BASE": local_gateway.base_url,
        "LITELLM_API_KEY": "sk-local-key",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    assert run_cli(["chat", "hi"], env, tmp_path) == (0, True)
