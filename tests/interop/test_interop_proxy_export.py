"""Profiles to a LiteLLM proxy config: deployments, keys as references, groups as fallbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from llmport import ConfigurationError
from llmport.interop import export_litellm_proxy, read_profiles
from llmport.profiles import Profiles

GATEWAY = "http://127.0.0.1:9/v1"


def profiles(tmp_path: Path, text: str) -> Profiles:
    path = tmp_path / "llmport.toml"
    path.write_text(text, encoding="utf-8")
    return read_profiles(path)


def deployment(config: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [d for d in config["model_list"] if d["model_name"] == name]
    assert isinstance(found, dict)
    return found


SINGLES = f"""
[profiles.fast]
provider = "openai_compatible"
chat_model = "small"
base_url = "{GATEWAY}"
api_key_env = "GATEWAY_KEY"

[profiles.strong]
provider = "litellm"
chat_model = "anthropic/claude-x"
api_key_env = "ANTHROPIC_KEY"
temperature = 0.3
top_p = 0.9
max_tokens = 512
seed = 7
timeout = 20.0
extra_params = {{ stop = ["END"] }}
"""


def test_a_single_profile_is_a_deployment_named_after_it(tmp_path: Path) -> None:
    config = export_litellm_proxy(profiles(tmp_path, SINGLES)).data
    assert [d["model_name"] for d in config["model_list"]] == ["fast", "strong"]
    assert deployment(config, "strong")["litellm_params"] == {
        "model": "anthropic/claude-x",
        "api_key": "os.environ/ANTHROPIC_KEY",
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 512,
        "seed": 7,
        "timeout": 20.0,
        "stop": ["END"],
    }


def test_an_openai_compatible_profile_is_an_openai_deployment_with_its_base(
    tmp_path: Path,
) -> None:
    config = export_litellm_proxy(profiles(tmp_path, SINGLES)).data
    assert deployment(config, "fast")["litellm_params"] == {
        "model": "openai/small",
        "api_base": GATEWAY,
        "api_key": "os.environ/GATEWAY_KEY",
    }


def test_the_text_is_the_yaml_of_the_data_and_the_proxy_does_not_retry(tmp_path: Path) -> None:
    exported = export_litellm_proxy(profiles(tmp_path, SINGLES))
    assert yaml.safe_load(exported.text) == exported.data
    assert exported.data["router_settings"] == {"num_retries": 0}


def test_a_literal_key_is_refused_and_never_written(tmp_path: Path) -> None:
    text = '[profiles.x]\nprovider = "litellm"\nchat_model = "openai/m"\napi_key = "sk-secret-1"\n'
    with pytest.raises(ConfigurationError, match=r"profiles\.x\.api_key: a literal key") as info:
        export_litellm_proxy(profiles(tmp_path, text))
    assert "sk-secret-1" not in str(info.value)


def test_a_credential_header_is_refused(tmp_path: Path) -> None:
    text = (
        '[profiles.x]\nprovider = "litellm"\nchat_model = "openai/m"\n'
        'extra_headers = { Authorization = "Bearer sk-secret-1" }\n'
    )
    with pytest.raises(ConfigurationError, match=r"Authorization: holds a credential"):
        export_litellm_proxy(profiles(tmp_path, text))


def test_a_provider_without_a_deployment_is_refused(tmp_path: Path) -> None:
    text = '[profiles.x]\nprovider = "fake"\nchat_model = "m"\n'
    with pytest.raises(ConfigurationError, match=r"profiles\.x\.provider: 'fake' has no LiteLLM"):
        export_litellm_proxy(profiles(tmp_path, text))


GROUP = (
    SINGLES
    + """
[profiles.quality]
members = ["strong", "fast"]
fallback_on = ["rate_limit", "server", "context_length"]
"""
)


def test_a_group_is_callable_by_name_with_its_first_member_then_fallbacks(
    tmp_path: Path,
) -> None:
    config = export_litellm_proxy(profiles(tmp_path, GROUP)).data
    quality = deployment(config, "quality")
    assert quality["litellm_params"] == deployment(config, "strong")["litellm_params"]
    assert config["router_settings"]["fallbacks"] == [{"quality": ["fast"]}]


def test_fallback_on_context_length_becomes_context_window_fallbacks(tmp_path: Path) -> None:
    settings = export_litellm_proxy(profiles(tmp_path, GROUP)).data["router_settings"]
    assert settings["context_window_fallbacks"] == [{"quality": ["fast"]}]
    assert "content_policy_fallbacks" not in settings


def test_fallback_on_content_filter_becomes_content_policy_fallbacks(tmp_path: Path) -> None:
    text = GROUP.replace('"context_length"]', '"content_filter"]')
    settings = export_litellm_proxy(profiles(tmp_path, text)).data["router_settings"]
    assert settings["content_policy_fallbacks"] == [{"quality": ["fast"]}]
    assert "context_window_fallbacks" not in settings


def test_the_errors_the_proxy_falls_back_on_beyond_fallback_on_are_reported(
    tmp_path: Path,
) -> None:
    exported = export_litellm_proxy(profiles(tmp_path, GROUP))
    (note,) = [n for n in exported.notes if n.key == "profiles.quality.fallback_on"]
    assert note.file == str(tmp_path / "llmport.toml")
    listed = note.reason.split("falls back on ")[1].split(" errors")[0].split(", ")
    # Every kind except the group's own, and context_length (it has its own list).
    assert listed == [
        "auth",
        "bad_response",
        "connection",
        "content_filter",
        "invalid_request",
        "not_found",
        "permission",
        "quota",
        "timeout",
    ]
    assert f"profiles.quality.fallback_on: {note.reason}" in exported.text


def test_a_nested_group_falls_back_through_its_members_in_order_each_once(
    tmp_path: Path,
) -> None:
    text = GROUP + '\n[profiles.outer]\nmembers = ["quality", "fast", "strong"]\n'
    config = export_litellm_proxy(profiles(tmp_path, text)).data
    assert {"outer": ["fast"]} in config["router_settings"]["fallbacks"]


def test_settings_the_proxy_has_no_place_for_are_reported_and_kept_for_the_way_back(
    tmp_path: Path,
) -> None:
    text = SINGLES.replace("[profiles.strong]", "max_connections = 4\n\n[profiles.strong]")
    text += "retry = { max_attempts = 2 }\n"
    exported = export_litellm_proxy(profiles(tmp_path, text))
    assert [n.key for n in exported.notes] == [
        "profiles.fast.max_connections",
        "profiles.strong.retry",
    ]
    kept = deployment(exported.data, "strong")["model_info"]["llmport"]["settings"]
    assert kept == {"retry": {"max_attempts": 2}}


def test_a_profile_name_the_proxy_would_read_as_a_wildcard_is_refused(tmp_path: Path) -> None:
    text = '[profiles."gpt-*"]\nprovider = "litellm"\nchat_model = "openai/m"\n'
    with pytest.raises(ConfigurationError, match=r"profiles\.gpt-\*: .* wildcard"):
        export_litellm_proxy(profiles(tmp_path, text))


BUDGET = '\nbudget = { usd = 5.0, per = "day", key = "org", redis_timeout = 0.5 }\n'


def test_a_budget_is_reported_and_comes_back_on_import(tmp_path: Path) -> None:
    from llmport.interop import import_litellm_proxy

    exported = export_litellm_proxy(profiles(tmp_path, GROUP + BUDGET))
    assert "profiles.quality.budget" in [n.key for n in exported.notes]
    config = tmp_path / "config.yaml"
    config.write_text(exported.text, encoding="utf-8")
    back = import_litellm_proxy(config).data["profiles"]["quality"]
    assert back["budget"] == {"usd": 5.0, "per": "day", "key": "org", "redis_timeout": 0.5}


def test_a_budget_redis_password_is_refused(tmp_path: Path) -> None:
    text = SINGLES + 'budget = { usd = 1.0, redis_url = "redis://:hunter22@127.0.0.1:6379/0" }\n'
    with pytest.raises(ConfigurationError, match=r"strong\.budget\.redis_url: holds a password"):
        export_litellm_proxy(profiles(tmp_path, text))


def test_a_description_is_kept_for_the_way_back(tmp_path: Path) -> None:
    from llmport.interop import import_litellm_proxy

    text = GROUP.replace("[profiles.fast]", '[profiles.fast]\ndescription = "cheap: #1"')
    text += 'description = "the good one"\n'
    exported = export_litellm_proxy(profiles(tmp_path, text))
    config = tmp_path / "config.yaml"
    config.write_text(exported.text, encoding="utf-8")
    back = import_litellm_proxy(config).data["profiles"]
    assert (back["fast"]["description"], back["quality"]["description"]) == (
        "cheap: #1",
        "the good one",
    )


def test_a_nested_group_with_its_own_fallback_on_is_reported_in_the_outer_group(
    tmp_path: Path,
) -> None:
    text = SINGLES + (
        '\n[profiles.inner]\nmembers = ["strong", "fast"]\nfallback_on = ["rate_limit"]\n'
        '\n[profiles.outer]\nmembers = ["inner", "fast"]\n'
    )
    notes = export_litellm_proxy(profiles(tmp_path, text)).notes
    assert "profiles.outer.members" in [n.key for n in notes]


def test_an_openai_compatible_profile_without_a_key_variable_is_reported(tmp_path: Path) -> None:
    text = (
        f'[profiles.x]\nprovider = "openai_compatible"\nchat_model = "m"\nbase_url = "{GATEWAY}"\n'
    )
    (note,) = export_litellm_proxy(profiles(tmp_path, text)).notes
    assert (note.key, note.reason) == (
        "profiles.x.api_key_env",
        "not set: the app reads OPENAI_COMPATIBLE_API_KEY, the proxy OPENAI_API_KEY",
    )
