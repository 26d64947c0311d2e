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
    budget = { usd = 5.0, per = "day" }   # optional, on any profile: a llmport.Budget

The file is `LLMPORT_CONFIG`, or the one passed to `load_profiles()`. A profile's
values are explicit arguments: they beat the provider's environment variables, which
still fill in what the profile leaves out. Every problem is reported with the file,
the line when it can be found, the key, and the reason.
"""

from __future__ import annotations

import difflib
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import ValidationError

from llmport._toml_lines import key_lines
from llmport.budget import Budget
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

        Each profile is resolved once per call, however many groups share it, so the
        work is linear in the size of the file.

        Raises:
            ConfigurationError: unknown profile, settings passed to a group, the
                `api_key_env` variable is unset, or the provider rejects a setting.
        """
        profile = self._profiles.get(name)
        if profile is None:
            raise ConfigurationError(f"{self.path}: no profile {name!r}{_hint(name, self)}")
        if profile.is_group and settings:
            raise ConfigurationError(
                f"{self.path}: profile {name!r} is a group; settings cannot be passed to it "
                "(set them on its member profiles, or per call)"
            )
        return self._resolve(profile, settings, {})

    def _resolve(
        self, profile: Profile, settings: Mapping[str, Any], built: dict[str, BaseLLM]
    ) -> BaseLLM:
        """Build `profile`, reusing what `built` already holds for shared members."""
        from llmport._provider_table import cached
        from llmport.fallback import FallbackLLM

        if profile.name in built:
            return built[profile.name]
        if profile.is_group:
            members = [self._resolve(self._profiles[m], {}, built) for m in profile.members]
            kinds, budget = profile.fallback_on, profile.budget
            key = (FallbackLLM, tuple(id(m) for m in members), kinds, id(budget))
            llm: BaseLLM = cached(
                key, lambda: FallbackLLM(members, fallback_on=kinds, budget=budget)
            )
        else:
            values = self._values(profile, settings)
            try:
                llm = _build_provider(profile, values, one_off=bool(settings))
            except ConfigurationError as exc:
                raise ConfigurationError(f"{self.path}: profile {profile.name!r}: {exc}") from None
        if not settings:
            built[profile.name] = llm
        return llm

    def _values(self, profile: Profile, settings: Mapping[str, Any]) -> dict[str, Any]:
        values = {**profile.settings, **settings}
        if profile.api_key_env and "api_key" not in settings:
            values["api_key"] = os.environ.get(profile.api_key_env, "")
            if not values["api_key"]:
                raise ConfigurationError(
                    f"{self.path}: profile {profile.name!r} reads its API key from "
                    f"{profile.api_key_env}, which is not set"
                )
        return values


def _build_provider(profile: Profile, values: dict[str, Any], *, one_off: bool) -> BaseLLM:
    """The provider of `profile`; with a budget, one instance per profile shares it."""
    from llmport._provider_table import build_provider, cached

    provider = str(profile.provider)
    if profile.budget is None:
        return build_provider(provider, values)
    with_budget = {**values, "budget": profile.budget}
    if one_off:
        return build_provider(provider, with_budget)
    key = ("budget", provider, profile.name, id(profile.budget))
    return cached(key, lambda: build_provider(provider, with_budget))


def load_profiles(path: str | os.PathLike[str] | None = None) -> Profiles:
    """Read and check a profiles file, and make it the one `get_llm()` uses.

    Without `path`, the file named by `LLMPORT_CONFIG` is read. Either way the file is
    read again when it changes on disk. `llmport.reset()` forgets an explicitly loaded file.

    Raises:
        ConfigurationError: the file is missing, is not valid TOML, or holds an invalid
            profile; the message names the file, the line or key, and the reason.
    """
    global _explicit
    if path is None:
        path = os.environ.get(CONFIG_ENV, "").strip()
        if not path:
            raise ConfigurationError(f"no profiles file: set {CONFIG_ENV} or pass a path")
    file = Path(path)
    loaded = (_stamp(file), _read(file))  # stamp first: a change while reading is seen later
    with _lock:
        _explicit = loaded
    return loaded[1]


def active_profiles() -> Profiles | None:
    """The profiles `get_llm()` consults: the loaded file, else `LLMPORT_CONFIG`'s, else None.

    Both files are read again when they change on disk (size or modification time). A
    loaded file that has been removed since leaves its profiles in place.
    """
    global _explicit, _from_env
    with _lock:
        explicit = _explicit
    if explicit is not None:
        stamp = _stamp(explicit[1].path)
        if stamp is None or stamp == explicit[0]:
            return explicit[1]
        fresh = (stamp, _read(explicit[1].path))
        with _lock:
            if _explicit is explicit:
                _explicit = fresh
        return fresh[1]
    value = os.environ.get(CONFIG_ENV, "").strip()
    if not value:
        return None
    path = Path(value)
    stamp = _stamp(path)
    if stamp is None:
        raise ConfigurationError(
            f"{CONFIG_ENV} names {value!r}, which cannot be read: no such file"
        )
    with _lock:
        cached = _from_env
    if cached is not None and cached[0] == stamp:
        return cached[1]
    loaded = (stamp, _read(path))
    with _lock:
        _from_env = loaded
    return loaded[1]


def forget_profiles() -> None:
    """Forget the loaded profiles (used by `llmport.reset()`)."""
    global _explicit, _from_env
    with _lock:
        _explicit = None
        _from_env = None


_Stamp = tuple[str, int, int]
_lock = threading.Lock()
_explicit: tuple[_Stamp | None, Profiles] | None = None
_from_env: tuple[_Stamp, Profiles] | None = None


def _stamp(path: Path) -> _Stamp | None:
    """What tells a changed file (path, modification time, size); None if it is missing."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path), stat.st_mtime_ns, stat.st_size)


# --- reading and checking -----------------------------------------------------------------


def _read(path: Path) -> Profiles:
    text = read_text(path, "the profiles file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: invalid TOML: {exc}") from None
    checker = _Checker(path, text)
    return checker.check(data)


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


class _Checker:
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
        self.check_cycles(profiles)
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
        try:
            return Budget.from_setting(table["budget"])
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
                self.fail(f"{provider} has no setting {key!r}{_hint(key, known)}", name, key)
        try:
            config_class(**settings)
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                top = str(error["loc"][0]) if error["loc"] else ""
                if top in settings:  # other errors come from environment variables
                    key = ".".join(str(part) for part in error["loc"])
                    self.fail(error["msg"], name, key)

    def check_cycles(self, profiles: dict[str, Profile]) -> None:
        """Depth-first search visiting each profile once: linear in profiles plus members."""
        done: set[str] = set()
        for name in profiles:
            if name not in done:
                self._visit(name, profiles, done, {})

    def _visit(
        self, name: str, profiles: dict[str, Profile], done: set[str], path: dict[str, None]
    ) -> None:
        """Visit `name` below `path` (the profiles being visited, in order)."""
        if name in path:
            on_path = list(path)
            cycle = " -> ".join((*on_path[on_path.index(name) :], name))
            self.fail(f"members form a cycle: {cycle}", name, "members")
        if name in done:
            return
        path[name] = None
        for member in profiles[name].members:
            self._visit(member, profiles, done, path)
        del path[name]
        done.add(name)

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


def _hint(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, [str(k) for k in known], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
