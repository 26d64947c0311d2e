"""Error kinds and the exception tree (data only: no classification here).

    LLMPortError
    ├── ConfigurationError          (also a ValueError: bad settings or arguments, raised at once)
    └── ProviderError               (raised only by LLMResponse.raise_for_status())
        ├── AuthenticationError         auth
        ├── PermissionDeniedError       permission
        ├── NotFoundError               not_found
        ├── RateLimitError              rate_limit
        ├── QuotaExceededError          quota
        ├── InvalidRequestError         invalid_request
        │   ├── ContextLengthError      context_length
        │   └── ContentFilterError      content_filter
        ├── ServerError                 server
        ├── BadResponseError            bad_response
        ├── LLMTimeoutError             timeout
        ├── LLMConnectionError          connection
        ├── BudgetExceededError         budget (refused before any I/O)
        └── BudgetUnavailableError      budget_unavailable

`llmport.errors` re-exports every name here and adds `classify()`.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmport.response import LLMError

__all__ = [
    "AuthenticationError",
    "BadResponseError",
    "BudgetExceededError",
    "BudgetUnavailableError",
    "ConfigurationError",
    "ContentFilterError",
    "ContextLengthError",
    "ErrorKind",
    "InvalidRequestError",
    "LLMConnectionError",
    "LLMPortError",
    "LLMTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitError",
    "ServerError",
    "error_from_llm_error",
]


class ErrorKind(str, enum.Enum):
    """Provider-neutral reason a call failed."""

    RATE_LIMIT = "rate_limit"
    QUOTA = "quota"
    AUTH = "auth"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    INVALID_REQUEST = "invalid_request"
    CONTEXT_LENGTH = "context_length"
    CONTENT_FILTER = "content_filter"
    SERVER = "server"
    BAD_RESPONSE = "bad_response"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    BUDGET = "budget"
    BUDGET_UNAVAILABLE = "budget_unavailable"

    @property
    def retryable(self) -> bool:
        """Whether a failure of this kind may succeed when tried again."""
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {ErrorKind.RATE_LIMIT, ErrorKind.SERVER, ErrorKind.TIMEOUT, ErrorKind.CONNECTION}
)


class LLMPortError(Exception):
    """Base of every exception llmport raises."""


class ConfigurationError(LLMPortError, ValueError):
    """A setting or argument is wrong; the message names the fix."""


class ProviderError(LLMPortError):
    """A call failed; raised by `LLMResponse.raise_for_status()`."""

    kind: ErrorKind = ErrorKind.SERVER

    def __init__(self, error: LLMError) -> None:
        super().__init__(error.message)
        self.error = error

    @property
    def retryable(self) -> bool:
        """Whether trying again may help."""
        return self.error.retryable

    @property
    def retry_after(self) -> float | None:
        """Seconds the provider asked us to wait, if it said."""
        return self.error.retry_after

    @property
    def status_code(self) -> int | None:
        """HTTP status of the failed call, when there was one."""
        return self.error.status_code


class AuthenticationError(ProviderError):
    """The API key is missing, wrong or expired."""

    kind = ErrorKind.AUTH


class PermissionDeniedError(ProviderError):
    """The key is valid but may not use this model or resource."""

    kind = ErrorKind.PERMISSION


class NotFoundError(ProviderError):
    """The model or endpoint does not exist."""

    kind = ErrorKind.NOT_FOUND


class RateLimitError(ProviderError):
    """Too many requests; wait `retry_after` seconds when given."""

    kind = ErrorKind.RATE_LIMIT


class QuotaExceededError(ProviderError):
    """The account's quota or budget is used up; retrying will not help."""

    kind = ErrorKind.QUOTA


class InvalidRequestError(ProviderError):
    """The provider rejected the request as malformed."""

    kind = ErrorKind.INVALID_REQUEST


class ContextLengthError(InvalidRequestError):
    """The prompt plus requested output exceed the model's context window."""

    kind = ErrorKind.CONTEXT_LENGTH


class ContentFilterError(InvalidRequestError):
    """The provider's content policy blocked the request or the answer."""

    kind = ErrorKind.CONTENT_FILTER


class ServerError(ProviderError):
    """The provider failed (5xx, overloaded)."""

    kind = ErrorKind.SERVER


class BadResponseError(ProviderError):
    """The provider answered with something that is not a usable completion."""

    kind = ErrorKind.BAD_RESPONSE


class LLMTimeoutError(ProviderError):
    """The call did not finish within the timeout."""

    kind = ErrorKind.TIMEOUT


class LLMConnectionError(ProviderError):
    """The provider could not be reached or dropped the connection."""

    kind = ErrorKind.CONNECTION


class BudgetExceededError(ProviderError):
    """The tenant has reached its `Budget` for the period; nothing was sent."""

    kind = ErrorKind.BUDGET


class BudgetUnavailableError(ProviderError):
    """The budget's store (Redis) could not be reached and the budget fails closed."""

    kind = ErrorKind.BUDGET_UNAVAILABLE


_EXCEPTION_BY_KIND: dict[ErrorKind, type[ProviderError]] = {
    cls.kind: cls
    for cls in (
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        RateLimitError,
        QuotaExceededError,
        InvalidRequestError,
        ContextLengthError,
        ContentFilterError,
        ServerError,
        BadResponseError,
        LLMTimeoutError,
        LLMConnectionError,
        BudgetExceededError,
        BudgetUnavailableError,
    )
}


def error_from_llm_error(error: LLMError) -> ProviderError:
    """The typed exception for an `LLMError`."""
    return _EXCEPTION_BY_KIND[error.kind](error)
