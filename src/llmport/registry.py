"""Provider registry: names to classes, `get_llm()`, and env-driven `get_default_llm()`.

Built-in providers are registered by import path so that looking one up imports
only its own module. Third-party packages register through the entry-point group
`llmport.providers` (`name = "package.module:ProviderClass"`) or by calling
`register_provider()`.

How `get_default_llm()` chooses, first match wins:

1. `DEFAULT_LLM` names a profile or a registered provider (explicit always wins).
2. The profiles file (`LLMPORT_CONFIG` or `load_profiles()`) names a `default` profile.
3. `LITELLM_CHAT_MODEL` is set: `litellm`.
4. `OPENAI_COMPATIBLE_BASE_URL` is set: `openai_compatible` (when registered).
5. Otherwise a `ConfigurationError` says what to set.

Neither reads a `.env` file unless asked: `get_default_llm(env_file=".env")` and
`get_llm(name, env_file=".env")` read the provider's settings and the variables above
from the file, below the environment (a variable already set wins). The `llmport`
command line reads `./.env` itself.

`get_llm(name)` looks `name` up among the active profiles first, then among providers.
Instances are cached per provider class and effective config (environment values and
the API key included; the key is compared by its SHA-256 digest, never stored in the
cache key), so repeated calls share one client and its connection pool. `reset()`
empties the cache.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from llmport import _provider_table as table
from llmport._provider_table import (
    available_providers,
    build_provider,
    cached,
    config_fingerprint,
    forget_instances,
    register_provider,
)
from llmport.errors import ConfigurationError

if TYPE_CHECKING:
    from llmport.base import BaseLLM
    from llmport.config import EnvFile
    from llmport.profiles import Profiles

__all__ = [
    "available_providers",
    "build_provider",
    "cached",
    "config_fingerprint",
    "get_default_llm",
    "get_llm",
    "register_provider",
    "reset",
]


def get_llm(name: str, *, env_file: EnvFile = None, **settings: Any) -> BaseLLM:
    """The LLM named `name`: an active profile, else a registered provider.

    `settings` beat the profile's values and environment variables, which beat the
    `env_file` (a dotenv path; none by default; profiles do not read it). Calls with the
    same name and effective settings return the same (cached) instance.

    Raises:
        ConfigurationError: unknown name (with the known ones and a close match) or bad settings.
    """
    from llmport.profiles import active_profiles

    profiles = active_profiles()
    if profiles is not None and name in profiles:
        return profiles.build(name, **settings)
    if profiles is not None and table._normalise(name) not in available_providers():
        _unknown_name(name, profiles)
    return build_provider(name, settings, env_file=env_file)


def _unknown_name(name: str, profiles: Profiles) -> NoReturn:
    """Refuse a name that is neither a profile nor a provider, naming both lists."""
    from llmport._profile_check import hint

    providers = available_providers()
    raise ConfigurationError(
        f"unknown LLM profile or provider {name!r}{hint(name, [*profiles, *providers])}; "
        f"profiles in {profiles.path}: {', '.join(sorted(profiles))}; "
        f"providers: {', '.join(providers)}"
    )


def get_default_llm(*, env_file: EnvFile = None, **settings: Any) -> BaseLLM:
    """Build the LLM chosen by the environment (see the module docstring for the rule).

    With `env_file`, a dotenv file's variables count too, below the environment's.

    Raises:
        ConfigurationError: nothing is configured, or `DEFAULT_LLM` names an unknown provider.
    """
    return get_llm(default_provider_name(env_file=env_file), env_file=env_file, **settings)


def default_provider_name(*, env_file: EnvFile = None) -> str:
    """The profile or provider name `get_default_llm()` would use."""
    environ = _environment(env_file)
    explicit = environ.get("DEFAULT_LLM", "").strip()
    if explicit:
        return explicit
    from llmport.profiles import active_profiles

    profiles = active_profiles()
    if profiles is not None and profiles.default:
        return profiles.default
    for variable, name in table._DETECTION:
        if environ.get(variable, "").strip() and table._normalise(name) in table._providers:
            return name
    raise ConfigurationError(
        "no LLM is configured: set DEFAULT_LLM to a provider name "
        f"({', '.join(available_providers())}) and its settings, e.g. DEFAULT_LLM=litellm "
        "with LITELLM_CHAT_MODEL=openai/gpt-4o-mini; DEFAULT_LLM=fake needs no keys"
    )


def reset() -> None:
    """Forget every cached LLM instance and the loaded profiles (for tests).

    Instances already handed out keep working; the next `get_llm()` builds new ones.
    """
    from llmport.profiles import forget_profiles

    forget_instances()
    forget_profiles()


def _environment(env_file: EnvFile) -> Mapping[str, str]:
    """`os.environ`, over the variables of `env_file` when one is given."""
    if not env_file:
        return os.environ
    from llmport._env_file import read_env_file

    return {**read_env_file(env_file), **os.environ}
