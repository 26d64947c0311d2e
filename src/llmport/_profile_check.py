"""Reading a profiles file: TOML in, checked `Profile`s out, every problem with its line.

`read_profile_file(path)` parses the file and checks every table: known keys, the
provider's settings (validated by its config class), budgets, members that exist, no
cycle, groups no deeper than `MAX_GROUP_DEPTH`, a `default` that names a profile.
"""

from __future__ import annotations

import difflib
import os
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from llmport._toml_lines import key_lines
from llmport.budget import Budget
from llmport.errors import ConfigurationError, ErrorKind

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["MAX_GROUP_DEPTH", "Checker", "Profile", "hint", "read_profile_file"]

#: How deep groups may nest (a provider counts one): each level is a few stack frames
#: per call, and Python's stack holds about a thousand.
MAX_GROUP_DEPTH = 200

_PROFILE_KEYS = frozenset(
    {"provider", "api_key_env", "members", "fallback_on", "description", "budget"}
)
_TOP_LEVEL_KEYS = frozenset({"default", "profiles"})


@dataclass(frozen=True)
class Profile:
    """One named profile: a provider with settings, or a group of other profiles."""

    name: str
    provider: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    api_key_env: str | None = None
    members: tuple[str, ...] = ()
    fallback_on: frozenset[ErrorKind] | None = None
    #: One Budget per profile, built when the file is read, so every build shares it.
    budget: Budget | None = None

    @property
    def is_group(self) -> bool:
        """True for a fallback group."""
        return bool(self.members)


def read_profile_file(path: Path) -> tuple[dict[str, Profile], str | None]:
    """The checked profiles of the file at `path`, and its `default` (None if unset).

    Raises:
        ConfigurationError: naming the file, the line of the key at fault, and why.
    """
    text = read_text(path, "the profiles file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: invalid TOML: {exc}") from None
    return Checker(path, text).check(data)


def read_text(path: str | os.PathLike[str], what: str = "the file") -> str:
    """The text of a UTF-8 file.

    Raises:
        ConfigurationError: the file cannot be read, or is not UTF-8 text.
    """
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read {what}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded)"
        ) from None


class Checker:
    """Validates parsed TOML, reporting `file:line: key: reason`."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self._lines: dict[tuple[str, ...], int] | None = None

    def fail(self, reason: str, profile: str | None = None, key: str | None = None) -> NoReturn:
        dotted = ".".join(p for p in ("profiles" if profile else None, profile, key) if p)
        line = self._line_of(profile, key)
        where = f"{self.path}:{line}" if line else str(self.path)
        raise ConfigurationError(f"{where}: {dotted or 'file'}: {reason}")

    def check(self, data: dict[str, Any]) -> tuple[dict[str, Profile], str | None]:
        for key in data:
            if key not in _TOP_LEVEL_KEYS:
                self.fail(f"unknown top-level key{hint(key, _TOP_LEVEL_KEYS)}", key=key)
        tables = data.get("profiles")
        if not isinstance(tables, dict) or not tables:
            self.fail("no profiles: add at least one [profiles.<name>] table", key="profiles")
        profiles = {name: self.profile(name, table) for name, table in tables.items()}
        for profile in profiles.values():
            for member in profile.members:
                if member not in profiles:
                    reason = f"unknown member profile {member!r}{hint(member, profiles)}"
                    self.fail(reason, profile.name, "members")
        self.check_cycles(profiles)
        default = data.get("default")
        if default is not None and (not isinstance(default, str) or default not in profiles):
            self.fail(f"must name one of the profiles{hint(str(default), profiles)}", key="default")
        return profiles, default

    def profile(self, name: str, table: Any) -> Profile:
        if not isinstance(table, dict):
            self.fail("must be a table", name)
        if "members" in table:
            return self.group(name, table)
        provider = table.get("provider")
        if not isinstance(provider, str) or not provider:
            self.fail("missing 'provider' (a provider name) or 'members' (a group)", name)
        settings = {k: v for k, v in table.items() if k not in _PROFILE_KEYS}
        api_key_env = table.get("api_key_env")
        if api_key_env is not None and (not isinstance(api_key_env, str) or not api_key_env):
            self.fail("must be the name of an environment variable", name, "api_key_env")
        if api_key_env and "api_key" in settings:
            self.fail("set either api_key or api_key_env, not both", name, "api_key")
        for key in ("fallback_on",):
            if key in table:
                self.fail("only a group (with 'members') takes this key", name, key)
        self.check_settings(name, provider, settings)
        return Profile(name, provider, settings, api_key_env, budget=self.budget(name, table))

    def group(self, name: str, table: dict[str, Any]) -> Profile:
        members = table["members"]
        if not isinstance(members, list) or not members:
            self.fail("must be a non-empty list of profile names", name, "members")
        if not all(isinstance(m, str) for m in members):
            self.fail("must be a list of profile names (strings)", name, "members")
        for key in table:
            if key not in ("members", "fallback_on", "description", "budget"):
                self.fail(
                    "a group takes only members, fallback_on, budget and description", name, key
                )
        fallback_on = None
        if "fallback_on" in table:
            from llmport.fallback import error_kinds

            kinds = table["fallback_on"]
            if not isinstance(kinds, list):
                self.fail("must be a list of error kinds", name, "fallback_on")
            try:
                fallback_on = error_kinds(kinds)
            except ConfigurationError as exc:
                self.fail(str(exc), name, "fallback_on")
        budget = self.budget(name, table)
        return Profile(name, members=tuple(members), fallback_on=fallback_on, budget=budget)

    def budget(self, name: str, table: dict[str, Any]) -> Budget | None:
        if "budget" not in table:
            return None
        if not isinstance(table["budget"], dict):
            self.fail('must be a table such as { usd = 5.0, per = "day" }', name, "budget")
        setting = dict(table["budget"])
        if "redis_url" in setting:  # its own counters, as an in-process budget has
            setting.setdefault("prefix", f"llmport:budget:{name}")
        try:
            return Budget.from_setting(setting)
        except (ConfigurationError, TypeError) as exc:
            self.fail(str(exc), name, "budget")

    def check_settings(self, name: str, provider: str, settings: dict[str, Any]) -> None:
        from llmport._provider_table import _resolve

        try:
            config_class = _resolve(provider).config_class
        except ConfigurationError as exc:
            self.fail(str(exc), name, "provider")
        known = config_class.model_fields
        for key in settings:
            if key not in known:
                self.fail(f"{provider} has no setting {key!r}{hint(key, known)}", name, key)
        try:
            config_class(**settings)
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                top = str(error["loc"][0]) if error["loc"] else ""
                if top in settings:  # other errors come from environment variables
                    key = ".".join(str(part) for part in error["loc"])
                    self.fail(error["msg"], name, key)

    def check_cycles(self, profiles: dict[str, Profile]) -> None:
        """Refuse members that form a cycle, and groups nested deeper than `MAX_GROUP_DEPTH`.

        A depth-first search visiting each profile once (linear in profiles plus
        members), with its own stack, so a deep file is reported, not a RecursionError.
        """
        depths: dict[str, int] = {}  # 0 while on the path being walked
        for name in profiles:
            if name not in depths:
                self._visit(name, profiles, depths)

    def _visit(self, root: str, profiles: dict[str, Profile], depths: dict[str, int]) -> None:
        """Walk everything below `root` not walked yet, noting each profile's depth."""
        path = [root]
        stack = [iter(profiles[root].members)]
        depths[root] = 0
        while stack:
            member = next(stack[-1], None)
            if member is None:
                stack.pop()
                done = profiles[path.pop()]
                depths[done.name] = 1 + max((depths[m] for m in done.members), default=0)
                if depths[done.name] > MAX_GROUP_DEPTH:
                    self.fail(
                        f"groups nest {depths[done.name]} deep, more than {MAX_GROUP_DEPTH}",
                        done.name,
                        "members",
                    )
            elif member not in depths:
                path.append(member)
                stack.append(iter(profiles[member].members))
                depths[member] = 0
            elif depths[member] == 0:
                cycle = _shortened([*path[path.index(member) :], member])
                self.fail(f"members form a cycle: {cycle}", member, "members")

    def _line_of(self, profile: str | None, key: str | None) -> int | None:
        """The line of `key` in profile `profile` (sub-tables too), else of the nearest
        enclosing table or key that is written in the file; None if none is."""
        path = (*(("profiles", profile) if profile else ()), *(key.split(".") if key else ()))
        if self._lines is None:
            self._lines = key_lines(self.lines)
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return None


def _shortened(names: list[str], keep: int = 4) -> str:
    """`a -> b -> c`, with the middle of a long chain left out."""
    if len(names) <= 2 * keep + 1:
        return " -> ".join(names)
    middle = f"... ({len(names) - 2 * keep} more)"
    return " -> ".join((*names[:keep], middle, *names[-keep:]))


def hint(name: str, known: Any) -> str:
    """ " (did you mean 'x'?)" for the closest of `known`, or "" if none is close."""
    names = [str(k) for k in known]
    twins = [
        k for k in names if unicodedata.normalize("NFC", k) == unicodedata.normalize("NFC", name)
    ]
    if twins:  # looks the same on screen: show the code points
        return (
            f" ({name!a} differs from {twins[0]!a} only in Unicode normalisation:"
            " write both the same way)"
        )
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
