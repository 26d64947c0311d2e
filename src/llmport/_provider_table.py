"""The provider table: registered names to classes, and the cache of built instances.

Built-in providers are registered by import path so that looking one up imports
only its own module. Third-party packages register through the entry-point group
`llmport.providers` (`name = "package.module:ProviderClass"`) or by calling
`register_provider()`. Instances are cached per provider class and effective config
(the API key compared by its SHA-256 digest, never stored in the cache key).
`llmport.registry` builds on this table and adds profiles and env-driven selection.
"""

from __future__ import annotations

import difflib
import enum
import hashlib
import importlib
import json
import os
import sys
import threading
from collections.abc import Callable, Hashable, Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, SecretStr

from llmport.errors import ConfigurationError

if TYPE_CHECKING:
    from llmport.base import BaseLLM
    from llmport.config import BaseLLMConfig, EnvFile

__all__ = [
    "available_providers",
    "build_provider",
    "cached",
    "config_fingerprint",
    "forget_instances",
    "register_provider",
]

_T = TypeVar("_T")

ENTRY_POINT_GROUP = "llmport.providers"

#: Registered name -> provider class, or "module:attribute" not imported yet.
_providers: dict[str, type[BaseLLM] | str] = {
    "litellm": "llmport.providers.litellm:LiteLLM",
    "openai_compatible": "llmport.providers.openai_compatible:OpenAICompatible",
    "litellm_router": "llmport.providers.litellm_router:LiteLLMRouter",
    "fake": "llmport.testing.fake:FakeLLM",
}
#: Env var that, when set, selects the provider if DEFAULT_LLM is unset (in this order).
_DETECTION = (
    ("LITELLM_CHAT_MODEL", "litellm"),
    ("OPENAI_COMPATIBLE_BASE_URL", "openai_compatible"),
)
_lock = threading.Lock()
_entry_points_loaded = False
#: Cache key -> instance; see `cached()`. Re-entrant: building a group builds its members.
_instances: dict[Hashable, Any] = {}
_instances_lock = threading.RLock()


def register_provider(name: str, provider: type[BaseLLM] | str, *, replace: bool = False) -> None:
    """Make `provider` available as `get_llm(name)` and `DEFAULT_LLM=name`.

    `provider` is a `BaseLLM` subclass or a lazy `"module:Class"` path. Registering the
    same class again under the same name (say at import and through an entry point) is
    a no-op.

    Raises:
        ConfigurationError: the name is taken by another provider (pass `replace=True`),
            or the class is not a BaseLLM.
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
        if existing is not None and not replace and not _same_provider(existing, provider):
            raise ConfigurationError(
                f"provider {key!r} is already registered as {_path(existing)}; "
                "pass replace=True to override it"
            )
        if existing is None or replace or not isinstance(provider, str):
            _providers[key] = provider


def available_providers() -> list[str]:
    """Sorted names of every registered provider, entry points included."""
    _load_entry_points()
    return sorted(_providers)


def build_provider(name: str, settings: Mapping[str, Any], *, env_file: EnvFile = None) -> BaseLLM:
    """The provider registered as `name` with `settings`, from the cache when possible.

    Settings that are not config fields (such as `hooks` or FakeLLM's `script`) make a
    new instance that is not cached: they cannot be compared safely. `env_file` is a
    dotenv file read below the environment (see `BaseLLMConfig.load`).
    """
    provider = _resolve(name)
    fields = provider.config_class.model_fields
    if not set(settings) <= set(fields):
        if not env_file:
            return provider(**settings)
        own = {k: v for k, v in settings.items() if k in fields}
        config = provider.config_class.load(env_file=env_file, **own)
        return provider(config=config, **{k: v for k, v in settings.items() if k not in fields})
    # Loading a config costs ~1 ms; the same arguments and environment give the same config.
    quick = None if env_file else _quick_key(provider, settings)
    with _instances_lock:
        instance: BaseLLM | None = _instances.get(quick) if quick else None
    if instance is not None:
        return instance
    config = provider.config_class.load(env_file=env_file, **settings)
    instance = cached((provider, config_fingerprint(config)), lambda: provider(config=config))
    if quick is not None:
        with _instances_lock:
            _instances.setdefault(quick, instance)
    return instance


def cached(key: Hashable, build: Callable[[], _T]) -> _T:
    """The instance cached under `key`, built once with `build()` (thread-safe)."""
    with _instances_lock:
        instance = _instances.get(key)
        if instance is None:
            instance = _instances[key] = build()
        return instance


def config_fingerprint(config: BaseLLMConfig) -> str:
    """A digest of every effective setting; secrets enter it only as their own digests."""
    fields = {name: _canonical(getattr(config, name)) for name in type(config).model_fields}
    # Header values may be credentials (Authorization, api-key): keep only their digests.
    fields["extra_headers"] = {k: _digest(v) for k, v in config.extra_headers.items()}
    encoded = json.dumps([type(config).__qualname__, fields], sort_keys=True, default=repr)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    """A JSON-able, order-independent form of a setting value."""
    if isinstance(value, SecretStr):
        return {"sha256": _digest(value.get_secret_value())}
    if isinstance(value, BaseModel):
        return {name: _canonical(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, str) or value is None or isinstance(value, (int, float, bool)):
        return value
    return repr(value)


def _quick_key(provider: type[BaseLLM], settings: Mapping[str, Any]) -> Hashable | None:
    """A digest of the arguments and the provider's env variables, or None when the
    config class may read other sources (no env prefix, or a dotenv file)."""
    model_config = provider.config_class.model_config
    prefix = str(model_config.get("env_prefix") or "").upper()
    if not prefix or model_config.get("env_file"):
        return None
    environment = sorted(
        (k.upper(), v) for k, v in os.environ.items() if k.upper().startswith(prefix)
    )
    encoded = json.dumps([_canonical(dict(settings)), environment], sort_keys=True, default=repr)
    return ("arguments", provider, _digest(encoded))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


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


def _path(provider: type[BaseLLM] | str) -> str:
    """`"module:Class"` for a provider class or path."""
    if isinstance(provider, str):
        return provider
    return f"{provider.__module__}:{provider.__qualname__}"


def _same_provider(a: type[BaseLLM] | str, b: type[BaseLLM] | str) -> bool:
    """Whether two registrations name one class: the class, or a path that leads to it.

    A path is followed only through modules already imported: the case that matters is
    a module that registers its own class at import while an entry point names it. When
    the path's module is a package still being imported (the entry point names its
    re-export, the defining submodule registers first), a class of that package with the
    path's name is taken as the one it leads to; `_import_provider` then finds it there.
    """
    if a is b or _path(a) == _path(b):
        return True
    path, cls = (a, b) if isinstance(a, str) else (b, a)
    if not isinstance(path, str) or isinstance(cls, str):
        return False
    module_name, _, attribute = path.partition(":")
    module = sys.modules.get(module_name)
    if module is not None and hasattr(module, attribute):
        return getattr(module, attribute) is cls
    in_package = cls.__module__.startswith(module_name + ".")
    return in_package and cls.__qualname__ == attribute


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


def forget_instances() -> None:
    """Empty the instance cache; instances already handed out keep working."""
    with _instances_lock:
        _instances.clear()
