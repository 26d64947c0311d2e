"""Files a user might really hand over: odd names, odd values, odd bytes."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pytest
import yaml

from llmport import ConfigurationError
from llmport.interop import export_litellm_proxy, import_litellm_proxy, read_profiles

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


def test_a_profile_name_with_a_line_break_stays_inside_the_header_comment(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(
        '[profiles."a\\nevil: 1"]\nprovider = "openai_compatible"\nchat_model = "m"\n'
        'base_url = "http://127.0.0.1:9/v1"\nmax_connections = 3\n',
        encoding="utf-8",
    )
    exported = export_litellm_proxy(read_profiles(path))
    assert yaml.safe_load(exported.text) == exported.data


def test_a_proxy_key_with_a_line_break_stays_inside_the_header_comment(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    config = {
        "model_list": [{"model_name": "m", "litellm_params": {"model": "openai/m"}}],
        "general_settings": {'x\ndefault = "m"': 1},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = import_litellm_proxy(path)
    assert tomllib.loads(result.text) == result.data
    assert "default" not in result.data


def test_a_file_that_is_not_utf8_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xff\xfe\x00model_list")
    with pytest.raises(ConfigurationError, match="not UTF-8"):
        import_litellm_proxy(path)
    with pytest.raises(ConfigurationError, match="not UTF-8"):
        read_profiles(path)


def test_invalid_yaml_is_reported_on_one_line_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("model_list: [\n  - a: b\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        import_litellm_proxy(path)
    assert "\n" not in str(info.value)
    assert f"{path}:2:" in str(info.value)


def test_a_yaml_date_is_written_as_a_toml_date(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "model_list:\n- model_name: m\n"
        "  litellm_params: {model: azure/m, api_version: 2024-02-01}\n",
        encoding="utf-8",
    )
    result = import_litellm_proxy(path)
    expected = {"api_version": datetime.date(2024, 2, 1)}
    assert result.data["profiles"]["m"]["extra_params"] == expected
    assert tomllib.loads(result.text) == result.data


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("{x: null, y: 1}", "extra_body.x"),
        ("[1, null]", "extra_body"),
        ("&r [*r]", "extra_body"),
        ("!!binary aGVsbG8=", "extra_body"),
    ],
)
def test_a_value_toml_cannot_hold_is_reported_not_a_crash(
    tmp_path: Path, value: str, key: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "model_list:\n- model_name: m\n"
        f"  litellm_params: {{model: openai/m, extra_body: {value}}}\n",
        encoding="utf-8",
    )
    result = import_litellm_proxy(path)
    assert [note.key for note in result.notes] == [f"model_list[0].litellm_params.{key}"]
    assert tomllib.loads(result.text) == result.data
