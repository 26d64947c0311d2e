"""Provider configuration from arguments and environment variables, and the retry policy."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from typing_extensions import Self

from llmport._env_file import read_env_file
from llmport._validation import MAX_TIMEOUT, check_header, check_header_value
from llmport.errors import ConfigurationError, ErrorKind
from llmport.response import LLMError

__all__ = ["DEFAULT_RETRY_ON", "BaseLLMConfig", "EnvFile", "RetryPolicy"]

#: A dotenv file to read settings from: a path, or None for none.
EnvFile = str | os.PathLike[str] | None

#: Header names whose values are credentials: masked in dumps, redacted from output.
_AUTH_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie"}
)
#: Auth headers whose value is `<scheme> <token>` (`Bearer <key>`); the others hold a key.
_SCHEME_HEADERS = frozenset({"authorization", "proxy-authorization"})
#: `<scheme> <token>`: a scheme word, any whitespace, then the token.
_SCHEMED_VALUE = re.compile(r"\s*[A-Za-z]+\s+(.*)", re.DOTALL)
_MASKED = "**********"  # what pydantic shows for a SecretStr

DEFAULT_RETRY_ON = frozenset(
    {ErrorKind.RATE_LIMIT, ErrorKind.SERVER, ErrorKind.TIMEOUT, ErrorKind.CONNECTION}
)


class RetryPolicy(BaseModel):
    """When and how long to wait before trying a failed call again.

    `max_attempts` counts the first try (1 = never retry). Backoff is exponential
    from `initial_backoff` up to `max_backoff`, with full jitter. A provider's
    `Retry-After` wins over the computed backoff, up to `max_retry_after`; no retry
    starts once `deadline` seconds have passed since the first attempt, and no wait
    is allowed to cross it. An error is retried when its kind is in `retry_on`, unless
    it is of a usually transient kind and says `retryable=False` (a provider's
    `_classify` knows this one will not pass, or nothing identified the failure).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=3, ge=1, le=20)
    initial_backoff: float = Field(default=0.5, ge=0)
    max_backoff: float = Field(default=8.0, ge=0)
    multiplier: float = Field(default=2.0, ge=1)
    jitter: bool = True
    deadline: float | None = Field(default=120.0, gt=0)
    max_retry_after: float = Field(default=60.0, ge=0)
    retry_on: frozenset[ErrorKind] = DEFAULT_RETRY_ON

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based), before jitter."""
        return min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))

    def next_delay(self, error: LLMError, attempt: int, elapsed: float) -> float | None:
        """Seconds to wait before the next attempt, or None when the call should stop."""
        if attempt >= self.max_attempts or error.kind not in self.retry_on:
            return None
        if error.kind.retryable and not error.retryable:
            return None  # this failure of a usually transient kind said it will not pass
        delay = self.backoff(attempt)
        if self.jitter:
            delay = random.uniform(0, delay)
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            delay = max(delay, error.retry_after)
        if self.deadline is not None and elapsed + delay >= self.deadline:
            return None
        return delay

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)


class BaseLLMConfig(BaseSettings):
    """Settings shared by every provider.

    Precedence, highest first: an explicit argument (`LiteLLM(temperature=0)` or
    `get_llm("litellm", temperature=0)`), then the environment variable named by the
    provider's prefix plus the field name in capitals (`LITELLM_TEMPERATURE`), then the
    same variable in a dotenv file when one is passed (`load(env_file=".env")`; never by
    default), then the default below. Nested retry settings use a double underscore
    (`LITELLM_RETRY__MAX_ATTEMPTS=5`); `extra_params` and `extra_headers` take JSON.

    `timeout` bounds connecting and each wait for data, not the call. `total_timeout`
    (None: no bound) bounds the whole call, every attempt, backoff wait and the attempt
    in flight included; reaching it ends the call with kind `timeout`.

    `input_cost_per_token`, `output_cost_per_token` and `cached_input_cost_per_token`
    (USD) price the model when the bundled price map lacks it or is wrong for it.
    """

    model_config = SettingsConfigDict(
        env_prefix="LLMPORT_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
        frozen=True,
        # Fields such as `model_list` are settings, not pydantic API: protect only the
        # names pydantic and pydantic-settings define (pydantic < 2.10 warned otherwise).
        protected_namespaces=("model_validate", "model_dump", "settings_customise_sources"),
        hide_input_in_errors=True,  # a rejected value may be a key: errors never echo it
    )

    chat_model: str = ""
    api_key: SecretStr | None = None
    api_base: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, gt=0)
    seed: int | None = None
    timeout: float = Field(default=60.0, gt=0, le=MAX_TIMEOUT)
    total_timeout: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT)
    extra_params: dict[str, Any] = Field(default_factory=dict)
    extra_headers: dict[str, str] = Field(default_factory=dict, repr=False)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    #: USD per token (finite, >= 0); each overrides the bundled price map (see `llmport.cost`).
    input_cost_per_token: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    output_cost_per_token: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    cached_input_cost_per_token: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    #: Fields that must be non-empty for the provider to work.
    required_fields: ClassVar[tuple[str, ...]] = ("chat_model",)

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("api_key")
    @classmethod
    def _key_fits_a_header(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_header_value("api_key", value.get_secret_value())
        return value

    @field_validator("extra_headers")
    @classmethod
    def _headers_fit_http(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            check_header(name, value)
        return headers

    @field_serializer("extra_headers")
    def _mask_auth_headers(self, headers: dict[str, str]) -> dict[str, str]:
        # Dumps show auth headers as api_key is shown; the provider reads the field itself.
        return mask_auth_headers(headers)

    @field_validator("api_base", mode="before")
    @classmethod
    def _empty_base_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets `field` for this config class."""
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then a dotenv file (its own keys only)."""
        return (
            init_settings,
            env_settings,
            _OwnKeysOnly(settings_cls, dotenv_settings),
            file_secret_settings,
        )

    @classmethod
    def load(cls, *, env_file: EnvFile = None, **overrides: Any) -> Self:
        """Build from arguments, the environment and, if given, a dotenv file.

        Errors name the variable to fix. Variables already in the environment win over
        the file's; keys of the file that are not this config's settings are ignored.

        Raises:
            ConfigurationError: a value is invalid or a required setting is missing.
        """
        unknown = sorted(set(overrides) - set(cls.model_fields))
        if unknown:
            known = ", ".join(sorted(cls.model_fields))
            raise ConfigurationError(
                f"{cls.__name__} has no setting {', '.join(map(repr, unknown))}; known: {known}. "
                "Pass provider-specific parameters in extra_params={...}."
            )
        try:
            # `_env_file` is a pydantic-settings argument, not a field (hidden from mypy).
            sources: dict[str, Any] = {}
            if env_file:
                read_env_file(env_file)  # a missing or binary file is named, not ignored
                sources["_env_file"] = env_file
            config = cls(**overrides, **sources)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])} ({cls.env_name(str(err['loc'][0]))}): "
                f"{err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)
            )
            raise ConfigurationError(f"invalid {cls.__name__}: {problems}") from None
        config.check_required()
        return config

    def check_required(self) -> None:
        """Raise `ConfigurationError` naming the env var of the first missing setting."""
        for name in self.required_fields:
            value = getattr(self, name)
            if not value or (isinstance(value, str) and not value.strip()):
                raise ConfigurationError(
                    f"{type(self).__name__}.{name} is not set: set the environment variable "
                    f"{self.env_name(name)} or pass {name}=... explicitly."
                )

    def secret_values(self) -> tuple[str, ...]:
        """Every secret this config holds, for redaction."""
        secrets: list[str] = []
        if self.api_key is not None:
            secrets.append(self.api_key.get_secret_value())
        secrets.extend(header_secrets(self.extra_headers))
        # Shorter values are not real credentials, and redacting them would mangle text.
        return tuple(s for s in secrets if len(s) >= 6)


def mask_auth_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """`headers` with the value of each auth header shown as a masked `SecretStr` is."""
    return {k: _MASKED if str(k).lower() in _AUTH_HEADERS else v for k, v in headers.items()}


def header_secrets(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The credentials in auth headers: an `Authorization` value's token (without a
    scheme such as `Bearer`), or the whole value when it has no scheme or its token is
    too short to mask; a key header's (`X-Api-Key`, `Cookie`) whole value, and its
    token too when it looks like one.

    Masking the token masks the whole value too and keeps the scheme, so an echoed
    `Bearer <key>` reads `Bearer [REDACTED]` whether the key was configured as
    `api_key` or sent in a header. A key header has no scheme: a first word before a
    space is part of its key.
    """
    secrets: list[str] = []
    for name, value in headers.items():
        if name.lower() in _AUTH_HEADERS and isinstance(value, str):
            schemed = _SCHEMED_VALUE.fullmatch(value)
            token = schemed.group(1).strip() if schemed else ""
            if len(token) < 6 or name.lower() not in _SCHEME_HEADERS:
                secrets.append(value)
            secrets.append(token)
    return tuple(s for s in secrets if len(s) >= 6)


class _OwnKeysOnly(PydanticBaseSettingsSource):
    """A dotenv source that drops the file's other keys.

    A `.env` file is shared with other tools (`OPENAI_API_KEY`, `LITELLM_LOG`, ...);
    with `extra="forbid"` pydantic-settings would reject each of them.
    """

    def __init__(self, settings_cls: type[BaseSettings], source: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self._source = source

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: `__call__` returns the wrapped source's values directly."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        known: set[str] = set()
        for name, field in self.settings_cls.model_fields.items():
            known.add(name)
            if field.alias:
                known.add(field.alias)
            if isinstance(field.validation_alias, str):
                known.add(field.validation_alias)
            elif isinstance(field.validation_alias, AliasChoices):
                known.update(c for c in field.validation_alias.choices if isinstance(c, str))
        known |= {name.lower() for name in known}
        return {key: value for key, value in self._source().items() if key in known}
