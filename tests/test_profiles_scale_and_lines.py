"""Profiles at scale (shared members resolve once), re-reading a loaded file, and the line
of a key at fault inside sub-tables."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmport import ConfigurationError, FallbackLLM, get_llm, load_profiles
from llmport._profile_check import Checker
from llmport.profiles import MAX_GROUP_DEPTH, Profiles

PROFILE_COUNT = 200


def shared_members_file(path: Path) -> Path:
    """200 profiles: two providers, then groups whose members are the two before them.

    Every group shares its members with the next one, so the number of member paths
    grows like Fibonacci numbers (about 10**41 at the top): only work linear in the file
    finishes.
    """
    lines = []
    for name in ("p0", "p1"):
        lines += [f"[profiles.{name}]", 'provider = "fake"', f'chat_model = "{name}"', ""]
    for index in range(2, PROFILE_COUNT):
        previous = f"p{index - 1}", f"p{index - 2}"
        lines += [f"[profiles.p{index}]", f"members = {list(previous)!r}".replace("'", '"'), ""]
    path.write_text("\n".join(lines))
    return path


def counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Count the calls of `owner.name` (a method), keeping its behaviour."""
    counter = [0]
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return counter


def test_loading_visits_each_profile_once_however_many_groups_share_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    visits = counting(monkeypatch, Checker, "_visit")
    profiles = load_profiles(shared_members_file(tmp_path / "big.toml"))
    members = sum(len(p.members) for p in profiles.values())
    assert len(profiles) == PROFILE_COUNT
    assert visits[0] <= len(profiles) + members  # a visit per profile and per member edge


def test_building_resolves_each_profile_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_profiles(shared_members_file(tmp_path / "big.toml"))
    resolutions = counting(monkeypatch, Profiles, "_resolve")
    top = get_llm(f"p{PROFILE_COUNT - 1}")
    assert isinstance(top, FallbackLLM)
    members = 2 * (PROFILE_COUNT - 2)
    assert resolutions[0] <= PROFILE_COUNT + members


def test_shared_members_are_one_instance(tmp_path: Path) -> None:
    load_profiles(shared_members_file(tmp_path / "big.toml"))
    top = get_llm("p5")
    assert isinstance(top, FallbackLLM)
    first, second = top.members  # p4 and p3; p4's own first member is p3 again
    assert isinstance(first, FallbackLLM)
    assert first.members[0] is second


def test_a_cycle_deep_in_a_big_file_is_still_reported(tmp_path: Path) -> None:
    path = shared_members_file(tmp_path / "big.toml")
    path.write_text(path.read_text().replace('members = ["p2", "p1"]', 'members = ["p2", "p150"]'))
    with pytest.raises(ConfigurationError, match="members form a cycle"):
        load_profiles(path)


# --- a loaded file is read again when it changes ----------------------------------------

ONE = '[profiles.fast]\nprovider = "fake"\nchat_model = "fast-model"\n'


def test_a_file_given_to_load_profiles_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(ONE)
    load_profiles(path)
    assert get_llm("fast").model == "fast-model"
    path.write_text(ONE.replace("fast-model", "faster-model") + "\n")
    assert get_llm("fast").model == "faster-model"


def test_a_change_with_the_same_size_is_noticed_by_its_time(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(ONE)
    load_profiles(path)
    assert get_llm("fast").model == "fast-model"
    path.write_text(ONE.replace("fast-model", "slow-model"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert get_llm("fast").model == "slow-model"


def test_an_edit_within_the_same_modification_time_is_noticed(tmp_path: Path) -> None:
    """A file system with coarse times: same size, same mtime, but a new change time."""
    path = tmp_path / "llmport.toml"
    path.write_text(ONE)
    before = path.stat()
    load_profiles(path)
    path.write_text(ONE.replace("fast-model", "slow-model"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert get_llm("fast").model == "slow-model"


def test_a_file_replaced_by_another_with_the_same_time_and_size_is_noticed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(ONE)
    before = path.stat()
    load_profiles(path)
    fresh = tmp_path / "new.toml"
    fresh.write_text(ONE.replace("fast-model", "slow-model"))
    os.utime(fresh, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(fresh, path)
    assert get_llm("fast").model == "slow-model"


def test_a_loaded_file_replaced_by_a_directory_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(ONE)
    load_profiles(path)
    path.unlink()
    path.mkdir()
    with pytest.raises(ConfigurationError, match="cannot read the profiles file"):
        get_llm("fast")


def test_an_unchanged_loaded_file_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(ONE)
    load_profiles(path)
    reads = counting(monkeypatch, Path, "read_text")
    for _ in range(3):
        get_llm("fast")
    assert reads[0] == 0


def test_a_loaded_file_that_becomes_invalid_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(ONE)
    load_profiles(path)
    path.write_text(ONE + "temprature = 1\n")
    with pytest.raises(ConfigurationError, match="temprature"):
        get_llm("fast")


# --- the line of the key at fault ---------------------------------------------------------


def fails_at(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as info:
        load_profiles(path)
    return str(info.value).removeprefix(str(path))


def test_an_error_in_a_sub_table_names_the_line_of_its_key(tmp_path: Path) -> None:
    text = (
        '[profiles.a]\nprovider = "fake"\n\n[profiles.a.retry]\ndeadline = 30\nmax_attempts = 0\n'
    )
    assert fails_at(tmp_path, text).startswith(":6: profiles.a.retry.max_attempts:")


def test_an_error_in_a_dotted_key_names_its_line(tmp_path: Path) -> None:
    text = '[profiles.a]\nprovider = "fake"\nretry.deadline = 30\nretry.max_attempts = 0\n'
    assert fails_at(tmp_path, text).startswith(":4: profiles.a.retry.max_attempts:")


def test_an_error_in_an_inline_table_names_its_line(tmp_path: Path) -> None:
    text = '[profiles.a]\nprovider = "fake"\n\nretry = { max_attempts = 0 }\n'
    assert fails_at(tmp_path, text).startswith(":4: profiles.a.retry.max_attempts:")


def test_a_quoted_profile_name_with_a_dot_is_found(tmp_path: Path) -> None:
    text = '[profiles."gpt.mini"]\nprovider = "fake"\ntemprature = 1\n'
    assert fails_at(tmp_path, text).startswith(":3: profiles.gpt.mini.temprature:")


def test_a_key_written_inside_a_multi_line_string_is_not_taken_for_a_key(tmp_path: Path) -> None:
    text = (
        '[profiles.a]\nprovider = "fake"\ndescription = """\n[profiles.a.retry]\n'
        'max_attempts = 5\n"""\nretry.max_attempts = 0\n'
    )
    assert fails_at(tmp_path, text).startswith(":7: profiles.a.retry.max_attempts:")


PADDING = ["", "# a comment", '# a comment with """ in it', "deadline = 30", "jitter = false"]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(
    padding=st.lists(st.sampled_from(PADDING), max_size=6).filter(
        lambda lines: (
            len({line for line in lines if "=" in line and "#" not in line})
            == len([line for line in lines if "=" in line and "#" not in line])
        )
    ),
    bad=st.sampled_from(["max_attempts = 0", "initial_backoff = -2", "multiplier = 0.5"]),
)
def test_the_reported_line_is_the_line_of_the_bad_key(
    tmp_path: Path, padding: list[str], bad: str
) -> None:
    lines = ["[profiles.a]", 'provider = "fake"', "", "[profiles.a.retry]", *padding, bad]
    reported = fails_at(tmp_path, "\n".join(lines) + "\n")
    assert reported.startswith(f":{len(lines)}: profiles.a.retry.{bad.split(' ')[0]}:")


@pytest.mark.parametrize(
    "value",
    [
        '"""it\'s \'\'\' here"""',  # the other quote style, three times, inside a string
        '"""a \\""" b"""',  # an escaped quote run inside a basic multi-line string
        "'''a \"\"\" b'''",
        '"a \\" # not a comment"',
        '"""\none\n"""',
        "'''\ntwo\n'''",
    ],
)
def test_a_string_holding_quotes_does_not_hide_the_keys_after_it(
    tmp_path: Path, value: str
) -> None:
    lines = ["[profiles.a]", 'provider = "fake"', f"description = {value}", "temprature = 1"]
    text = "\n".join(lines) + "\n"
    line = text.count("\n")
    assert fails_at(tmp_path, text).startswith(f":{line}: profiles.a.temprature:")


# --- how deep groups nest ---------------------------------------------------------------


def chain_file(path: Path, depth: int) -> Path:
    """A provider profile, then `depth - 1` groups each holding the one before."""
    lines = ["[profiles.p0]", 'provider = "fake"', 'chat_model = "m"', ""]
    for index in range(1, depth):
        lines += [f"[profiles.p{index}]", f'members = ["p{index - 1}"]', ""]
    path.write_text("\n".join(lines))
    return path


def test_groups_nested_beyond_the_limit_are_reported_not_a_recursion_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigurationError, match=r"p200\.members: groups nest 201 deep"):
        load_profiles(chain_file(tmp_path / "deep.toml", 3000))


def test_groups_nested_to_the_limit_load_and_answer_in_every_mode(tmp_path: Path) -> None:
    load_profiles(chain_file(tmp_path / "limit.toml", MAX_GROUP_DEPTH))
    llm = get_llm(f"p{MAX_GROUP_DEPTH - 1}")
    messages = [{"role": "user", "content": "hi"}]
    assert llm.chat_completions(messages).ok
    assert asyncio.run(llm.achat_completions(messages)).ok
    assert llm.stream(messages).response.ok


def test_a_long_cycle_is_reported_in_a_short_message(tmp_path: Path) -> None:
    path = chain_file(tmp_path / "loop.toml", 150)
    path.write_text(path.read_text().replace('members = ["p0"]', 'members = ["p149"]'))
    with pytest.raises(ConfigurationError, match="members form a cycle") as info:
        load_profiles(path)
    assert "p1 -> p149 -> p148 -> p147 -> ... (142 more) -> " in str(info.value)
    assert len(str(info.value)) < 300


def test_a_name_that_differs_only_in_unicode_normalisation_is_pointed_out(
    tmp_path: Path,
) -> None:
    decomposed, composed = "cafe\u0301", "caf\u00e9"
    text = f'[profiles."{decomposed}"]\nprovider = "fake"\n[profiles.g]\nmembers = ["{composed}"]\n'
    message = fails_at(tmp_path, text)
    assert "'caf\\xe9'" in message
    assert "'cafe\\u0301'" in message
    assert "Unicode normalisation" in message
