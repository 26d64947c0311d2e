"""One profile to a LightEval LiteLLM model config, checked by LightEval itself when installed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from llmport import ConfigurationError
from llmport.interop import export_lighteval, read_profiles
from llmport.profiles import Profiles

GATEWAY = "http://127.0.0.1:9/v1"
PROFILES = f"""
[profiles.judge]
provider = "openai_compatible"
chat_model = "small"
base_url = "{GATEWAY}"
api_key_env = "GATEWAY_KEY"
temperature = 0.2
top_p = 0.9
max_tokens = 256
seed = 3
timeout = 30.0
retry = {{ max_attempts = 4, initial_backoff = 0.5, multiplier = 3.0 }}
extra_params = {{ stop = ["###"], logprobs = true }}

[profiles.strong]
provider = "litellm"
chat_model = "anthropic/claude-x"
drop_params = false

[profiles.both]
members = ["judge", "strong"]
"""


@pytest.fixture
def profiles(tmp_path: Path) -> Profiles:
    path = tmp_path / "llmport.toml"
    path.write_text(PROFILES, encoding="utf-8")
    return read_profiles(path)


def test_the_model_base_url_and_generation_parameters_are_lightevals(profiles: Profiles) -> None:
    exported = export_lighteval(profiles, "judge")
    assert exported.data["model_parameters"] == {
        "model_name": "openai/small",
        "provider": "openai",
        "base_url": GATEWAY,
        "timeout": 30.0,
        "api_max_retry": 4,
        "api_retry_sleep": 0.5,
        "api_retry_multiplier": 3.0,
        "generation_parameters": {
            "temperature": 0.2,
            "top_p": 0.9,
            "max_new_tokens": 256,
            "seed": 3,
            "stop_tokens": ["###"],
        },
    }
    assert yaml.safe_load(exported.text) == exported.data


def test_the_key_is_named_by_its_variable_and_never_written(
    profiles: Profiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_KEY", "sk-gateway-secret-1")
    exported = export_lighteval(profiles, "judge")
    assert "api_key" not in exported.data["model_parameters"]
    assert exported.data["llmport"] == {"profile": "judge", "api_key_env": "GATEWAY_KEY"}
    assert "$GATEWAY_KEY" in exported.text
    assert "sk-gateway-secret-1" not in exported.text


def test_settings_lighteval_has_no_place_for_are_reported(profiles: Profiles) -> None:
    keys = [note.key for note in export_lighteval(profiles, "judge").notes]
    assert keys == ["profiles.judge.logprobs"]
    keys = [note.key for note in export_lighteval(profiles, "strong").notes]
    assert keys == ["profiles.strong.temperature", "profiles.strong.drop_params"]


def test_the_provider_is_the_model_strings_prefix(profiles: Profiles) -> None:
    model = export_lighteval(profiles, "strong").data["model_parameters"]
    assert (model["model_name"], model["provider"]) == ("anthropic/claude-x", "anthropic")


@pytest.mark.parametrize(("name", "what"), [("both", "a group"), ("nope", "not a profile")])
def test_only_a_single_profile_is_exported(profiles: Profiles, name: str, what: str) -> None:
    with pytest.raises(ConfigurationError, match=f"profiles.{name}: {what}"):
        export_lighteval(profiles, name)


def test_lighteval_reads_the_exported_file(profiles: Profiles, tmp_path: Path) -> None:
    try:
        from lighteval.models.endpoints.litellm_model import (  # type: ignore[import-not-found]
            LiteLLMModelConfig,
        )
    except ImportError as exc:
        reason = f"lighteval is not installed ({exc}); run nox -s lighteval"
        print(reason)
        if os.environ.get("LLMPORT_REQUIRE_LIGHTEVAL") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    path = tmp_path / "judge.yaml"
    path.write_text(export_lighteval(profiles, "judge").text, encoding="utf-8")
    config = LiteLLMModelConfig.from_path(str(path))
    assert (config.model_name, config.provider, config.base_url) == (
        "openai/small",
        "openai",
        GATEWAY,
    )
    assert config.api_key is None  # litellm reads the provider's own variable
    assert (config.api_max_retry, config.timeout) == (4, 30.0)
    generation = config.generation_parameters
    assert (generation.temperature, generation.max_new_tokens) == (0.2, 256)
    assert generation.stop_tokens == ["###"]


def test_another_profiles_literal_key_does_not_stop_the_export(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(
        PROFILES + '\n[profiles.other]\nprovider = "litellm"\nchat_model = "m"\napi_key = "sk-1"\n'
    )
    assert export_lighteval(read_profiles(path), "judge").data["model_parameters"]


def test_retry_settings_lighteval_has_no_place_for_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    text = PROFILES.replace("multiplier = 3.0 }", "multiplier = 3.0, deadline = 9.0 }")
    path.write_text(text.replace("[profiles.strong]", "max_connections = 3\n\n[profiles.strong]"))
    keys = [note.key for note in export_lighteval(read_profiles(path), "judge").notes]
    assert keys == [
        "profiles.judge.logprobs",
        "profiles.judge.max_connections",
        "profiles.judge.retry.deadline",
    ]


def single(tmp_path: Path, settings: str) -> Profiles:
    path = tmp_path / "llmport.toml"
    path.write_text(
        '[profiles.j]\nprovider = "litellm"\nchat_model = "openai/m"\n'
        f"temperature = 0.5\n{settings}\n",
        encoding="utf-8",
    )
    return read_profiles(path)


def test_a_single_stop_string_is_a_list_of_stop_tokens(tmp_path: Path) -> None:
    exported = export_lighteval(single(tmp_path, 'extra_params = { stop = "END" }'), "j")
    assert exported.data["model_parameters"]["generation_parameters"]["stop_tokens"] == ["END"]


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("seed = -1", "seed"),
        ("extra_params = { frequency_penalty = -0.5 }", "frequency_penalty"),
    ],
)
def test_a_negative_value_lighteval_refuses_is_reported_not_written(
    tmp_path: Path, setting: str, key: str
) -> None:
    exported = export_lighteval(single(tmp_path, setting), "j")
    assert key not in exported.data["model_parameters"]["generation_parameters"]
    assert [note.key for note in exported.notes] == [f"profiles.j.{key}"]


@pytest.mark.parametrize("key", ["top_k", "min_p", "presence_penalty"])
def test_a_parameter_lighteval_never_sends_to_litellm_is_reported(tmp_path: Path, key: str) -> None:
    exported = export_lighteval(single(tmp_path, f"extra_params = {{ {key} = 1 }}"), "j")
    assert (
        "generation_parameters" not in exported.data["model_parameters"]
        or key not in (exported.data["model_parameters"]["generation_parameters"])
    )
    assert [note.key for note in exported.notes] == [f"profiles.j.{key}"]


def test_an_unset_temperature_is_reported_as_lightevals_greedy_default(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text('[profiles.j]\nprovider = "litellm"\nchat_model = "openai/m"\n')
    notes = export_lighteval(read_profiles(path), "j").notes
    assert [(n.key, n.reason) for n in notes] == [
        ("profiles.j.temperature", "not set: LightEval sends temperature 0 (greedy decoding)")
    ]
