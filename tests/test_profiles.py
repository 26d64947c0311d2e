"""Named profiles from a TOML file: building, groups, api_key_env, and precise errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from llmport import (
    ConfigurationError,
    ErrorKind,
    FallbackLLM,
    OpenAICompatible,
    get_default_llm,
    get_llm,
    load_profiles,
)
from llmport.testing import FakeLLM

PROFILES = """\
default = "quality"

[profiles.fast]
provider = "fake"
chat_model = "fast-model"
temperature = 0.2

[profiles.strong-a]
provider = "fake"
chat_model = "strong-a"
retry = { max_attempts = 5 }

[profiles.strong-b]
provider = "openai_compatible"
chat_model = "strong-b"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "STRONG_B_KEY"

[profiles.quality]
members = ["strong-a", "strong-b", "fast"]
fallback_on = ["rate_limit", "server"]
"""


@pytest.fixture
def profiles_file(tmp_path: Path) -> Path:
    path = tmp_path / "llmport.toml"
    path.write_text(PROFILES)
    return path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


def test_profile_builds_its_provider_with_its_settings(profiles_file: Path) -> None:
    load_profiles(profiles_file)
    llm = get_llm("fast")
    assert isinstance(llm, FakeLLM)
    assert (llm.model, llm.config.temperature) == ("fast-model", 0.2)


def test_nested_tables_configure_the_retry_policy(profiles_file: Path) -> None:
    load_profiles(profiles_file)
    assert get_llm("strong-a").config.retry.max_attempts == 5


def test_llmport_config_env_var_selects_the_file(
    profiles_file: Path, llm_env: Callable[..., None]
) -> None:
    llm_env(LLMPORT_CONFIG=str(profiles_file), STRONG_B_KEY="sk-b-123456")
    assert get_llm("fast").model == "fast-model"


def test_group_profile_builds_a_fallback_llm(
    profiles_file: Path, llm_env: Callable[..., None]
) -> None:
    llm_env(LLMPORT_CONFIG=str(profiles_file), STRONG_B_KEY="sk-b-123456")
    group = get_llm("quality")
    assert isinstance(group, FallbackLLM)
    assert [m.model for m in group.members] == ["strong-a", "strong-b", "fast-model"]
    assert group.fallback_on == {ErrorKind.RATE_LIMIT, ErrorKind.SERVER}


def test_default_key_and_default_llm_env_pick_a_profile(
    profiles_file: Path, llm_env: Callable[..., None]
) -> None:
    llm_env(LLMPORT_CONFIG=str(profiles_file), STRONG_B_KEY="sk-b-123456")
    assert isinstance(get_default_llm(), FallbackLLM)
    llm_env(DEFAULT_LLM="fast")
    assert get_default_llm().model == "fast-model"


def test_profiles_are_cached_like_providers(
    profiles_file: Path, llm_env: Callable[..., None]
) -> None:
    llm_env(LLMPORT_CONFIG=str(profiles_file), STRONG_B_KEY="sk-b-123456")
    assert get_llm("quality") is get_llm("quality")
    assert get_llm("fast") is get_llm("quality").members[2]  # type: ignore[attr-defined]


def test_api_key_env_is_read_when_built(profiles_file: Path, llm_env: Callable[..., None]) -> None:
    llm_env(STRONG_B_KEY="sk-b-123456")
    load_profiles(profiles_file)
    llm = get_llm("strong-b")
    assert isinstance(llm, OpenAICompatible)
    assert llm.config.api_key is not None
    assert llm.config.api_key.get_secret_value() == "sk-b-123456"


def test_unset_api_key_env_names_the_variable_and_file(profiles_file: Path) -> None:
    load_profiles(profiles_file)
    with pytest.raises(ConfigurationError, match="STRONG_B_KEY") as info:
        get_llm("strong-b")
    assert str(profiles_file) in str(info.value)


def test_call_settings_override_a_profile(profiles_file: Path) -> None:
    load_profiles(profiles_file)
    assert get_llm("fast", temperature=0.9).config.temperature == 0.9


def test_settings_cannot_be_passed_to_a_group(profiles_file: Path) -> None:
    load_profiles(profiles_file)
    with pytest.raises(ConfigurationError, match="is a group"):
        get_llm("quality", temperature=0.1)


def test_provider_names_still_work_with_profiles_loaded(profiles_file: Path) -> None:
    load_profiles(profiles_file)
    assert isinstance(get_llm("fake"), FakeLLM)


def test_an_unknown_name_with_profiles_loaded_lists_them_and_the_close_one(
    profiles_file: Path,
) -> None:
    load_profiles(profiles_file)
    with pytest.raises(ConfigurationError) as info:
        get_llm("qualty")
    message = str(info.value)
    assert "did you mean 'quality'?" in message
    assert f"profiles in {profiles_file}: fast, quality, strong-a, strong-b" in message
    assert "providers: fake," in message


def test_missing_llmport_config_file_names_the_variable(
    tmp_path: Path, llm_env: Callable[..., None]
) -> None:
    llm_env(LLMPORT_CONFIG=str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigurationError, match="LLMPORT_CONFIG"):
        get_llm("fast")


def test_changed_file_is_read_again(profiles_file: Path, llm_env: Callable[..., None]) -> None:
    llm_env(LLMPORT_CONFIG=str(profiles_file))
    assert get_llm("fast").model == "fast-model"
    profiles_file.write_text(PROFILES.replace("fast-model", "faster-model") + "\n")
    assert get_llm("fast").model == "faster-model"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[profiles.fast\nprovider = 'fake'\n", "invalid TOML"),
        ("[profiles.fast]\nprovider = 'fakee'\n", ":2: profiles.fast.provider: unknown LLM"),
        (
            "[profiles.fast]\nprovider = 'fake'\ntemprature = 0.2\n",
            ":3: profiles.fast.temprature: fake has no setting 'temprature' "
            "(did you mean 'temperature'?)",
        ),
        (
            "[profiles.fast]\nprovider = 'fake'\n\ntemperature = 5\n",
            ":4: profiles.fast.temperature: Input should be less than or equal to 2",
        ),
        ("[profiles.fast]\nchat_model = 'x'\n", ":1: profiles.fast: missing 'provider'"),
        (
            "[profiles.q]\nmembers = ['fast']\n",
            ":2: profiles.q.members: unknown member profile 'fast'",
        ),
        (
            "[profiles.a]\nmembers = ['b']\n[profiles.b]\nmembers = ['a']\n",
            "profiles.a.members: members form a cycle: a -> b -> a",
        ),
        (
            "[profiles.q]\nmembers = ['q2']\nfallback_on = ['rate_limits']\n"
            "[profiles.q2]\nprovider = 'fake'\n",
            ":3: profiles.q.fallback_on: unknown error kind 'rate_limits'",
        ),
        (
            "[profiles.f]\nprovider = 'fake'\napi_key = 'k'\napi_key_env = 'K'\n",
            ":3: profiles.f.api_key: set either api_key or api_key_env",
        ),
        ("default = 'nope'\n[profiles.f]\nprovider = 'fake'\n", "default: must name one"),
        ("title = 'x'\n", "title: unknown top-level key"),
        ("default = 'x'\n", "profiles: no profiles"),
    ],
)
def test_invalid_files_name_the_file_the_place_and_the_reason(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as info:
        load_profiles(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert expected in message


def test_invalid_toml_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[profiles.fast]\nprovider = 'fake'\nchat_model = \n")
    with pytest.raises(ConfigurationError, match="line 3"):
        load_profiles(path)


def test_the_documented_llmport_toml_is_valid(tmp_path: Path, llm_env: Callable[..., None]) -> None:
    page = Path(__file__).resolve().parents[1] / "docs" / "resilience.md"
    text = page.read_text().split("```toml\n", 1)[1].split("```", 1)[0]
    llm_env(OPENAI_API_KEY="sk-doc-000000", ANTHROPIC_API_KEY="sk-doc-111111")
    profiles = load_profiles(write(tmp_path, text))
    assert profiles.default == "quality"
    group = get_llm("quality")
    assert isinstance(group, FallbackLLM)
    assert [m.model for m in group.members] == [
        "openai/gpt-4o",
        "anthropic/claude-sonnet-4-5",
        "gpt-4o-mini",
    ]
