"""LiteLLM Router provider: model groups, fallbacks, rpm/tpm limits and cooldowns.

`LiteLLMRouter` wraps one `litellm.Router` built from a model list. Without Redis
settings its routing state (usage counters, cooldowns) lives in this process; with
`REDIS_URL` (or host/port/password) every worker that points at the same Redis shares
it, so an rpm limit holds across processes and a failing deployment is cooled down for
all of them.

Retries: llmport's `RetryPolicy` is the one retry layer. The Router is built with
`num_retries=0` and its own retry settings are refused; each llmport attempt is one
Router call, which may still walk the configured `fallbacks` (that is routing, not
retrying). A retried attempt is routed again, so it avoids cooled-down deployments.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsConfigDict
from typing_extensions import Self

from llmport.base import ChatRequest
from llmport.config import header_secrets, mask_auth_headers
from llmport.errors import ConfigurationError, ErrorKind, classify
from llmport.providers._backend_keys import backend_key_values
from llmport.providers.litellm import LiteLLM, LiteLLMConfig, import_litellm
from llmport.response import LLMError

__all__ = ["LiteLLMRouter", "LiteLLMRouterConfig"]

RoutingStrategy = Literal[
    "simple-shuffle",
    "least-busy",
    "usage-based-routing",
    "usage-based-routing-v2",
    "latency-based-routing",
    "cost-based-routing",
]

#: Router settings that would add a second retry layer on top of llmport's.
_RETRY_SETTINGS = frozenset({"num_retries", "retry_policy", "model_group_retry_policy"})
_CALLBACK_LISTS = (
    "callbacks",
    "success_callback",
    "failure_callback",
    "_async_success_callback",
    "_async_failure_callback",
)
_OWN_SETTINGS = frozenset(
    {"model_list", "routing_strategy", "fallbacks", "cooldown_time", "allowed_fails"}
    | {"disable_cooldowns", "redis_url", "redis_host", "redis_port", "redis_password"}
)


def _env(field: str) -> AliasChoices:
    """Read `field` from `LITELLM_ROUTER_<FIELD>`, else from the shared `<FIELD>` variable."""
    return AliasChoices(f"LITELLM_ROUTER_{field.upper()}", field.upper())


class LiteLLMRouterConfig(LiteLLMConfig):
    """Router settings, read from `LITELLM_ROUTER_*` environment variables.

    `LITELLM_ROUTER_MODEL_LIST` (required, JSON: litellm's list of
    `{"model_name": group, "litellm_params": {...}, "rpm": n}` deployments),
    `LITELLM_ROUTER_CHAT_MODEL` (the group to call; default: the first group),
    `_ROUTING_STRATEGY` (default `simple-shuffle`; rpm/tpm limits are enforced only by
    `usage-based-routing-v2`), `_FALLBACKS` (JSON, e.g. `[{"primary": ["backup"]}]`),
    `_COOLDOWN_TIME`, `_ALLOWED_FAILS`, `_DISABLE_COOLDOWNS`, `_ROUTER_SETTINGS` (JSON:
    any other `litellm.Router` argument), plus the LiteLLM settings (`_TEMPERATURE`,
    `_TIMEOUT`, `_RETRY__*`, ...). Redis: `LITELLM_ROUTER_REDIS_URL` or `REDIS_URL`, or
    `REDIS_HOST` / `REDIS_PORT` / `REDIS_PASSWORD` (each also with the prefix). Keys
    belong in each deployment's `litellm_params`, not in `api_key`.
    """

    model_config = SettingsConfigDict(env_prefix="LITELLM_ROUTER_", populate_by_name=True)

    model_list: list[dict[str, Any]] = Field(default_factory=list, repr=False)
    routing_strategy: RoutingStrategy = "simple-shuffle"
    fallbacks: list[dict[str, list[str]]] = Field(default_factory=list)
    cooldown_time: float | None = Field(default=None, ge=0)
    allowed_fails: int | None = Field(default=None, ge=0)
    disable_cooldowns: bool = False
    router_settings: dict[str, Any] = Field(default_factory=dict)
    redis_url: SecretStr | None = Field(default=None, validation_alias=_env("redis_url"))
    redis_host: str | None = Field(default=None, validation_alias=_env("redis_host"))
    redis_port: int | None = Field(default=None, gt=0, validation_alias=_env("redis_port"))
    redis_password: SecretStr | None = Field(default=None, validation_alias=_env("redis_password"))

    required_fields = ("model_list",)

    @field_validator("redis_url", "redis_host", "redis_password", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("model_list")
    @classmethod
    def _check_model_list(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, deployment in enumerate(value):
            params = deployment.get("litellm_params")
            if not isinstance(deployment.get("model_name"), str) or not isinstance(params, dict):
                raise ValueError(
                    f"model_list[{index}] needs a 'model_name' string and a "
                    "'litellm_params' dict with at least 'model'"
                )
            for name in ("num_retries", "max_retries"):
                if params.get(name):
                    raise ValueError(
                        f"model_list[{index}].litellm_params.{name} is set: llmport's retry "
                        "policy is the one retry layer; set retry=RetryPolicy(...) instead"
                    )
        return value

    @field_validator("router_settings")
    @classmethod
    def _check_router_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        retries = sorted(_RETRY_SETTINGS & set(value))
        if retries:
            raise ValueError(
                f"{', '.join(retries)}: llmport's retry policy is the one retry layer; "
                "set retry=RetryPolicy(...) instead"
            )
        owned = sorted(_OWN_SETTINGS & set(value))
        if owned:
            raise ValueError(f"{', '.join(owned)} have their own settings; set them directly")
        return value

    @field_validator("api_key", "api_base")
    @classmethod
    def _not_for_a_router(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError("set it per deployment, in model_list[i].litellm_params")
        return value

    @field_serializer("model_list")
    def _mask_deployment_secrets(self, model_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Dumps show deployment keys and auth headers as api_key is shown.
        return [_masked_deployment(deployment) for deployment in model_list]

    @model_validator(mode="after")
    def _default_group(self) -> Self:
        if not self.chat_model and self.model_list:
            object.__setattr__(self, "chat_model", self.model_list[0]["model_name"])
        return self

    @property
    def uses_redis(self) -> bool:
        """True when routing state is shared through Redis."""
        return self.redis_url is not None or self.redis_host is not None

    def router_kwargs(self) -> dict[str, Any]:
        """The keyword arguments for `litellm.Router`, secrets included."""
        kwargs: dict[str, Any] = {
            **self.router_settings,
            "model_list": copy.deepcopy(self.model_list),
            "routing_strategy": self.routing_strategy,
            "fallbacks": copy.deepcopy(self.fallbacks),
            "num_retries": 0,
        }
        if self.disable_cooldowns:
            kwargs["disable_cooldowns"] = True
        if self.cooldown_time is not None:
            kwargs["cooldown_time"] = self.cooldown_time
        if self.allowed_fails is not None:
            kwargs["allowed_fails"] = self.allowed_fails
        if self.redis_url is not None:
            kwargs["redis_url"] = self.redis_url.get_secret_value()
        elif self.redis_host is not None:
            kwargs["redis_host"] = self.redis_host
            kwargs["redis_port"] = self.redis_port or 6379
        if self.uses_redis and self.redis_password is not None:
            kwargs["redis_password"] = self.redis_password.get_secret_value()
        return kwargs

    def secret_values(self) -> tuple[str, ...]:
        """The inherited secrets plus deployment keys and Redis credentials."""
        secrets = list(super().secret_values())
        for deployment in self.model_list:
            key = deployment["litellm_params"].get("api_key")
            if isinstance(key, str) and key.startswith("os.environ/"):  # litellm resolves these
                key = os.environ.get(key.removeprefix("os.environ/"))
            if isinstance(key, str) and len(key) >= 6:
                secrets.append(key)
            for name in _DEPLOYMENT_HEADERS:
                headers = deployment["litellm_params"].get(name)
                if isinstance(headers, Mapping):
                    secrets.extend(header_secrets(headers))
            model = deployment["litellm_params"].get("model")
            if isinstance(model, str):
                secrets.extend(backend_key_values(model))
        for value in (self.redis_password, self.redis_url):
            if value is not None and len(value.get_secret_value()) >= 6:
                secrets.append(value.get_secret_value())
        return tuple(secrets)


#: `litellm_params` entries that hold HTTP headers for the deployment.
_DEPLOYMENT_HEADERS = ("extra_headers", "headers")
#: `litellm_params` entries that hold credentials, masked in dumps.
_DEPLOYMENT_SECRETS = frozenset(
    {
        "api_key",
        "aws_secret_access_key",
        "aws_session_token",
        "azure_ad_token",
        "client_secret",
        "vertex_credentials",
    }
)
_MASKED = "**********"  # what pydantic shows for a SecretStr


def _masked_deployment(deployment: dict[str, Any]) -> dict[str, Any]:
    """`deployment` as a dump shows it: credentials and auth header values masked."""
    params = deployment.get("litellm_params")
    if not isinstance(params, Mapping):
        return deployment
    masked: dict[str, Any] = {
        k: _MASKED if k in _DEPLOYMENT_SECRETS and v is not None else v for k, v in params.items()
    }
    for name in _DEPLOYMENT_HEADERS:
        headers = masked.get(name)
        if isinstance(headers, Mapping):
            masked[name] = mask_auth_headers(headers)
    return {**deployment, "litellm_params": masked}


def _has_redis() -> bool:
    return importlib.util.find_spec("redis") is not None


class LiteLLMRouter(LiteLLM):
    """Calls a model group through one `litellm.Router` (built on the first call).

    Use it as a context manager or call `close()` when done with an instance: the Router
    registers process-wide litellm callbacks, and `close()` removes them.
    """

    provider_name = "litellm_router"
    config_class = LiteLLMRouterConfig
    config: LiteLLMRouterConfig

    def __init__(self, config: LiteLLMRouterConfig | None = None, **settings: Any) -> None:
        """Build from an explicit config, or from `settings` plus the environment.

        Raises:
            ConfigurationError: a setting is invalid or the model list is missing.
        """
        super().__init__(config, **settings)
        self._router: Any = None
        self._router_lock = threading.Lock()

    @property
    def router(self) -> Any:
        """The `litellm.Router`, built (and litellm imported) on first use."""
        return self._router or self._build_router()

    def completion_kwargs(self, request: ChatRequest) -> dict[str, Any]:
        """The keyword arguments passed to `Router.completion` for `request`."""
        kwargs = super().completion_kwargs(request)
        if "metadata" in kwargs:  # the Router writes into it; keep the request's copy clean
            kwargs["metadata"] = dict(kwargs["metadata"])
        return kwargs

    def _prepare(self) -> None:
        super()._prepare()
        if self._router is None:
            self._build_router()

    def _build_router(self) -> Any:
        with self._router_lock:
            if self._router is None:
                if self.config.uses_redis and not _has_redis():
                    raise ConfigurationError(
                        "LiteLLMRouter with Redis settings needs the redis package: "
                        "pip install 'llmport[router]'"
                    )
                self._router = import_litellm().Router(**self.config.router_kwargs())
            return self._router

    def _client(self) -> Any:
        """The Router: every call, buffered or streamed, goes through it."""
        return self.router

    def _classify(self, exc: BaseException) -> LLMError:
        names = {cls.__name__ for cls in type(exc).__mro__}
        if "RouterRateLimitError" in names:
            # Every deployment of the group is cooling down or full: a ValueError to litellm,
            # a rate limit to the caller, with the shortest remaining cooldown as Retry-After.
            error = classify(exc, status_code=429, secrets=self._secrets)
            cooldown = getattr(exc, "cooldown_time", None)
            wait = float(cooldown) if isinstance(cooldown, (int, float)) and cooldown > 0 else None
            return replace(error, retry_after=wait)
        error = super()._classify(exc)
        if error.kind is ErrorKind.RATE_LIMIT and "Deployment over" in str(exc):
            # One deployment hit its rpm/tpm limit (a peer raced us to the last slot). Its
            # Retry-After (60 s) is about that deployment; the next attempt routes elsewhere.
            return replace(error, retry_after=None)
        return error

    def __enter__(self) -> Self:
        """Return the provider; `close()` runs on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Unhook the Router."""
        self.close()

    def close(self) -> None:
        """Unhook the Router's process-wide litellm callbacks; the next call builds anew."""
        with self._router_lock:
            router, self._router = self._router, None
            self._prepared = self._aprepared = False  # the next call builds the Router again
        if router is None:
            return
        router.discard()
        litellm = import_litellm()
        for name in ("leastbusy_logger", "lowesttpm_logger", "lowesttpm_logger_v2"):
            retire = getattr(getattr(router, name, None), "retire", None)
            if retire is not None:
                retire()  # stops the task that syncs usage counters to Redis
        for name in _CALLBACK_LISTS:
            callbacks = getattr(litellm, name, None)
            if isinstance(callbacks, list):
                # The routing strategy's own logger shares the Router's cache; discard() misses it.
                callbacks[:] = [
                    c for c in callbacks if getattr(c, "router_cache", None) is not router.cache
                ]
