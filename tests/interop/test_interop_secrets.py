"""No credential is ever written by a conversion, and no message repeats one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from llmport import ConfigurationError
from llmport.interop import (
    export_lighteval,
    export_litellm_proxy,
    import_litellm_proxy,
    read_profiles,
)
from llmport.profiles import Profiles

SECRET = "hunter2-secret-value"


def profiles(tmp_path: Path, text: str) -> Profiles:
    path = tmp_path / "llmport.toml"
    path.write_text(text, encoding="utf-8")
    return read_profiles(path)


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        (f'api_base = "http://user:{SECRET}@127.0.0.1:9/v1"', "api_base"),
        (f'api_base = "http://{SECRET}@127.0.0.1:9/v1"', "api_base"),
        (f'api_base = "http://127.0.0.1:9/v1?api-key={SECRET}"', "api_base"),
        (f'extra_params = {{ api_key = "{SECRET}" }}', "extra_params.api_key"),
        (f'extra_params = {{ aws_secret_access_key = "{SECRET}" }}', "extra_params"),
        (f'extra_headers = {{ Cookie = "session={SECRET}" }}', "extra_headers.Cookie"),
        (f'extra_headers = {{ "X-Goog-Api-Key" = "{SECRET}" }}', "extra_headers.X-Goog-Api-Key"),
    ],
)
def test_a_credential_anywhere_in_a_profile_is_refused_without_repeating_it(
    tmp_path: Path, setting: str, key: str
) -> None:
    text = f'[profiles.x]\nprovider = "litellm"\nchat_model = "openai/m"\n{setting}\n'
    loaded = profiles(tmp_path, text)
    for export in (export_litellm_proxy, lambda p: export_lighteval(p, "x")):
        with pytest.raises(ConfigurationError, match=rf"profiles\.x\.{key}.*credential") as info:
            export(loaded)
        assert SECRET not in str(info.value)


def test_a_base_url_with_a_password_is_refused(tmp_path: Path) -> None:
    text = (
        '[profiles.x]\nprovider = "openai_compatible"\nchat_model = "m"\n'
        f'base_url = "http://me:{SECRET}@127.0.0.1:9/v1"\n'
    )
    with pytest.raises(ConfigurationError, match=r"profiles\.x\.base_url: .*credential") as info:
        export_litellm_proxy(profiles(tmp_path, text))
    assert SECRET not in str(info.value)


def imported_text(tmp_path: Path, params: dict[str, Any]) -> tuple[str, list[str]]:
    path = tmp_path / "config.yaml"
    deployment = {"model_name": "m", "litellm_params": {"model": "openai/m", **params}}
    path.write_text(yaml.safe_dump({"model_list": [deployment]}), encoding="utf-8")
    result = import_litellm_proxy(path)
    return result.text, [note.key for note in result.notes]


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"aws_secret_access_key": SECRET}, "aws_secret_access_key"),
        ({"extra_headers": {"Authorization": f"Bearer {SECRET}"}}, "extra_headers.Authorization"),
        ({"api_base": f"http://u:{SECRET}@127.0.0.1:9/v1"}, "api_base"),
    ],
)
def test_a_literal_credential_in_a_proxy_config_is_reported_and_not_imported(
    tmp_path: Path, params: dict[str, Any], key: str
) -> None:
    text, keys = imported_text(tmp_path, params)
    assert SECRET not in text
    assert keys == [f"model_list[0].litellm_params.{key}"]
