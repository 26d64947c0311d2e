"""Named LLM profiles from a TOML file: `get_llm("quality")`.

    default = "quality"              # optional: what get_default_llm() builds

    [profiles.fast]
    provider = "openai_compatible"   # a registered provider name
    chat_model = "gpt-4o-mini"       # any setting of that provider's config
    base_url = "https://gateway.example/v1"
    api_key_env = "GATEWAY_API_KEY"  # the key is read from this variable when built

    [profiles.quality]               # a group: members tried in order (FallbackLLM)
    members = ["strong-a", "strong-b", "fast"]
    fallback_on = ["rate_limit", "server", "timeout", "connection"]   # optional

The file is `LLMPORT_CONFIG`, or the one passed to `load_profiles()`. A profile's
values are explicit arguments: they beat the provider's environment variables, which
still fill in what the profile leaves out. Every problem is reported with the file,
the line when it can be found, the key, and the reason.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import ValidationError

from llmport.errors import ConfigurationError, ErrorKind

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from llmport.base import BaseLLM

__all__ = ["CONFIG_ENV", "Profile", "Profiles", "active_profiles", "load_profiles"]

#: The environment variable holding the path of the profiles file.
CONFIG_ENV = "LLMPORT_CONFIG"

_PROFILE_KEYS = frozenset({"provider", "api_key_env", "members", "fallback_on", "description"})
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

    @property
    def is_group(self) -> bool:
        """True for a fallback group."""
        return bool(self.members)


class Profiles(Mapping[str, Profile]):
    """The validated profiles of one file; `build(name)` makes the LLM (cached)."""

    def __init__(self, path: Path, profiles: Mapping[str, Profile], default: str | None) -> None:
        """Hold already validated profiles; use `load_profiles()` to read a file."""
        self.path = path
        self.default = default
        self._profiles = dict(profiles)

    def __getitem__(self, name: str) -> Profile:
        return self._profiles[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._profiles)

    def __len__(self) -> int:
        return len(self._profiles)

    def __repr__(self) -> str:
        return f"Profiles({str(self.path)!r}, {sorted(self._profiles)})"

    def build(self, name: str, **settings: Any) -> BaseLLM:
        """The LLM for profile `name`; `settings` override a single profile's values.

        Raises:
            ConfigurationError: unknown profile, settings passed to a group, the
                `api_key_env` variable is unset, or the provider rejects a setting.
        """
        from llmport.fallback import FallbackLLM
        from llmport.registry import build_provider, cached

        profile = self._profiles.get(name)
        if profile is None:
            raise ConfigurationError(f"{self.path}: no profile {name!r}{_hint(name, self)}")
        if profile.is_group:
            if settings:
                raise ConfigurationError(
                    f"{self.path}: profile {name!r} is a group; settings cannot be passed to it "
                    "(set them on its member profiles, or per call)"
                )
            members = [self.build(member) for member in profile.members]
            kinds = profile.fallback_on
            key = (FallbackLLM, tuple(id(m) for m in members), kinds)
            return cached(key, lambda: FallbackLLM(members, fallback_on=kinds))
        assert profile.provider is not None
        values = {**profile.settings, **settings}
        if profile.api_key_env and "api_key" not in settings:
            values["api_key"] = os.environ.get(profile.api_key_env, "")
            if not values["api_key"]:
                raise ConfigurationError(
                    f"{self.path}: profile {name!r} reads its API key from "
                    f"{profile.api_key_env}, which is not set"
                )
        try:
            return build_provider(profile.provider, values)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{self.path}: profile {name!r}: {exc}") from None


def load_profiles(path: str | os.PathLike[str] | None = None) -> Profiles:
    """Read and check a profiles file, and make it the one `get_llm()` uses.

    Without `path`, the file named by `LLMPORT_CONFIG` is read. `llmport.reset()`
    forgets an explicitly loaded file.

    Raises:
        ConfigurationError: the file is missing, is not valid TOML, or holds an invalid
            profile; the message names the file, the line or key, and the reason.
    """
    global _explicit
    if path is None:
        path = os.environ.get(CONFIG_ENV, "").strip()
        if not path:
            raise ConfigurationError(f"no profiles file: set {CONFIG_ENV} or pass a path")
    profiles = _read(Path(path))
    with _lock:
        _explicit = profiles
    return profiles


def active_profiles() -> Profiles | None:
    """The profiles `get_llm()` consults: the loaded file, else `LLMPORT_CONFIG`'s, else None.

    The `LLMPORT_CONFIG` file is read again when it changes on disk.
    """
    global _from_env
    if _explicit is not None:
        return _explicit
    value = os.environ.get(CONFIG_ENV, "").strip()
    if not value:
        return None
    path = Path(value)
    try:
        stat = path.stat()
    except OSError:
        raise ConfigurationError(
            f"{CONFIG_ENV} names {value!r}, which cannot be read: no such file"
        ) from None
    stamp = (str(path), stat.st_mtime_ns, stat.st_size)
    with _lock:
        if _from_env is not None and _from_env[0] == stamp:
            return _from_env[1]
    profiles = _read(path)
    with _lock:
        _from_env = (stamp, profiles)
    return profiles


def forget_profiles() -> None:
    """Forget the loaded profiles (used by `llmport.reset()`)."""
    global _explicit, _from_env
    with _lock:
        _explicit = None
        _from_env = None


_lock = threading.Lock()
_explicit: Profiles | None = None
_from_env: tuple[tuple[str, int, int], Profiles] | None = None


# --- reading and checking -----------------------------------------------------------------


def _read(path: Path) -> Profiles:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the profiles file: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: invalid TOML: {exc}") from None
    checker = _Checker(path, text)
    return checker.check(data)


class _Checker:
    """Validates parsed TOML, reporting `file:line: key: reason`."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def fail(self, reason: str, profile: str | None = None, key: str | None = None) -> NoReturn:
        dotted = ".".join(p for p in ("profiles" if profile else None, profile, key) if p)
        line = self._line_of(profile, key)
        where = f"{self.path}:{line}" if line else str(self.path)
        raise ConfigurationError(f"{where}: {dotted or 'file'}: {reason}")

    def check(self, data: dict[str, Any]) -> Profiles:
        for key in data:
            if key not in _TOP_LEVEL_KEYS:
                self.fail(f"unknown top-level key{_hint(key, _TOP_LEVEL_KEYS)}", key=key)
        tables = data.get("profiles")
        if not isinstance(tables, dict) or not tables:
            self.fail("no profiles: add at least one [profiles.<name>] table", key="profiles")
        profiles = {name: self.profile(name, table) for name, table in tables.items()}
        for profile in profiles.values():
            for member in profile.members:
                if member not in profiles:
                    reason = f"unknown member profile {member!r}{_hint(member, profiles)}"
                    self.fail(reason, profile.name, "members")
        for name in profiles:
            self.check_cycles(name, profiles, ())
        default = data.get("default")
        if default is not None and (not isinstance(default, str) or default not in profiles):
            self.fail(
                f"must name one of the profiles{_hint(str(default), profiles)}", key="default"
            )
        return Profiles(self.path, profiles, default)

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
        return Profile(name, provider, settings, api_key_env)

    def group(self, name: str, table: dict[str, Any]) -> Profile:
        members = table["members"]
        if not isinstance(members, list) or not members:
            self.fail("must be a non-empty list of profile names", name, "members")
        if not all(isinstance(m, str) for m in members):
            self.fail("must be a list of profile names (strings)", name, "members")
        for key in table:
            if key not in ("members", "fallback_on", "description"):
                self.fail("a group takes only members, fallback_on and description", name, key)
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
        return Profile(name, members=tuple(members), fallback_on=fallback_on)

    def check_settings(self, name: str, provider: str, settings: dict[str, Any]) -> None:
        from llmport.registry import _resolve

        try:
            config_class = _resolve(provider).config_class
        except ConfigurationError as exc:
            self.fail(str(exc), name, "provider")
        known = config_class.model_fields
        for key in settings:
            if key not in known:
                self.fail(f"{provider} has no setting {key!r}{_hint(key, known)}", name, key)
        try:
            config_class(**settings)
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                top = str(error["loc"][0]) if error["loc"] else ""
                if top in settings:  # other errors come from environment variables
                    key = ".".join(str(part) for part in error["loc"])
                    self.fail(error["msg"], name, key)

    def check_cycles(self, name: str, profiles: dict[str, Profile], path: tuple[str, ...]) -> None:
        if name in path:
            cycle = " -> ".join((*path[path.index(name) :], name))
            self.fail(f"members form a cycle: {cycle}", path[0], "members")
        for member in profiles[name].members:
            self.check_cycles(member, profiles, (*path, name))

    def _line_of(self, profile: str | None, key: str | None) -> int | None:
        """Best effort: the line of `key` in `[profiles.<profile>]`, or of the header."""
        start = 0
        if profile is not None:
            header = re.compile(rf"""\s*\[\s*profiles\s*\.\s*["']?{re.escape(profile)}["']?\s*\]""")
            found = next((i for i, line in enumerate(self.lines) if header.match(line)), None)
            if found is None:
                return None
            start = found
        if key is None:
            return start + 1 if profile is not None else None
        name = re.escape(key.split(".")[0])
        pattern = re.compile(rf"""\s*["']?{name}["']?\s*[=.]""")
        for index in range(start + (profile is not None), len(self.lines)):
            line = self.lines[index]
            if profile is not None and line.lstrip().startswith("["):
                break
            if pattern.match(line):
                return index + 1
        return start + 1 if profile is not None else None


def _hint(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, [str(k) for k in known], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
