"""A LiteLLM proxy `config.yaml` to profiles: the reverse of `export_litellm_proxy`.

Each deployment becomes a `litellm` profile named after its `model_name` (`name-1`,
`name-2`, ... when several share it, with `name` the group of them). A model with
`fallbacks` becomes a group: its deployments, then its fallbacks. `os.environ/VAR`
keys become `api_key_env = "VAR"`. What an export kept in `model_info.llmport` gives
the exported profiles back exactly. Everything else (routing strategy, budgets,
callbacks, rate limits...) is reported with the file, the key and the reason.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from llmport.errors import ConfigurationError
from llmport.interop._common import (
    ENV_PREFIX,
    MARKER,
    Converted,
    Note,
    drop_credentials,
    read_proxy_config,
)
from llmport.interop._toml_write import DROPPED, portable, profiles_toml
from llmport.interop.proxy_export import KIND_LISTS, PROVIDER_PARAMS, PROXY_KINDS, SHARED_PARAMS

__all__ = ["import_litellm_proxy"]

#: Deployment parameters that steer the proxy's Router rather than the call.
ROUTER_PARAMS = frozenset(
    {"rpm", "tpm", "order", "weight", "max_parallel_requests", "num_retries", "max_retries"}
    | {"max_budget", "budget_duration", "stream_timeout", "cooldown_time", "tags"}
)
_FALLBACK_KEYS = ("fallbacks", *KIND_LISTS.values())


def import_litellm_proxy(path: str | os.PathLike[str]) -> Converted:
    """The profiles equivalent to the LiteLLM proxy config at `path`, as TOML.

    `notes` lists what has no place in a profiles file, one entry per key.

    Raises:
        ConfigurationError: the file cannot be read, is not a proxy config, or its
            equivalent profiles are not valid.
    """
    importer = _Importer(str(path))
    data = importer.run(read_proxy_config(path))
    header = [f"Profiles imported by llmport from {path}."]
    if importer.notes:
        header.append("Not expressible in a profiles file:")
        header += [f"  {note.key}: {note.reason}" for note in importer.notes]
    text = profiles_toml(data, header)
    _check(path, text)
    return Converted(data, text, tuple(importer.notes))


def _check(path: str | os.PathLike[str], text: str) -> None:
    """Read the written profiles back with the profiles file's own checks."""
    from llmport._profile_check import Checker

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        Checker(Path(f"{path} (as profiles)"), text).check(tomllib.loads(text))
    except ConfigurationError as exc:
        raise ConfigurationError(f"cannot import: {exc}") from None


class _Importer:
    def __init__(self, file: str) -> None:
        self.file = file
        self.notes: list[Note] = []
        self.profiles: dict[str, dict[str, Any]] = {}
        self.default: str | None = None
        self.exported_groups: dict[
            str, tuple[tuple[int, dict[str, Any]], dict[str, Any], dict[str, dict[str, list[str]]]]
        ] = {}

        #: Where each model's fallback list is written, by list key and model name.
        self.written: dict[tuple[str, str], str] = {}
        #: The model names of the file: a member's name is never one of them.
        self.reserved: set[str] = set()
        #: Per model name read as a group: its own deployments' profiles, its fallbacks.
        self.chains: dict[str, tuple[list[str], list[str]]] = {}

    def note(self, key: str, reason: str) -> None:
        self.notes.append(Note(self.file, key, reason))

    def fail(self, key: str, reason: str) -> ConfigurationError:
        return ConfigurationError(f"{self.file}: {key}: {reason}")

    def run(self, config: dict[str, Any]) -> dict[str, Any]:
        models = config.get("model_list")
        if not isinstance(models, list) or not models:
            raise self.fail("model_list", "must be a non-empty list of deployments")
        fallbacks = self.settings(config)
        for key, value in config.items():
            if key in ("model_list", "router_settings", "litellm_settings"):
                continue
            for sub in value if isinstance(value, dict) else [None]:
                where = key if sub is None else f"{key}.{sub}"
                self.note(where, "a setting of the proxy server, not of a profile")
        by_name: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, entry in enumerate(models):
            if not isinstance(entry, dict) or not isinstance(entry.get("model_name"), str):
                raise self.fail(f"model_list[{index}]", "must be a mapping with a model_name")
            by_name.setdefault(entry["model_name"], []).append((index, entry))
        self.reserved = set(by_name)
        self.known_models(fallbacks, {name for name in by_name if "*" not in name})
        for name, entries in by_name.items():
            if "*" in name:
                self.note(f"model_list[{entries[0][0]}]", "a wildcard model_name is not a profile")
                continue
            self.model(name, entries, fallbacks)
        self.finish()
        self.untie_cycles()
        data: dict[str, Any] = {"profiles": self.profiles}
        if self.default is not None:
            data = {"default": self.default, **data}
        return data

    def settings(self, config: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
        """The fallback lists of router_settings and litellm_settings; the rest is noted."""
        found: dict[str, dict[str, list[str]]] = {key: {} for key in _FALLBACK_KEYS}
        for section in ("litellm_settings", "router_settings"):
            values = config.get(section) or {}
            if not isinstance(values, dict):
                raise self.fail(section, "must be a mapping")
            for key, value in values.items():
                if key in _FALLBACK_KEYS:
                    found[key].update(self.fallback_list(f"{section}.{key}", value))
                elif not (key == "num_retries" and value == 0):  # no retries: as llmport's
                    self.note(f"{section}.{key}", "a proxy setting with no profile equivalent")
        return found

    def fallback_list(self, where: str, value: Any) -> dict[str, list[str]]:
        if not isinstance(value, list):
            raise self.fail(where, "must be a list of {model_name: [fallbacks]}")
        found: dict[str, list[str]] = {}
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.fail(f"{where}[{index}]", "must be {model_name: [fallbacks]}")
            for name, targets in item.items():
                if name == "*":
                    self.note(f"{where}[{index}]", "fallbacks for every model are not a group")
                    continue
                targets = [targets] if isinstance(targets, str) else targets
                if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
                    raise self.fail(f"{where}[{index}].{name}", "must be a list of model names")
                found[str(name)] = targets
                self.written[(where.rsplit(".", 1)[-1], str(name))] = f"{where}[{index}].{name}"
        return found

    def known_models(self, fallbacks: dict[str, dict[str, list[str]]], names: set[str]) -> None:
        """Report (and drop) fallbacks from or to a model no deployment is named after."""
        for key, lists in fallbacks.items():
            for name in list(lists):
                where = self.written[(key, name)]
                if name not in names:
                    self.note(where, "names no deployment of model_list")
                    del lists[name]
                    continue
                for target in lists[name]:
                    if target not in names:
                        self.note(where, f"falls back to {target!r}, no deployment of model_list")
                lists[name] = [target for target in lists[name] if target in names]

    def rest(self, name: str, fallbacks: dict[str, dict[str, list[str]]]) -> list[str]:
        """What `name` falls back to: its general list, else its context or content list."""
        for key in _FALLBACK_KEYS:
            if fallbacks[key].get(name):
                return fallbacks[key][name]
        return []

    def untie_cycles(self) -> None:
        """A group in a fallback cycle lists the deployments the proxy tries, each once.

        The proxy follows a fallback's own fallbacks and skips what it has tried; a
        profiles file has no cycles, so such a group is written as that order.
        """
        cyclic = [name for name in self.chains if name in self.reachable(name)]
        orders = {name: self.order(name) for name in cyclic}
        for name, order in orders.items():
            self.profiles[name]["members"] = order
            key = next(k for k in _FALLBACK_KEYS if (k, name) in self.written)
            self.note(
                self.written[(key, name)],
                "the fallbacks form a cycle: the group lists the deployments the proxy would "
                "try, each once",
            )

    def reachable(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.profiles[name].get("members", []))
        while todo:
            member = todo.pop()
            if member not in seen:
                seen.add(member)
                todo += self.profiles.get(member, {}).get("members", [])
        return seen

    def order(self, name: str) -> list[str]:
        """The deployments the proxy tries for `name`: its own, then its fallbacks', depth first."""
        tried: list[str] = []
        visited: set[str] = set()

        def visit(model: str) -> None:
            if model in visited:
                return
            visited.add(model)
            own, rest = self.chains.get(model, ([model], []))
            tried.extend(p for p in own if p not in tried)
            for target in rest:
                visit(target)

        visit(name)
        return tried

    def model(
        self,
        name: str,
        entries: list[tuple[int, dict[str, Any]]],
        fallbacks: dict[str, dict[str, list[str]]],
    ) -> None:
        rest = self.rest(name, fallbacks)
        markers = [self.marker(index, entry) for index, entry in entries]
        if any(marker.get("default") for marker in markers):
            self.default = name
        if len(entries) == 1 and isinstance(markers[0].get("members"), list):
            self.exported_groups[name] = (entries[0], markers[0], fallbacks)
            self.profiles[name] = {}  # keeps the file's order; filled in by `finish`
        elif len(entries) == 1 and not rest:
            self.single(name, *entries[0], markers[0])
        else:
            self.proxy_group(name, entries, markers, fallbacks)

    def proxy_group(
        self,
        name: str,
        entries: list[tuple[int, dict[str, Any]]],
        markers: list[dict[str, Any]],
        fallbacks: dict[str, dict[str, list[str]]],
    ) -> None:
        """A group read from the proxy's own settings: the deployments, then the fallbacks."""
        rest = self.rest(name, fallbacks)
        members = []
        pairs = zip(entries, markers, strict=True)
        for number, ((index, entry), marker) in enumerate(pairs, start=1):
            member = self.free_name(f"{name}-{number}")
            self.reserved.add(member)
            self.single(member, index, entry, marker)
            members.append(member)
        self.chains[name] = (members, rest)
        self.group(name, members + rest, self.kinds(name, rest, fallbacks))

    def finish(self) -> None:
        """Groups an export described: kept as written unless the fallbacks were edited."""
        for name, (entry, marker, fallbacks) in self.exported_groups.items():
            members = marker["members"]
            rest = self.rest(name, fallbacks)
            known = all(isinstance(m, str) and m in self.profiles for m in members)
            if known and self.leaves(name)[1:] == rest:
                self.group(name, members, marker.get("fallback_on"))
                for key in ("description", "budget"):
                    if key in marker:
                        self.profiles[name][key] = marker[key]
            else:
                self.note(
                    f"model_list[{entry[0]}].model_info.{MARKER}.members",
                    "no longer matches the fallbacks: the group is read from the fallbacks",
                )
                self.proxy_group(name, [entry], [marker], fallbacks)

    def leaves(self, name: str, seen: frozenset[str] = frozenset()) -> list[str]:
        """The single profiles `name` tries, in order, each once (as an export lists them)."""
        exported = self.exported_groups.get(name)
        members = exported[1]["members"] if exported else self.profiles[name].get("members")
        if not members or name in seen:  # a cycle is reported by the profiles checker
            return [name] if not members else []
        found = [leaf for member in members for leaf in self.leaves(member, seen | {name})]
        return list(dict.fromkeys(found))

    def kinds(
        self, name: str, rest: list[str], fallbacks: dict[str, dict[str, list[str]]]
    ) -> list[str] | None:
        """The errors on which the proxy falls back from `name` (None: llmport's default)."""
        if not rest:
            return None
        general = bool(fallbacks["fallbacks"].get(name))
        kinds = set(PROXY_KINDS) if general else set()
        for kind, key in KIND_LISTS.items():
            own = fallbacks[key].get(name)
            if own == rest:
                kinds.add(kind)
            elif own is not None or (general and fallbacks[key]):
                # Where the proxy has such a list, it is the only one read for that error.
                kinds.discard(kind)
            if own is not None and own != rest:
                self.note(self.written[(key, name)], "differs from the fallbacks the group has")
        return sorted(kind.value for kind in kinds)

    def marker(self, index: int, entry: dict[str, Any]) -> dict[str, Any]:
        info = entry.get("model_info") or {}
        if not isinstance(info, dict):
            raise self.fail(f"model_list[{index}].model_info", "must be a mapping")
        for key in info:
            if key != MARKER:
                self.note(f"model_list[{index}].model_info.{key}", "deployment metadata")
        marker = info.get(MARKER) or {}
        if not isinstance(marker, dict):
            raise self.fail(f"model_list[{index}].model_info.{MARKER}", "must be a mapping")
        return marker

    def free_name(self, name: str) -> str:
        while name in self.profiles or name in self.reserved:
            name += "-1"
        return name

    def group(self, name: str, members: list[str], kinds: list[str] | None) -> None:
        table: dict[str, Any] = {"members": members}
        if kinds is not None:
            table["fallback_on"] = kinds
        self.profiles[name] = table

    def single(self, name: str, index: int, entry: dict[str, Any], marker: dict[str, Any]) -> None:
        where = f"model_list[{index}].litellm_params"
        params = entry.get("litellm_params")
        if not isinstance(params, dict) or not isinstance(params.get("model"), str):
            raise self.fail(where, "must be a mapping with a model")
        dropped: list[str] = []
        info = f"model_list[{index}].model_info.{MARKER}"
        params = {
            key: portable(value, f"{where}.{key}", dropped)
            for key, value in params.items()
            if value is not None  # unset, as LiteLLM reads it
        }
        params = {key: value for key, value in params.items() if value is not DROPPED}
        provider = "litellm"
        if marker.get("provider") == "openai_compatible":
            provider = "openai_compatible"
        table: dict[str, Any] = {"provider": provider}
        model = params.pop("model")
        if model.startswith(ENV_PREFIX):
            raise self.fail(
                f"{where}.model", "read from the environment; a profile names its model: write it"
            )
        if provider == "openai_compatible":
            table["chat_model"] = model.removeprefix("openai/")
            table["base_url"] = params.pop("api_base", "")
        else:
            table["chat_model"] = model
        key = params.pop("api_key", None)
        if isinstance(key, str) and key.startswith(ENV_PREFIX):
            table["api_key_env"] = key.removeprefix(ENV_PREFIX)
        elif key is not None:
            self.note(f"{where}.api_key", "a literal key is not imported: use api_key_env")
        for found in drop_credentials(params):
            self.note(f"{where}.{found}", "a literal credential is not imported")
        extra: dict[str, Any] = {}
        for param, value in params.items():
            if isinstance(value, str) and value.startswith(ENV_PREFIX):
                self.note(
                    f"{where}.{param}",
                    "only the key can come from the environment (api_key_env): write the value",
                )
            elif param in (*PROVIDER_PARAMS[provider], *SHARED_PARAMS):
                table[param] = value
            elif param in ROUTER_PARAMS:
                self.note(f"{where}.{param}", "a proxy routing setting, not a call setting")
            else:
                extra[param] = value
        if extra:
            table["extra_params"] = extra
        settings = portable(marker.get("settings") or {}, f"{info}.settings", dropped)
        if isinstance(settings, dict):
            table.update(settings)
        for key in dropped:
            self.note(key, "a value a profiles file cannot hold (null, bytes, or itself)")
        for key in ("description", "budget"):
            if key in marker:
                table[key] = marker[key]
        self.profiles[name] = table
