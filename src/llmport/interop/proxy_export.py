"""Profiles to a LiteLLM proxy `config.yaml`: one deployment per profile, groups as fallbacks.

    [profiles.fast]                         model_list:
    provider = "openai_compatible"            - model_name: fast
    chat_model = "small"           ->           litellm_params: {model: openai/small,
    base_url = "http://gw/v1"                     api_base: "http://gw/v1",
    api_key_env = "GW_KEY"                        api_key: os.environ/GW_KEY}
                                              - model_name: quality   # a copy of strong's
    [profiles.quality]                        router_settings:
    members = ["strong", "fast"]                fallbacks: [{quality: [fast]}]

A group is called by its own name on the proxy, so it gets a deployment of its own (a
copy of its first member's), and the rest of its members, nested groups flattened in
the order they would be tried, become its `fallbacks`. What the proxy has no setting
for (llmport's retry policy, which errors a group falls back on, ...) is reported, and
kept in the deployment's `model_info.llmport` so that importing the file gives the same
profiles back.
"""

from __future__ import annotations

import sys
from typing import Any

from llmport.errors import ConfigurationError, ErrorKind
from llmport.interop._common import (
    ENV_PREFIX,
    MARKER,
    Converted,
    Note,
    credential_keys,
    dump_yaml,
    is_credential_name,
    url_has_credential,
)
from llmport.profiles import Profile, Profiles

__all__ = ["deployment_params", "export_litellm_proxy"]

#: Settings with the same name and meaning in a deployment's `litellm_params`.
SHARED_PARAMS = (
    *("temperature", "top_p", "max_tokens", "seed", "timeout", "extra_headers"),
    *("input_cost_per_token", "output_cost_per_token"),
)
#: The providers whose profiles become deployments, and what each adds to SHARED_PARAMS.
PROVIDER_PARAMS = {"litellm": ("api_base", "drop_params"), "openai_compatible": ()}
#: Error kinds that have their own fallback list on the proxy.
KIND_LISTS = {
    ErrorKind.CONTEXT_LENGTH: "context_window_fallbacks",
    ErrorKind.CONTENT_FILTER: "content_policy_fallbacks",
}
#: The errors a proxy can answer with: budgets are llmport's own, checked in the client.
PROXY_KINDS = frozenset(ErrorKind) - {ErrorKind.BUDGET, ErrorKind.BUDGET_UNAVAILABLE}
#: Why a setting kept only in `model_info.llmport` does nothing on the proxy.
_LOST = {
    "retry": "the proxy does not run llmport's retry policy (clients keep their own)",
    "budget": "the proxy keeps budgets per key, team or user in its database (kept for "
    "the way back)",
    "total_timeout": "a budget for all of a client's attempts (clients keep their own)",
    "disable_streaming_logging": "a switch of the calling process, not of a deployment",
    "max_connections": "the proxy manages its own connection pools",
    "api_base": "openai_compatible does not use api_base (base_url is exported)",
}


def export_litellm_proxy(profiles: Profiles) -> Converted:
    """The LiteLLM proxy config equivalent to `profiles`, with what the proxy loses.

    Raises:
        ConfigurationError: a profile holds a literal key (`api_key`, or a credential in
            `extra_headers`), or uses a provider the proxy has no deployment for.
    """
    exporter = _Exporter(profiles)
    model_list = [exporter.deployment(profile) for profile in profiles.values()]
    data: dict[str, Any] = {"model_list": model_list, "router_settings": exporter.router()}
    header = [f"LiteLLM proxy config exported by llmport from {profiles.path}."]
    if exporter.notes:
        header.append("What the proxy does not do as the profiles do:")
        header += [f"  {note.key}: {note.reason}" for note in exporter.notes]
    return Converted(data, dump_yaml(data, header), tuple(exporter.notes))


def deployment_params(profiles: Profiles, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `litellm_params` of single profile `name`, and the settings they cannot hold.

    Raises:
        ConfigurationError: as `export_litellm_proxy`, for this profile only.
    """
    params, marker = _Exporter(profiles).single(name)
    return params, dict(marker.get("settings", {}))


class _Exporter:
    def __init__(self, profiles: Profiles) -> None:
        self.profiles = profiles
        self.notes: list[Note] = []
        self.groups: dict[str, list[str]] = {}
        self.singles: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.tables: dict[str, Any] | None = None

    def note(self, key: str, reason: str) -> None:
        self.notes.append(Note(str(self.profiles.path), key, reason))

    def deployment(self, profile: Profile) -> dict[str, Any]:
        if "*" in profile.name:
            raise ConfigurationError(
                f"{self.profiles.path}: profiles.{profile.name}: the proxy reads a model_name "
                "with '*' as a wildcard; rename the profile"
            )
        marker: dict[str, Any] = {}
        if profile.is_group:
            tried = self.leaves(profile.name)
            self.groups[profile.name] = tried[1:]
            params = dict(self.single(tried[0])[0])
            marker["members"] = list(profile.members)
            for member in profile.members:
                if self.profiles[member].is_group and self.kinds(member) != self.kinds(
                    profile.name
                ):
                    self.note(
                        f"profiles.{profile.name}.members",
                        f"{member} falls back on its own errors in the app; on the proxy, its "
                        "members are tried in order on this group's errors",
                    )
            if profile.fallback_on is not None:
                marker["fallback_on"] = sorted(kind.value for kind in profile.fallback_on)
        else:
            params, own = self.single(profile.name)
            marker.update(own)
        description = self.table(profile.name).get("description")
        if description is not None:
            marker["description"] = description
        if profile.budget is not None:
            marker["budget"] = self.budget(profile)
            self.note(f"profiles.{profile.name}.budget", _LOST["budget"])
        if self.profiles.default == profile.name:
            marker["default"] = True
        entry: dict[str, Any] = {"model_name": profile.name, "litellm_params": params}
        if marker:
            entry["model_info"] = {MARKER: marker}
        return entry

    def budget(self, profile: Profile) -> dict[str, Any]:
        """The profile's budget table as the file writes it (never a Redis password)."""
        table = dict(self.table(profile.name).get("budget") or {})
        if not table:
            budget = profile.budget
            assert budget is not None
            values: dict[str, Any] = {"usd": budget.usd, "tokens": budget.tokens, "per": budget.per}
            values |= {"key": budget.key, "redis_url": budget.redis_url}
            table = {k: v for k, v in values.items() if v is not None}
            if budget.fail_open:
                table["fail_open"] = True
        if url_has_credential(table.get("redis_url")):
            raise ConfigurationError(
                f"{self.profiles.path}: profiles.{profile.name}.budget.redis_url: holds a "
                "password, and a credential is never exported"
            )
        return table

    def table(self, name: str) -> dict[str, Any]:
        """Profile `name`'s table as written in the file (empty if it cannot be read again)."""
        if self.tables is None:
            self.tables = _tables(self.profiles)
        table = self.tables.get(name)
        return table if isinstance(table, dict) else {}

    def leaves(self, name: str) -> list[str]:
        """The single profiles a group tries, in order, each once."""
        profile = self.profiles[name]
        if not profile.is_group:
            return [name]
        found = [leaf for member in profile.members for leaf in self.leaves(member)]
        return list(dict.fromkeys(found))

    def single(self, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The params and marker of single profile `name`, made (and reported on) once."""
        if name not in self.singles:
            marker: dict[str, Any] = {}
            self.singles[name] = (self.params(self.profiles[name], marker), marker)
        return self.singles[name]

    def params(self, profile: Profile, marker: dict[str, Any]) -> dict[str, Any]:
        """`litellm_params` for a single profile; what they cannot hold goes to `marker`."""
        where = f"profiles.{profile.name}"
        provider = str(profile.provider)
        if provider not in PROVIDER_PARAMS:
            raise ConfigurationError(
                f"{self.profiles.path}: {where}.provider: {provider!r} has no LiteLLM proxy "
                f"deployment; only {' and '.join(PROVIDER_PARAMS)} profiles can be exported"
            )
        settings = dict(profile.settings)
        if "api_key" in settings:
            raise ConfigurationError(
                f"{self.profiles.path}: {where}.api_key: a literal key is never exported; "
                "put it in an environment variable and name it in api_key_env"
            )
        self.refuse_credentials(where, settings)
        model = str(settings.pop("chat_model", ""))
        params: dict[str, Any] = {"model": model}
        if provider == "openai_compatible":
            params["model"] = f"openai/{model}"
            params["api_base"] = settings.pop("base_url", "")
            marker["provider"] = provider
        if profile.api_key_env:
            params["api_key"] = ENV_PREFIX + profile.api_key_env
        elif provider == "openai_compatible":
            self.note(
                f"{where}.api_key_env",
                "not set: the app reads OPENAI_COMPATIBLE_API_KEY, the proxy OPENAI_API_KEY",
            )
        for key in (*PROVIDER_PARAMS[provider], *SHARED_PARAMS):
            if key in settings:
                params[key] = settings.pop(key)
        extra = settings.pop("extra_params", {})
        if not extra and "extra_params" in profile.settings:
            marker["settings"] = {"extra_params": {}}  # written, though empty: kept as is
        for key, value in extra.items():
            if key in params or key in SHARED_PARAMS:
                raise ConfigurationError(
                    f"{self.profiles.path}: {where}.extra_params.{key}: also a setting of the "
                    "deployment; set it in one place"
                )
            params[key] = value
        if settings:
            marker["settings"] = {**marker.get("settings", {}), **settings}
            for key in settings:
                self.note(f"{where}.{key}", _LOST.get(key, "no LiteLLM proxy equivalent"))
        return params

    def refuse_credentials(self, where: str, settings: dict[str, Any]) -> None:
        """Refuse a credential in a URL, a header or extra_params (never naming its value)."""
        found = [key for key in ("api_base", "base_url") if url_has_credential(settings.get(key))]
        headers = settings.get("extra_headers", {})
        found += [f"extra_headers.{name}" for name in headers if is_credential_name(name)]
        found += [f"extra_params.{key}" for key in credential_keys(settings.get("extra_params"))]
        if found:
            raise ConfigurationError(
                f"{self.profiles.path}: {where}.{found[0]}: holds a credential, and a credential "
                "is never exported; put the key in an environment variable named by api_key_env"
            )

    def router(self) -> dict[str, Any]:
        """`router_settings`: no retries on the proxy, and each group's fallbacks."""
        settings: dict[str, Any] = {"num_retries": 0}
        if not self.groups:
            return settings
        lists: list[tuple[ErrorKind | None, str]] = [(None, "fallbacks"), *KIND_LISTS.items()]
        for kind, key in lists:
            chosen = [
                {name: rest}
                for name, rest in self.groups.items()
                if rest and (kind is None or kind in self.kinds(name))
            ]
            if chosen:
                settings[key] = chosen
        for name in self.groups:
            self.note_kinds(name, settings)
        return settings

    def kinds(self, name: str) -> frozenset[ErrorKind]:
        from llmport.fallback import DEFAULT_FALLBACK_ON

        kinds = self.profiles[name].fallback_on
        return DEFAULT_FALLBACK_ON if kinds is None else kinds

    def note_kinds(self, name: str, settings: dict[str, Any]) -> None:
        """Report the errors on which the proxy falls back but the group does not."""
        on_proxy = set(PROXY_KINDS)
        for kind, key in KIND_LISTS.items():
            if key in settings and kind not in self.kinds(name):
                on_proxy.discard(kind)
        extra = sorted(kind.value for kind in on_proxy - self.kinds(name))
        if extra and self.groups[name]:
            self.note(
                f"profiles.{name}.fallback_on",
                f"the proxy also falls back on {', '.join(extra)} errors (it has no setting "
                "for which errors a group falls back on)",
            )


def _tables(profiles: Profiles) -> dict[str, Any]:
    """The profile tables as written in the file (empty if it cannot be read again)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        tables = tomllib.loads(profiles.path.read_text(encoding="utf-8")).get("profiles")
    except (OSError, ValueError):
        return {}
    return tables if isinstance(tables, dict) else {}
