"""`llmport profiles export | import`: the text on stdout, what is lost on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llmport.cli import main

PROFILES = """
[profiles.fast]
provider = "openai_compatible"
chat_model = "small"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "GATEWAY_KEY"
max_connections = 4

[profiles.quality]
members = ["fast"]
"""


@pytest.fixture
def profiles_file(tmp_path: Path) -> Path:
    path = tmp_path / "llmport.toml"
    path.write_text(PROFILES, encoding="utf-8")
    return path


def test_export_prints_the_proxy_config_and_reports_losses_on_stderr(
    profiles_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["profiles", "export", "--format", "litellm-proxy", "--config", str(profiles_file)])
    out, err = capsys.readouterr()
    assert code == 0
    names = [d["model_name"] for d in yaml.safe_load(out)["model_list"]]
    assert names == ["fast", "quality"]
    assert err == (
        f"llmport: not carried over: {profiles_file}: profiles.fast.max_connections: "
        "the proxy manages its own connection pools\n"
    )


def test_export_reads_llmport_config_by_default(
    profiles_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMPORT_CONFIG", str(profiles_file))
    assert main(["profiles", "export", "--format", "litellm-proxy"]) == 0
    assert "model_name: fast" in capsys.readouterr().out


def test_import_prints_the_profiles_file(
    profiles_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["profiles", "export", "--format", "litellm-proxy", "--config", str(profiles_file)])
    config = tmp_path / "config.yaml"
    config.write_text(capsys.readouterr().out, encoding="utf-8")
    assert main(["profiles", "import", "--format", "litellm-proxy", str(config)]) == 0
    out, err = capsys.readouterr()
    assert '[profiles.quality]\nmembers = ["fast"]\n' in out
    assert 'api_key_env = "GATEWAY_KEY"\nmax_connections = 4\n' in out
    assert err == ""


def test_export_for_lighteval_prints_one_profile(
    profiles_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["profiles", "export", "--format", "lighteval", "--config", str(profiles_file)]
    assert main([*argv, "--profile", "fast"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["model_parameters"]["model_name"] == (
        "openai/small"
    )


def test_lighteval_without_a_profile_is_a_usage_error(
    profiles_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["profiles", "export", "--format", "lighteval", "--config", str(profiles_file)]
    assert main(argv) == 2
    assert "pass --profile NAME" in capsys.readouterr().err


def test_a_literal_key_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text('[profiles.x]\nprovider = "litellm"\nchat_model = "m"\napi_key = "sk-1"\n')
    assert main(["profiles", "export", "--format", "litellm-proxy", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "profiles.x.api_key: a literal key is never exported" in err


def test_yaml_is_imported_only_when_a_conversion_runs() -> None:
    code = "import sys, llmport, llmport.interop; print('yaml' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"


def test_the_output_is_utf8_whatever_the_terminal_encoding(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "model_list:\n- {model_name: caf\u00e9, litellm_params: {model: openai/m}}\n",
        encoding="utf-8",
    )
    argv = ["-m", "llmport", "profiles", "import", "--format", "litellm-proxy", str(path)]
    result = subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )
    assert result.returncode == 0, result.stderr
    assert '[profiles."caf\u00e9"]' in result.stdout.decode("utf-8")


def test_a_broken_config_is_one_line_on_stderr_and_nothing_on_stdout(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("model_list: [\n  - a: b\n")
    argv = ["-m", "llmport", "profiles", "import", "--format", "litellm-proxy", str(path)]
    result = subprocess.run([sys.executable, *argv], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.count("\n") == 1
    assert "invalid YAML" in result.stderr
