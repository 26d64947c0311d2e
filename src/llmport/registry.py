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

`get_llm(name)` looks `name` up among the active profiles first, then among providers.
Instances are cached per provider class and effective config (environment values and
the API key included; the key is compared by its SHA-256 digest, never stored in the
cache key), so repeated calls share one client and its connection pool. `reset()`
empties the cache.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

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


def get_llm(name: str, **settings: Any) -> BaseLLM:
    """The LLM named `name`: an active profile, else a registered provider.

    `settings` beat the profile's values and environment variables. Calls with the same
    name and effective settings return the same (cached) instance.

    Raises:
        ConfigurationError: unknown name (with the known ones and a close match) or bad settings.
    """
    from llmport.profiles import active_profiles

    profiles = active_profiles()
    if profiles is not None and name in profiles:
        return profiles.build(name, **settings)
    return build_provider(name, settings)


def get_default_llm(**settings: Any) -> BaseLLM:
    """Build the LLM chosen by the environment (see the module docstring for the rule).

    Raises:
        ConfigurationError: nothing is configured, or `DEFAULT_LLM` names an unknown provider.
    """
    return get_llm(default_provider_name(), **settings)


def default_provider_name() -> str:
    """The profile or provider name `get_default_llm()` would use."""
    explicit = os.environ.get("DEFAULT_LLM", "").strip()
    if explicit:
        return explicit
    from llmport.profiles import active_profiles

    profiles = active_profiles()
    if profiles is not None and profiles.default:
        return profiles.default
    for variable, name in table._DETECTION:
        if os.environ.get(variable, "").strip() and table._normalise(name) in table._providers:
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
