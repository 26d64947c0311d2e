"""`.env` files: the CLI reads ./.env, the library only when asked, the environment wins."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import pytest

from llmport.cli import main
from llmport.errors import ConfigurationError
from llmport.registry import get_default_llm, get_llm
from llmport.testing import FakeLLM
from llmport.testing.fake import FakeLLMConfig


@pytest.fixture
def in_tmp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, llm_env: Callable[..., None]
) -> Iterator[Path]:
    """A clean environment, restored afterwards, in an empty working directory."""
    monkeypatch.chdir(tmp_path)
    with mock.patch.dict(os.environ):
        yield tmp_path


def write_env(directory: Path, text: str) -> Path:
    path = directory / ".env"
    path.write_text(text)
    return path


def test_cli_reads_dotenv_in_the_working_directory(
    in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_env(in_tmp_dir, "DEFAULT_LLM=fake\nFAKE_LLM_DEFAULT_TEXT=from the dotenv file\n")
    assert main(["chat", "hello"]) == 0
    assert capsys.readouterr().out == "from the dotenv file\n"


def test_cli_environment_wins_over_dotenv(
    in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_env(in_tmp_dir, "DEFAULT_LLM=fake\nFAKE_LLM_DEFAULT_TEXT=from the file\n")
    os.environ["FAKE_LLM_DEFAULT_TEXT"] = "from the environment"
    assert main(["chat", "hello"]) == 0
    assert capsys.readouterr().out == "from the environment\n"


def test_cli_config_names_dotenv_as_the_source(
    in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_env(in_tmp_dir, "DEFAULT_LLM=fake\nFAKE_LLM_TEMPERATURE=0.4\n")
    os.environ["FAKE_LLM_TOP_P"] = "0.9"
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "temperature    = 0.4" in out
    assert "[.env: FAKE_LLM_TEMPERATURE]" in out
    assert "[environment: FAKE_LLM_TOP_P]" in out


def test_library_ignores_dotenv_by_default(in_tmp_dir: Path) -> None:
    write_env(in_tmp_dir, "DEFAULT_LLM=fake\nFAKE_LLM_TEMPERATURE=0.4\n")
    with pytest.raises(ConfigurationError, match="no LLM is configured"):
        get_default_llm()
    assert get_llm("fake").config.temperature is None
    assert "DEFAULT_LLM" not in os.environ


def test_get_default_llm_reads_the_env_file_it_is_given(in_tmp_dir: Path) -> None:
    path = write_env(in_tmp_dir, "DEFAULT_LLM=fake\nFAKE_LLM_TEMPERATURE=0.4\nOTHER_TOOL=x\n")
    llm = get_default_llm(env_file=path)
    assert isinstance(llm, FakeLLM)
    assert llm.config.temperature == 0.4
    assert "DEFAULT_LLM" not in os.environ  # read, never copied into the environment


def test_environment_wins_over_the_env_file_for_library_users(in_tmp_dir: Path) -> None:
    path = write_env(in_tmp_dir, "FAKE_LLM_TEMPERATURE=0.4\nFAKE_LLM_SEED=7\n")
    os.environ["FAKE_LLM_TEMPERATURE"] = "0.9"
    config = get_llm("fake", env_file=path).config
    assert (config.temperature, config.seed) == (0.9, 7)


def test_arguments_win_over_the_env_file(in_tmp_dir: Path) -> None:
    path = write_env(in_tmp_dir, "FAKE_LLM_TEMPERATURE=0.4\n")
    assert get_llm("fake", env_file=path, temperature=0.1).config.temperature == 0.1


def test_env_file_reaches_nested_retry_settings(in_tmp_dir: Path) -> None:
    path = write_env(in_tmp_dir, "FAKE_LLM_RETRY__MAX_ATTEMPTS=5\n")
    assert get_llm("fake", env_file=path).config.retry.max_attempts == 5


def test_env_file_with_non_config_settings_still_applies(in_tmp_dir: Path) -> None:
    path = write_env(in_tmp_dir, "FAKE_LLM_DEFAULT_TEXT=from the file\n")
    llm = get_llm("fake", env_file=path, script=["scripted"])
    assert isinstance(llm.config, FakeLLMConfig)
    assert llm.config.default_text == "from the file"
    assert llm.chat_completions([{"role": "user", "content": "hi"}]).content == "scripted"


NOT_UTF8 = b"\xff\xfe\x00DEFAULT_LLM=fake\n"


def test_cli_reports_a_dotenv_that_is_not_text_in_one_line(
    in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp_dir / ".env").write_bytes(NOT_UTF8)
    os.environ["DEFAULT_LLM"] = "fake"
    assert main(["chat", "hello"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("llmport: configuration error: .env cannot be read")
    assert "UTF-8" in err


@pytest.mark.parametrize(
    "load",
    [
        lambda path: get_default_llm(env_file=path),
        lambda path: get_llm("fake", env_file=path),
        lambda path: FakeLLMConfig.load(env_file=path),
    ],
    ids=["get_default_llm", "get_llm", "Config.load"],
)
def test_an_env_file_the_library_is_given_must_exist_and_be_text(
    in_tmp_dir: Path, load: Callable[[Path], object]
) -> None:
    os.environ["DEFAULT_LLM"] = "fake"
    missing = in_tmp_dir / "typo.env"
    with pytest.raises(ConfigurationError, match=r"typo\.env cannot be read: no such file"):
        load(missing)
    binary = in_tmp_dir / "binary.env"
    binary.write_bytes(NOT_UTF8)
    with pytest.raises(ConfigurationError, match=r"binary\.env cannot be read: not UTF-8 text"):
        load(binary)


MALFORMED = 'DEFAULT_LLM=fake\nLITELLM_API_KEY="sk-never-shown-1234567890\nFAKE_LLM_SEED=3\n'


def test_cli_reports_a_malformed_dotenv_line_in_one_line_without_its_text(
    in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_env(in_tmp_dir, MALFORMED)
    assert main(["chat", "hello"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "llmport: configuration error: .env cannot be read: line 2 is not NAME=value "
        "(an unclosed quote?); fix or remove it\n"
    )


def test_the_library_refuses_a_malformed_env_file_quietly(
    in_tmp_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = write_env(in_tmp_dir, MALFORMED)
    with pytest.raises(ConfigurationError, match="line 2 is not NAME=value") as info:
        get_llm("fake", env_file=path)
    assert "sk-never-shown" not in str(info.value)
    assert capfd.readouterr().err == ""  # no parser warning on the app's stderr
