"""Provider selection: DEFAULT_LLM, detection rule, close-match hints, entry points."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_settings import SettingsConfigDict

import llmport._provider_table as registry
from llmport import (
    BaseLLM,
    BaseLLMConfig,
    ChatRequest,
    ConfigurationError,
    LiteLLM,
    available_providers,
    get_default_llm,
    get_llm,
    register_provider,
)
from llmport.testing import FakeLLM


class TinyConfig(BaseLLMConfig):
    model_config = SettingsConfigDict(env_prefix="TINY_")
    chat_model: str = "tiny-1"


class TinyLLM(BaseLLM):
    provider_name = "tiny"
    config_class = TinyConfig

    def _complete(self, request: ChatRequest) -> Any:
        return {"choices": [{"message": {"content": "tiny"}, "finish_reason": "stop"}]}


@pytest.fixture(autouse=True)
def _restore_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_providers", dict(registry._providers))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)


def test_default_llm_fake_needs_no_keys(llm_env: Callable[..., None]) -> None:
    llm_env(DEFAULT_LLM="fake")
    llm = get_default_llm()
    assert isinstance(llm, FakeLLM)
    assert llm.chat_completions([{"role": "user", "content": "x"}]).ok


def test_default_llm_litellm_does_not_import_litellm(llm_env: Callable[..., None]) -> None:
    llm_env(DEFAULT_LLM="litellm", LITELLM_CHAT_MODEL="openai/gpt-4o-mini")
    was_loaded = "litellm" in sys.modules
    assert isinstance(get_default_llm(), LiteLLM)
    assert ("litellm" in sys.modules) == was_loaded


def test_explicit_default_llm_wins_over_detection(llm_env: Callable[..., None]) -> None:
    llm_env(DEFAULT_LLM="fake", LITELLM_CHAT_MODEL="openai/gpt-4o-mini")
    assert isinstance(get_default_llm(), FakeLLM)


def test_litellm_chat_model_selects_litellm_when_default_unset(
    llm_env: Callable[..., None],
) -> None:
    llm_env(LITELLM_CHAT_MODEL="openai/gpt-4o-mini")
    assert isinstance(get_default_llm(), LiteLLM)


def test_nothing_configured_says_what_to_set(llm_env: Callable[..., None]) -> None:
    llm_env()
    with pytest.raises(ConfigurationError, match="DEFAULT_LLM"):
        get_default_llm()


def test_unknown_provider_lists_known_and_close_match(llm_env: Callable[..., None]) -> None:
    llm_env(DEFAULT_LLM="litelm")
    with pytest.raises(ConfigurationError) as info:
        get_default_llm()
    message = str(info.value)
    assert "Did you mean 'litellm'?" in message
    assert "fake" in message


def test_missing_required_setting_names_env_var(llm_env: Callable[..., None]) -> None:
    llm_env(DEFAULT_LLM="litellm")
    with pytest.raises(ConfigurationError, match="LITELLM_CHAT_MODEL"):
        get_default_llm()


def test_explicit_settings_beat_environment(llm_env: Callable[..., None]) -> None:
    llm_env(LITELLM_CHAT_MODEL="env-model")
    assert get_llm("litellm", chat_model="arg-model").model == "arg-model"


def test_register_provider_and_get_llm() -> None:
    register_provider("tiny", TinyLLM)
    assert "tiny" in available_providers()
    assert get_llm("tiny").chat_completions([{"role": "user", "content": "x"}]).content == "tiny"


def test_register_provider_refuses_silent_replacement() -> None:
    register_provider("tiny", TinyLLM)
    with pytest.raises(ConfigurationError, match="already registered"):
        register_provider("tiny", FakeLLM)
    register_provider("tiny", FakeLLM, replace=True)
    assert isinstance(get_llm("tiny"), FakeLLM)


@given(st.from_regex(r"[a-z][a-z0-9]{0,8}(_[a-z0-9]{1,5})?", fullmatch=True))
def test_registering_the_same_class_again_is_a_no_op(name: str) -> None:
    saved = dict(registry._providers)
    try:
        register_provider(name, TinyLLM)
        register_provider(name.upper().replace("_", "-"), TinyLLM)  # the same name, spelt so
        assert registry._resolve(name) is TinyLLM
    finally:
        registry._providers = saved


def test_a_different_class_under_a_taken_name_names_the_registered_one() -> None:
    register_provider("tiny", TinyLLM)
    with pytest.raises(ConfigurationError, match=f"already registered as {__name__}:TinyLLM"):
        register_provider("tiny", FakeLLM)


SHOUT_PACKAGE = {
    "__init__.py": (
        "from llmport import register_provider\n"
        "from shoutpkg._impl import ShoutLLM\n"
        "register_provider('shout', ShoutLLM)  # at import, as well as the entry point\n"
    ),
    "_impl.py": (
        "from typing import Any\n"
        "from llmport import BaseLLM, ChatRequest\n"
        "class ShoutLLM(BaseLLM):\n"
        "    provider_name = 'shout'\n"
        "    def _complete(self, request: ChatRequest) -> Any:\n"
        "        return {'choices': [{'message': {'content': 'HI'}, 'finish_reason': 'stop'}]}\n"
    ),
}


@pytest.mark.parametrize("target", ["shoutpkg:ShoutLLM", "shoutpkg._impl:ShoutLLM"])
def test_an_entry_point_and_a_registration_at_import_agree(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "shoutpkg"
    package.mkdir()
    for name, text in SHOUT_PACKAGE.items():
        (package / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in ("shoutpkg", "shoutpkg._impl"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    point = EntryPoint(name="shout", value=target, group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [point])
    llm = get_llm("shout", chat_model="loud")
    assert llm.chat_completions([{"role": "user", "content": "hi"}]).content == "HI"


SELF_REGISTERING_PACKAGE = {
    "__init__.py": "from shoutpkg._impl import ShoutLLM\n",
    "_impl.py": SHOUT_PACKAGE["_impl.py"] + "register_provider('shout', ShoutLLM)\n",
}


@pytest.mark.parametrize("first", ["get_llm", "import"])
def test_a_module_registering_its_class_behind_a_package_entry_point_agrees(
    first: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The entry point names the package's re-export while the defining module registers
    # the class at import: the registration runs before the package has the attribute.
    package = tmp_path / "shoutpkg"
    package.mkdir()
    for name, text in SELF_REGISTERING_PACKAGE.items():
        (package / name).write_text(
            text.replace("import BaseLLM,", "import BaseLLM, register_provider,")
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in ("shoutpkg", "shoutpkg._impl"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    point = EntryPoint(name="shout", value="shoutpkg:ShoutLLM", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [point])
    assert "shout" in available_providers()
    if first == "import":
        __import__("shoutpkg")
    llm = get_llm("shout", chat_model="loud")
    assert llm.chat_completions([{"role": "user", "content": "hi"}]).content == "HI"


def test_a_class_from_another_package_under_an_entry_point_name_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point = EntryPoint(
        name="tiny", value="somewhere_else:TinyLLM", group=registry.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(registry, "entry_points", lambda group: [point])
    available_providers()
    with pytest.raises(ConfigurationError, match="already registered as somewhere_else:TinyLLM"):
        register_provider("tiny", TinyLLM)


def test_register_provider_rejects_non_providers() -> None:
    with pytest.raises(ConfigurationError, match="BaseLLM subclass"):
        register_provider("bad", dict)  # type: ignore[arg-type]


def test_entry_point_providers_are_found(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint(
        name="tiny-ep", value=f"{__name__}:TinyLLM", group=registry.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(registry, "entry_points", lambda group: [point])
    assert "tiny_ep" in available_providers()
    assert isinstance(get_llm("tiny-ep"), TinyLLM)


def test_broken_entry_point_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint(name="broken", value="no_such_module:X", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [point])
    with pytest.raises(ConfigurationError, match="could not be loaded"):
        get_llm("broken")
