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
    is_credential_name,
    read_yaml,
    url_has_credential,
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
    data = importer.run(read_yaml(path))
    header = [f"Profiles imported by llmport from {path}."]
    if importer.notes:
        header.append("Not expressible in a profiles file:")
        header += [f"  {note.key}: {note.reason}" for note in importer.notes]
    text = profiles_toml(data, header)
    _check(path, text)
    return Converted(data, text, tuple(importer.notes))


def _check(path: str | os.PathLike[str], text: str) -> None:
    """Read the written profiles back with the profiles file's own checks."""
    from llmport.profiles import _Checker

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        _Checker(Path(f"{path} (as profiles)"), text).check(tomllib.loads(text))
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
        for name, entries in by_name.items():
            if "*" in name:
                self.note(f"model_list[{entries[0][0]}]", "a wildcard model_name is not a profile")
                continue
            self.model(name, entries, fallbacks)
        self.finish()
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
        return found

    def model(
        self,
        name: str,
        entries: list[tuple[int, dict[str, Any]]],
        fallbacks: dict[str, dict[str, list[str]]],
    ) -> None:
        rest = fallbacks["fallbacks"].get(name, [])
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
        rest = fallbacks["fallbacks"].get(name, [])
        members = []
        pairs = zip(entries, markers, strict=True)
        for number, ((index, entry), marker) in enumerate(pairs, start=1):
            member = self.free_name(f"{name}-{number}")
            self.single(member, index, entry, marker)
            members.append(member)
        self.group(name, members + rest, self.kinds(name, rest, fallbacks))

    def finish(self) -> None:
        """Groups an export described: kept as written unless the fallbacks were edited."""
        for name, (entry, marker, fallbacks) in self.exported_groups.items():
            members = marker["members"]
            rest = fallbacks["fallbacks"].get(name, [])
            known = all(isinstance(m, str) and m in self.profiles for m in members)
            if known and self.leaves(name)[1:] == rest:
                self.group(name, members, marker.get("fallback_on"))
                if "budget" in marker:
                    self.profiles[name]["budget"] = marker["budget"]
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
        kinds = set(PROXY_KINDS)
        for kind, key in KIND_LISTS.items():
            own = fallbacks[key].get(name)
            if fallbacks[key] and own is None:
                kinds.discard(kind)
            elif own is not None and own != rest:
                kinds.discard(kind)
                self.note(f"{key}.{name}", "differs from its fallbacks: a group has one list")
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
        while name in self.profiles:
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
        for found in _drop_credentials(params):
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
        if "budget" in marker:
            table["budget"] = marker["budget"]
        self.profiles[name] = table


def _drop_credentials(params: dict[str, Any]) -> list[str]:
    """Remove every literal credential from `params`; the keys removed, dotted."""
    found: list[str] = []
    for key in ("api_base", "base_url"):
        if url_has_credential(params.get(key)):
            del params[key]
            found.append(key)
    headers = params.get("extra_headers")
    if isinstance(headers, dict):
        secret = [name for name in headers if is_credential_name(name)]
        params["extra_headers"] = {k: v for k, v in headers.items() if k not in secret}
        found += [f"extra_headers.{name}" for name in secret]
    rest = {k: v for k, v in params.items() if k != "extra_headers"}
    for key in rest:
        del params[key]
    params.update(_without_credentials(rest, "", found))
    return found


def _without_credentials(value: Any, where: str, found: list[str]) -> Any:
    """`value` without the credential-named entries of its mappings, whose keys go to `found`."""
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        if is_credential_name(key) and not (isinstance(item, str) and item.startswith(ENV_PREFIX)):
            found.append(f"{where}{key}")
        else:
            kept[key] = _without_credentials(item, f"{where}{key}.", found)
    return kept
