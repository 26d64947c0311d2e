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

import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmport._profile_check import MAX_GROUP_DEPTH, Profile, hint, read_profile_file
from llmport.errors import ConfigurationError

if TYPE_CHECKING:
    from llmport.base import BaseLLM

__all__ = [
    "CONFIG_ENV",
    "MAX_GROUP_DEPTH",
    "Profile",
    "Profiles",
    "active_profiles",
    "load_profiles",
]

#: The environment variable holding the path of the profiles file.
CONFIG_ENV = "LLMPORT_CONFIG"


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
        work is linear in the size of the file (and no deeper than Python's stack).

        Raises:
            ConfigurationError: unknown profile, settings passed to a group, the
                `api_key_env` variable is unset, or the provider rejects a setting.
        """
        profile = self._profiles.get(name)
        if profile is None:
            raise ConfigurationError(f"{self.path}: no profile {name!r}{hint(name, self)}")
        if profile.is_group and settings:
            raise ConfigurationError(
                f"{self.path}: profile {name!r} is a group; settings cannot be passed to it "
                "(set them on its member profiles, or per call)"
            )
        if not profile.is_group:
            return self._resolve(profile, settings, {})
        built: dict[str, BaseLLM] = {}
        for below in self._members_first(profile):
            built[below.name] = self._resolve(below, {}, built)
        return built[name]

    def _members_first(self, group: Profile) -> list[Profile]:
        """`group` and every profile below it, each once, members before their groups."""
        order: list[Profile] = []
        seen = {group.name}
        path = [group]
        stack = [iter(group.members)]
        while stack:
            name = next(stack[-1], None)
            if name is None:
                stack.pop()
                order.append(path.pop())
            elif name not in seen:
                seen.add(name)
                path.append(self._profiles[name])
                stack.append(iter(path[-1].members))
        return order

    def _resolve(
        self, profile: Profile, settings: Mapping[str, Any], built: dict[str, BaseLLM]
    ) -> BaseLLM:
        """Build `profile`; a group's members are already in `built`."""
        from llmport._provider_table import cached
        from llmport.fallback import FallbackLLM

        if profile.is_group:
            members = [built[m] for m in profile.members]
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

    Both files are read again when they change on disk (size, modification or change
    time, or a new file in their place). A loaded file that has been removed since
    leaves its profiles in place.
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


_Stamp = tuple[str, int, int, int, int]
_lock = threading.Lock()
_explicit: tuple[_Stamp | None, Profiles] | None = None
_from_env: tuple[_Stamp, Profiles] | None = None


def _stamp(path: Path) -> _Stamp | None:
    """What tells a changed file; None if it is missing.

    Size and modification time, plus the inode (a file replaced by a rename) and the
    change time (an edit within one tick of a coarse modification time).
    """
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_ctime_ns)


def _read(path: Path) -> Profiles:
    return Profiles(path, *read_profile_file(path))
