"""A LiteLLM proxy config to profiles: keys, shared names, fallbacks, and what is reported."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmport import ConfigurationError, ErrorKind
from llmport.interop import Note, import_litellm_proxy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

GATEWAY = "http://127.0.0.1:9/v1"


def imported(tmp_path: Path, config: dict[str, Any]) -> tuple[dict[str, Any], list[Note]]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = import_litellm_proxy(path)
    assert tomllib.loads(result.text) == result.data  # the text says what the data says
    return result.data["profiles"], list(result.notes)


def deployment(name: str, model: str, **params: Any) -> dict[str, Any]:
    return {"model_name": name, "litellm_params": {"model": model, **params}}


def test_an_environment_reference_becomes_api_key_env(tmp_path: Path) -> None:
    config = {"model_list": [deployment("fast", "openai/small", api_key="os.environ/GW_KEY")]}
    profiles, notes = imported(tmp_path, config)
    assert profiles == {
        "fast": {"provider": "litellm", "chat_model": "openai/small", "api_key_env": "GW_KEY"}
    }
    assert notes == []


def test_call_settings_are_kept_and_other_params_become_extra_params(tmp_path: Path) -> None:
    params = {"api_base": GATEWAY, "temperature": 0.5, "max_tokens": 9, "stop": ["x"]}
    profiles, _ = imported(tmp_path, {"model_list": [deployment("m", "openai/m", **params)]})
    assert profiles["m"] == {
        "provider": "litellm",
        "chat_model": "openai/m",
        "api_base": GATEWAY,
        "temperature": 0.5,
        "max_tokens": 9,
        "extra_params": {"stop": ["x"]},
    }


def test_deployments_sharing_a_model_name_become_a_group(tmp_path: Path) -> None:
    config = {"model_list": [deployment("chat", "openai/a"), deployment("chat", "openai/b")]}
    profiles, _ = imported(tmp_path, config)
    assert profiles["chat"] == {"members": ["chat-1", "chat-2"]}
    assert profiles["chat-1"]["chat_model"] == "openai/a"
    assert profiles["chat-2"]["chat_model"] == "openai/b"


def test_fallbacks_become_a_group_that_falls_back_on_every_error(tmp_path: Path) -> None:
    config = {
        "model_list": [deployment("main", "openai/a"), deployment("backup", "openai/b")],
        "router_settings": {"fallbacks": [{"main": ["backup"]}]},
    }
    profiles, _ = imported(tmp_path, config)
    assert profiles["main"]["members"] == ["main-1", "backup"]
    # Every kind a proxy answers with (budgets are checked by llmport, in the client).
    proxy_kinds = set(ErrorKind) - {ErrorKind.BUDGET, ErrorKind.BUDGET_UNAVAILABLE}
    assert profiles["main"]["fallback_on"] == sorted(kind.value for kind in proxy_kinds)
    assert profiles["main-1"]["chat_model"] == "openai/a"


def test_without_its_own_context_window_list_a_group_does_not_fall_back_on_it(
    tmp_path: Path,
) -> None:
    config = {
        "model_list": [deployment(n, f"openai/{n}") for n in ("a", "b", "c")],
        "litellm_settings": {
            "fallbacks": [{"a": ["c"]}, {"b": ["c"]}],
            "context_window_fallbacks": [{"a": ["c"]}],
        },
    }
    profiles, _ = imported(tmp_path, config)
    assert "context_length" in profiles["a"]["fallback_on"]
    assert "context_length" not in profiles["b"]["fallback_on"]


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("router_settings", "routing_strategy", "usage-based-routing-v2"),
        ("router_settings", "redis_host", "127.0.0.1"),
        ("litellm_settings", "callbacks", ["prometheus"]),
        ("litellm_settings", "max_budget", 10),
        ("general_settings", "master_key", "os.environ/PROXY_KEY"),
    ],
)
def test_a_proxy_setting_is_reported_by_file_and_key(
    tmp_path: Path, section: str, key: str, value: Any
) -> None:
    config = {"model_list": [deployment("m", "openai/m")], section: {key: value}}
    _, notes = imported(tmp_path, config)
    assert [(n.file, n.key) for n in notes] == [(str(tmp_path / "config.yaml"), f"{section}.{key}")]
    assert notes[0].reason


@pytest.mark.parametrize(
    ("param", "value"),
    [("rpm", 100), ("max_budget", 5.0), ("order", 1), ("api_base", "os.environ/BASE")],
)
def test_a_deployment_param_with_no_profile_equivalent_is_reported(
    tmp_path: Path, param: str, value: Any
) -> None:
    config = {"model_list": [deployment("m", "openai/m", **{param: value})]}
    profiles, notes = imported(tmp_path, config)
    assert [n.key for n in notes] == [f"model_list[0].litellm_params.{param}"]
    assert param not in profiles["m"]
    assert "extra_params" not in profiles["m"]


def test_a_literal_key_is_reported_and_not_written(tmp_path: Path) -> None:
    config = {"model_list": [deployment("m", "openai/m", api_key="sk-literal-123456")]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = import_litellm_proxy(path)
    assert [n.key for n in result.notes] == ["model_list[0].litellm_params.api_key"]
    assert "sk-literal-123456" not in result.text


def test_a_wildcard_model_name_is_reported(tmp_path: Path) -> None:
    config = {"model_list": [deployment("m", "openai/m"), deployment("gw/*", "openai/*")]}
    profiles, notes = imported(tmp_path, config)
    assert list(profiles) == ["m"]
    assert [n.key for n in notes] == ["model_list[1]"]


def test_the_text_names_what_was_not_carried_over(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    config = {"model_list": [deployment("m", "openai/m")], "router_settings": {"tpm": 5}}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert "#   router_settings.tpm: " in import_litellm_proxy(path).text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model_list: []\n", "model_list: must be a non-empty list"),
        ("- a\n", "file: must be a mapping"),
        ("model_list: [{litellm_params: {model: m}}]\n", r"model_list\[0\]: must be a mapping"),
        ("model_list: [\n", "invalid YAML"),
    ],
)
def test_a_file_that_is_not_a_proxy_config_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        import_litellm_proxy(path)


def test_a_fallback_to_an_unknown_model_is_reported_and_left_out(tmp_path: Path) -> None:
    config = {
        "model_list": [deployment("a", "openai/a"), deployment("b", "openai/b")],
        "router_settings": {"fallbacks": [{"a": ["nowhere", "b"]}]},
    }
    profiles, notes = imported(tmp_path, config)
    assert profiles["a"]["members"] == ["a-1", "b"]
    assert [(n.key, n.reason) for n in notes] == [
        ("router_settings.fallbacks[0].a", "falls back to 'nowhere', no deployment of model_list")
    ]


def test_an_exported_group_whose_fallbacks_were_edited_is_read_from_the_fallbacks(
    tmp_path: Path,
) -> None:
    marker = {"llmport": {"members": ["a", "b"]}}
    config = {
        "model_list": [
            deployment("a", "openai/a"),
            deployment("b", "openai/b"),
            deployment("c", "openai/c"),
            {**deployment("g", "openai/a"), "model_info": marker},
        ],
        "router_settings": {"fallbacks": [{"g": ["c"]}]},  # was [b] when exported
    }
    profiles, notes = imported(tmp_path, config)
    assert profiles["g"]["members"] == ["g-1", "c"]
    assert [n.key for n in notes] == ["model_list[3].model_info.llmport.members"]


def test_other_model_info_is_reported(tmp_path: Path) -> None:
    config = {"model_list": [{**deployment("m", "openai/m"), "model_info": {"id": "x"}}]}
    _, notes = imported(tmp_path, config)
    assert [n.key for n in notes] == ["model_list[0].model_info.id"]


def test_a_member_name_never_takes_the_name_of_another_deployment(tmp_path: Path) -> None:
    config = {
        "model_list": [
            deployment("chat", "openai/a"),
            deployment("chat", "anthropic/b"),
            deployment("chat-1", "openai/c"),
        ]
    }
    profiles, _ = imported(tmp_path, config)
    assert profiles["chat-1"]["chat_model"] == "openai/c"
    members = profiles["chat"]["members"]
    assert [profiles[m]["chat_model"] for m in members] == ["openai/a", "anthropic/b"]


def test_a_context_window_list_alone_makes_a_group_falling_back_on_context_length(
    tmp_path: Path,
) -> None:
    config = {
        "model_list": [deployment("a", "openai/a"), deployment("b", "openai/b")],
        "litellm_settings": {"context_window_fallbacks": [{"a": ["b"]}]},
    }
    profiles, notes = imported(tmp_path, config)
    assert profiles["a"] == {"members": ["a-1", "b"], "fallback_on": ["context_length"]}
    assert notes == []


def test_fallbacks_of_a_model_not_in_the_model_list_are_reported(tmp_path: Path) -> None:
    config = {
        "model_list": [deployment("a", "openai/a")],
        "router_settings": {"fallbacks": [{"ghost": ["a"]}]},
    }
    profiles, notes = imported(tmp_path, config)
    assert list(profiles) == ["a"]
    assert [n.key for n in notes] == ["router_settings.fallbacks[0].ghost"]


def test_models_falling_back_on_each_other_try_each_deployment_once(tmp_path: Path) -> None:
    config = {
        "model_list": [deployment(n, f"openai/{n}") for n in ("a", "b", "c")],
        "router_settings": {"fallbacks": [{"a": ["b"]}, {"b": ["c", "a"]}]},
    }
    profiles, notes = imported(tmp_path, config)
    assert profiles["a"]["members"] == ["a-1", "b-1", "c"]
    assert profiles["b"]["members"] == ["b-1", "c", "a-1"]
    assert [n.key for n in notes] == [
        "router_settings.fallbacks[0].a",
        "router_settings.fallbacks[1].b",
    ]


def test_included_files_add_their_deployments_as_the_proxy_reads_them(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "more.yaml").write_text(
        yaml.safe_dump({"model_list": [deployment("b", "openai/b")]}), encoding="utf-8"
    )
    config = {
        "include": ["models/more.yaml"],
        "model_list": [deployment("a", "openai/a")],
        "router_settings": {"fallbacks": [{"a": ["b"]}]},
    }
    profiles, notes = imported(tmp_path, config)
    assert profiles["a"]["members"] == ["a-1", "b"]
    assert profiles["b"]["chat_model"] == "openai/b"
    assert notes == []


def test_a_missing_included_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"include": ["nowhere.yaml"]}), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"nowhere\.yaml: cannot read"):
        import_litellm_proxy(path)


def test_a_model_read_from_the_environment_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    config = {"model_list": [deployment("m", "os.environ/MODEL")]}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"litellm_params\.model: .*environment"):
        import_litellm_proxy(path)
