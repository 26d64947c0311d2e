"""Export to a LiteLLM proxy config, then import: the same profiles come back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmport.errors import ErrorKind
from llmport.interop import export_litellm_proxy, import_litellm_proxy, read_profiles
from llmport.interop._toml_write import profiles_toml

#: Strings YAML 1.1 would read as something else unless quoted, and other traps.
RETYPED = st.sampled_from(
    [
        *("yes", "No", "on", "null", "~", "true", "1.0", "0x10", "0o17", "1e3", ".inf", "-.nan"),
        *("2024-01-01", "2001-12-14t21:59:43.10-05:00", "12:30:00", "<<", "=", ":", "#", "- x"),
        *(" lead", "trail ", "a: b", "[x]", "{y}", "&a", "!t", "%p", "@", "'q'", '"dq"', "a\nb"),
    ]
)
TEXT = st.one_of(
    RETYPED, st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
)
NAMES = st.one_of(
    RETYPED,
    st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="*"),
        min_size=1,
        max_size=10,
    ),
    st.text(st.sampled_from("ab-_é✓ "), min_size=200, max_size=300),
)
VARIABLES = st.from_regex(r"[A-Z][A-Z0-9_]{0,12}", fullmatch=True)
FLOATS = st.floats(min_value=0, max_value=1, allow_nan=False)
EXTRA = st.dictionaries(
    st.sampled_from(["stop", "top_k", "user", "presence_penalty", "logprobs"]),
    st.one_of(st.integers(), st.booleans(), TEXT, st.lists(TEXT, max_size=3)),
    max_size=3,
)
HEADERS = st.dictionaries(st.sampled_from(["X-Team", "X-Trace"]), TEXT, max_size=2)
KINDS = st.lists(st.sampled_from([kind.value for kind in ErrorKind]), unique=True)


@st.composite
def single(draw: st.DrawFn) -> dict[str, Any]:
    provider = draw(st.sampled_from(["litellm", "openai_compatible"]))
    table: dict[str, Any] = {"provider": provider, "chat_model": draw(TEXT.filter(bool))}
    if provider == "openai_compatible":
        table["base_url"] = "http://127.0.0.1:9/" + draw(
            st.from_regex(r"[a-z0-9]*", fullmatch=True)
        )
    optional: dict[str, st.SearchStrategy[Any]] = {
        "api_key_env": VARIABLES,
        "description": TEXT,
        "temperature": st.floats(min_value=0, max_value=2, allow_nan=False),
        "top_p": FLOATS,
        "max_tokens": st.integers(min_value=1, max_value=10**6),
        "seed": st.integers(min_value=-(2**31), max_value=2**31),
        "timeout": st.floats(min_value=0.5, max_value=600, allow_nan=False),
        "total_timeout": st.floats(min_value=0.5, max_value=600, allow_nan=False),
        "input_cost_per_token": FLOATS,
        "cached_input_cost_per_token": FLOATS,
        "extra_params": EXTRA,
        "extra_headers": HEADERS,
        "retry": st.fixed_dictionaries({}, optional={"max_attempts": st.integers(1, 20)}),
    }
    if provider == "litellm":
        optional |= {
            "api_base": st.just("http://127.0.0.1:8/v1"),
            "drop_params": st.booleans(),
            "disable_streaming_logging": st.booleans(),
        }
    else:
        optional |= {"max_connections": st.integers(1, 500)}
    for key, values in optional.items():
        if draw(st.booleans()):
            table[key] = draw(values)
    return table


@st.composite
def profiles_files(draw: st.DrawFn) -> dict[str, Any]:
    """A valid profiles file: singles, then groups over profiles defined before them."""
    names = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
    groups = draw(st.integers(0, len(names) - 1))
    profiles: dict[str, Any] = {}
    for index, name in enumerate(names):
        if index < len(names) - groups:
            profiles[name] = draw(single())
            continue
        earlier = list(profiles)
        table: dict[str, Any] = {
            "members": draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=4))
        }
        if draw(st.booleans()):
            table["fallback_on"] = draw(KINDS)
        if draw(st.booleans()):
            table["description"] = draw(TEXT)
        profiles[name] = table
    data: dict[str, Any] = {"profiles": profiles}
    if draw(st.booleans()):
        data["default"] = draw(st.sampled_from(names))
    return data


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=profiles_files())
def test_export_then_import_gives_back_the_same_profiles_and_reports_nothing(
    tmp_path: Path, data: dict[str, Any]
) -> None:
    original = tmp_path / "llmport.toml"
    original.write_text(profiles_toml(data, []), encoding="utf-8")
    before = read_profiles(original)
    config = tmp_path / "config.yaml"
    config.write_text(export_litellm_proxy(before).text, encoding="utf-8")
    imported = import_litellm_proxy(config)
    back = tmp_path / "back.toml"
    back.write_text(imported.text, encoding="utf-8")
    after = read_profiles(back)
    assert dict(after) == dict(before)
    assert after.default == before.default
    assert imported.notes == ()
    described = {name: table.get("description") for name, table in data["profiles"].items()}
    back_described = {name: t.get("description") for name, t in imported.data["profiles"].items()}
    assert back_described == described
