"""Provider registry: names to classes, `get_llm()`, and env-driven `get_default_llm()`.

Built-in providers are registered by import path so that looking one up imports
only its own module. Third-party packages register through the entry-point group
`llmport.providers` (`name = "package.module:ProviderClass"`) or by calling
`register_provider()`.

How `get_default_llm()` chooses, first match wins:

1. `DEFAULT_LLM` names a registered provider (explicit always wins).
2. `LITELLM_CHAT_MODEL` is set: `litellm`.
3. `OPENAI_COMPATIBLE_BASE_URL` is set: `openai_compatible` (when registered).
4. Otherwise a `ConfigurationError` says what to set.
"""

from __future__ import annotations

import difflib
import importlib
import os
import threading
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from llmport.errors import ConfigurationError

if TYPE_CHECKING:
    from llmport.base import BaseLLM

__all__ = ["available_providers", "get_default_llm", "get_llm", "register_provider"]

ENTRY_POINT_GROUP = "llmport.providers"

#: Registered name -> provider class, or "module:attribute" not imported yet.
_providers: dict[str, type[BaseLLM] | str] = {
    "litellm": "llmport.providers.litellm:LiteLLM",
    "openai_compatible": "llmport.providers.openai_compatible:OpenAICompatible",
    "fake": "llmport.testing.fake:FakeLLM",
}
#: Env var that, when set, selects the provider if DEFAULT_LLM is unset (in this order).
_DETECTION = (
    ("LITELLM_CHAT_MODEL", "litellm"),
    ("OPENAI_COMPATIBLE_BASE_URL", "openai_compatible"),
)
_lock = threading.Lock()
_entry_points_loaded = False


def register_provider(name: str, provider: type[BaseLLM] | str, *, replace: bool = False) -> None:
    """Make `provider` available as `get_llm(name)` and `DEFAULT_LLM=name`.

    `provider` is a `BaseLLM` subclass or a lazy `"module:Class"` path.

    Raises:
        ConfigurationError: the name is taken (pass `replace=True`) or the class is not a BaseLLM.
    """
    from llmport.base import BaseLLM

    key = _normalise(name)
    if not key:
        raise ConfigurationError("provider name must be a non-empty string")
    if not isinstance(provider, str) and not (
        isinstance(provider, type) and issubclass(provider, BaseLLM)
    ):
        raise ConfigurationError(f"provider {name!r} must be a BaseLLM subclass, got {provider!r}")
    with _lock:
        existing = _providers.get(key)
        if existing is not None and existing != provider and not replace:
            raise ConfigurationError(
                f"provider {key!r} is already registered; pass replace=True to override it"
            )
        _providers[key] = provider


def available_providers() -> list[str]:
    """Sorted names of every registered provider, entry points included."""
    _load_entry_points()
    return sorted(_providers)


def get_llm(name: str, **settings: Any) -> BaseLLM:
    """Build the provider registered as `name`; `settings` beat environment variables.

    Raises:
        ConfigurationError: unknown name (with the known ones and a close match) or bad settings.
    """
    return _resolve(name)(**settings)


def get_default_llm(**settings: Any) -> BaseLLM:
    """Build the provider chosen by the environment (see the module docstring for the rule).

    Raises:
        ConfigurationError: nothing is configured, or `DEFAULT_LLM` names an unknown provider.
    """
    return get_llm(default_provider_name(), **settings)


def default_provider_name() -> str:
    """The provider name `get_default_llm()` would use."""
    explicit = os.environ.get("DEFAULT_LLM", "").strip()
    if explicit:
        return explicit
    for variable, name in _DETECTION:
        if os.environ.get(variable, "").strip() and _normalise(name) in _providers:
            return name
    raise ConfigurationError(
        "no LLM is configured: set DEFAULT_LLM to a provider name "
        f"({', '.join(available_providers())}) and its settings, e.g. DEFAULT_LLM=litellm "
        "with LITELLM_CHAT_MODEL=openai/gpt-4o-mini; DEFAULT_LLM=fake needs no keys"
    )


def _resolve(name: str) -> type[BaseLLM]:
    key = _normalise(name)
    if key not in _providers:
        _load_entry_points()
    target = _providers.get(key)
    if target is None:
        known = available_providers()
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigurationError(
            f"unknown LLM provider {name!r}.{hint} Known providers: {', '.join(known)}."
        )
    if isinstance(target, str):
        target = _import_provider(key, target)
    return target


def _import_provider(key: str, path: str) -> type[BaseLLM]:
    from llmport.base import BaseLLM

    module_name, _, attribute = path.partition(":")
    try:
        provider = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"provider {key!r} could not be loaded from {path!r}: {exc}"
        ) from exc
    if not (isinstance(provider, type) and issubclass(provider, BaseLLM)):
        raise ConfigurationError(f"provider {key!r} at {path!r} is not a BaseLLM subclass")
    with _lock:
        _providers[key] = provider
    return provider


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        key = _normalise(entry_point.name)
        with _lock:
            _providers.setdefault(key, entry_point.value)
    _entry_points_loaded = True


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_") if isinstance(name, str) else ""
