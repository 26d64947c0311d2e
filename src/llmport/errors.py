"""Error kinds, the exception tree (defined in `llmport.exceptions`), and `classify()`.

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

Provider failures never raise from `chat_completions`: `classify()` turns any
exception (litellm's, httpx's, aiohttp's, the standard library's) into an
`LLMError` with a redacted message, and the response carries it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from llmport.exceptions import (
    AuthenticationError,
    BadResponseError,
    BudgetExceededError,
    BudgetUnavailableError,
    ConfigurationError,
    ContentFilterError,
    ContextLengthError,
    ErrorKind,
    InvalidRequestError,
    LLMConnectionError,
    LLMPortError,
    LLMTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    error_from_llm_error,
)
from llmport.redaction import redact, short_message, summarise_body
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
    "classify",
    "error_from_llm_error",
    "redact",
]


# --- classification ----------------------------------------------------------------------

_KIND_BY_STATUS = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTH,
    402: ErrorKind.QUOTA,
    403: ErrorKind.PERMISSION,
    404: ErrorKind.NOT_FOUND,
    408: ErrorKind.TIMEOUT,
    409: ErrorKind.SERVER,
    413: ErrorKind.CONTEXT_LENGTH,
    422: ErrorKind.INVALID_REQUEST,
    429: ErrorKind.RATE_LIMIT,
    504: ErrorKind.TIMEOUT,
}

# Exception class names (litellm, openai, httpx, aiohttp) -> kind. Matched along the MRO so
# that litellm is never imported just to classify.
_KIND_BY_CLASS_NAME = {
    "ContextWindowExceededError": ErrorKind.CONTEXT_LENGTH,
    "ContentPolicyViolationError": ErrorKind.CONTENT_FILTER,
    "BudgetExceededError": ErrorKind.QUOTA,
    "PaymentRequiredError": ErrorKind.QUOTA,
    "BlockedPiiEntityError": ErrorKind.CONTENT_FILTER,
    "GuardrailRaisedException": ErrorKind.CONTENT_FILTER,
    "SensitiveDataRouteException": ErrorKind.CONTENT_FILTER,
    "ModifyResponseException": ErrorKind.CONTENT_FILTER,
    "ModelNotMappedError": ErrorKind.INVALID_REQUEST,
    "RateLimitError": ErrorKind.RATE_LIMIT,
    "AuthenticationError": ErrorKind.AUTH,
    "PermissionDeniedError": ErrorKind.PERMISSION,
    "NotFoundError": ErrorKind.NOT_FOUND,
    "UnsupportedParamsError": ErrorKind.INVALID_REQUEST,
    "JSONSchemaValidationError": ErrorKind.BAD_RESPONSE,
    "APIResponseValidationError": ErrorKind.BAD_RESPONSE,
    "UnprocessableEntityError": ErrorKind.INVALID_REQUEST,
    "BadRequestError": ErrorKind.INVALID_REQUEST,
    "InvalidRequestError": ErrorKind.INVALID_REQUEST,
    "Timeout": ErrorKind.TIMEOUT,
    "APITimeoutError": ErrorKind.TIMEOUT,
    "TimeoutException": ErrorKind.TIMEOUT,
    "ServerTimeoutError": ErrorKind.TIMEOUT,
    "TimeoutError": ErrorKind.TIMEOUT,
    "ServiceUnavailableError": ErrorKind.SERVER,
    "InternalServerError": ErrorKind.SERVER,
    "BadGatewayError": ErrorKind.SERVER,
    "APIConnectionError": ErrorKind.CONNECTION,
    "ConnectError": ErrorKind.CONNECTION,
    "NetworkError": ErrorKind.CONNECTION,
    "RemoteProtocolError": ErrorKind.CONNECTION,
    "ClientConnectionError": ErrorKind.CONNECTION,
    "ServerDisconnectedError": ErrorKind.CONNECTION,
    "ClientPayloadError": ErrorKind.CONNECTION,
    "ConnectionError": ErrorKind.CONNECTION,
    "JSONDecodeError": ErrorKind.BAD_RESPONSE,
    "RecursionError": ErrorKind.BAD_RESPONSE,
}
# A body that does not match its Content-Encoding, wherever a client wraps the error.
_DECODING_FAILURES = frozenset({"DecodingError", "ContentEncodingError"})

_CONTEXT_HINTS = (
    "context length",
    "context_length",
    "maximum context",
    "context window",
    "too many tokens",
)
_QUOTA_HINTS = ("insufficient_quota", "exceeded your current quota", "billing", "budget")
_FILTER_HINTS = ("content_filter", "content policy", "content management policy", "safety")
# litellm reports a refused or reset connection as InternalServerError("Connection error.").
_CONNECTION_HINTS = (
    "connection error",
    "connection refused",
    "connection reset",
    "connecterror",
    "apiconnectionerror",
    "peer closed connection",
    "incomplete chunked read",
    "payload is not completed",  # aiohttp's cut body, which litellm reports as a 500
)
_TIMEOUT_HINTS = ("timed out", "timeout")


def kind_for_status(status_code: int, message: str = "") -> ErrorKind:
    """The error kind for an HTTP status, refined by hints in the provider's message."""
    lowered = message.lower()
    kind = _KIND_BY_STATUS.get(status_code)
    if kind is None:
        kind = ErrorKind.SERVER if status_code >= 500 else ErrorKind.INVALID_REQUEST
    return _refine(kind, lowered)


def _refine(kind: ErrorKind, lowered: str) -> ErrorKind:
    if kind in (ErrorKind.INVALID_REQUEST, ErrorKind.BAD_RESPONSE) and any(
        hint in lowered for hint in _CONTEXT_HINTS
    ):
        return ErrorKind.CONTEXT_LENGTH
    if kind is ErrorKind.INVALID_REQUEST and any(hint in lowered for hint in _FILTER_HINTS):
        return ErrorKind.CONTENT_FILTER
    if kind in (ErrorKind.RATE_LIMIT, ErrorKind.QUOTA) and any(h in lowered for h in _QUOTA_HINTS):
        return ErrorKind.QUOTA
    if kind is ErrorKind.SERVER:
        # litellm wraps transport failures (even mid-stream) in server-looking classes.
        if any(hint in lowered for hint in _TIMEOUT_HINTS):
            return ErrorKind.TIMEOUT
        if "overloaded" not in lowered and any(hint in lowered for hint in _CONNECTION_HINTS):
            return ErrorKind.CONNECTION
    return kind


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from `Retry-After` / `retry-after-ms` headers (delta or HTTP date)."""
    if headers is None:
        return None
    try:
        lookup = {str(k).lower(): str(v) for k, v in dict(headers).items()}
    except (TypeError, ValueError):
        return None
    if "retry-after" not in lookup and "retry-after-ms" not in lookup:
        # A LiteLLM proxy forwards the upstream's headers as `llm_provider-<name>`.
        for name in ("retry-after-ms", "retry-after"):
            if f"llm_provider-{name}" in lookup:
                lookup[name] = lookup[f"llm_provider-{name}"]
    if "retry-after-ms" in lookup:
        try:
            return max(0.0, float(lookup["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lookup.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    # HTTP-date form; imported here because `email` is costly and this form is rare.
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None


def classify(
    exc: BaseException,
    *,
    status_code: int | None = None,
    headers: Any = None,
    secrets: Iterable[str] = (),
) -> LLMError:
    """Map any failure to an `LLMError`: kind, redacted message, retryability, Retry-After."""
    status = status_code if status_code is not None else _status_of(exc)
    message = _message_of(exc)
    lowered = message.lower()
    kind: ErrorKind | None = None
    for cls in type(exc).__mro__:
        kind = _KIND_BY_CLASS_NAME.get(cls.__name__)
        if kind is not None:
            break
    known = True
    if _is_decoding_failure(exc):
        kind, message = ErrorKind.BAD_RESPONSE, "the body does not match its Content-Encoding"
    elif _is_broken_http(exc):  # the parser's status (400) is not one the server sent
        kind, status, message = ErrorKind.BAD_RESPONSE, None, "the response is not valid HTTP"
    elif kind is None or (kind is ErrorKind.SERVER and status is not None and status < 500):
        if status is not None:
            kind = kind_for_status(status, message)
        elif isinstance(exc, (TimeoutError,)):
            kind = ErrorKind.TIMEOUT
        elif isinstance(exc, (ConnectionError, OSError)):
            kind = ErrorKind.CONNECTION
        elif isinstance(exc, ValueError):
            kind = ErrorKind.BAD_RESPONSE
        else:  # nothing says what went wrong: trying again is a guess, so it is not retried
            kind, known = ErrorKind.SERVER, False
    kind = _refine(kind, lowered)
    retry_after = parse_retry_after(headers if headers is not None else _headers_of(exc))
    return LLMError(
        kind=kind,
        message=redact(f"{kind.value}: {message}" if message else kind.value, secrets),
        retryable=kind.retryable and known,
        retry_after=retry_after,
        status_code=status,
    )


def _is_decoding_failure(exc: BaseException) -> bool:
    link: BaseException | None = exc
    for _ in range(8):  # the exceptions `exc` was raised from, outermost first
        if link is None:
            return False
        if any(cls.__name__ in _DECODING_FAILURES for cls in type(link).__mro__):
            return True
        link = link.__cause__ or link.__context__
    return False


def _is_broken_http(exc: BaseException) -> bool:
    """Whether the HTTP parser could not read the response (its head, or bytes after it).

    aiohttp raises `ClientResponseError` from its parser's `HttpProcessingError`, with
    the parser's code as the status; a body cut short is a `ClientPayloadError`
    instead, and stays a connection failure. httpx raises from h11's
    `RemoteProtocolError`, which also reports a connection closed too early: that
    one stays a connection failure.
    """
    link: BaseException | None = exc
    for _ in range(8):  # the exceptions `exc` was raised from, outermost first
        if link is None:
            return False
        cause = link.__cause__
        if type(link).__name__ == "ClientResponseError" and cause is not None:
            return any(cls.__name__ == "HttpProcessingError" for cls in type(cause).__mro__)
        if type(link).__module__.split(".")[0] == "h11":
            return "closed connection" not in str(link)
        link = cause or link.__context__
    return False


def _status_of(exc: BaseException) -> int | None:
    for candidate in (exc, getattr(exc, "response", None)):
        value = getattr(candidate, "status_code", None) or getattr(candidate, "status", None)
        if isinstance(value, int) and 100 <= value <= 999:
            return value
    return None


def _headers_of(exc: BaseException) -> Any:
    for name in ("litellm_response_headers", "headers"):
        headers = getattr(exc, name, None)
        if headers:
            return headers
    response = getattr(exc, "response", None)
    return getattr(response, "headers", None)


def _message_of(exc: BaseException) -> str:
    body = _status_body(exc)
    if body is not None:  # never the exception's text: it holds the upstream body
        return f"{summarise_body(body[1])} (HTTP {body[0]})"
    text = str(getattr(exc, "message", None) or exc or type(exc).__name__)
    # litellm prefixes messages with "litellm.SomeError: SomeError: OpenAIException - {body}",
    # sometimes several times over, and may append " Original exception: ..." (a repeat).
    text = text.strip().split(" Original exception:", 1)[0]
    # aiohttp puts the response head, every header the server sent, in some messages.
    text = _RESPONSE_HEAD.sub("", text).strip(" :,")
    previous = None
    while previous != text:
        previous = text
        text = _LITELLM_PREFIX.sub("", text, count=1).strip()
    if _LOOKS_LIKE_JSON.match(text):  # an upstream body in the text: described, not copied
        return summarise_body(text)
    return short_message(text) or type(exc).__name__


def _status_body(exc: BaseException) -> tuple[int, str | Mapping[str, Any]] | None:
    """The status and body of an HTTP error answer, as the openai SDK (and litellm after
    it) keeps them on the exception: the decoded JSON, else the text."""
    link: BaseException | None = exc
    for _ in range(8):
        if link is None:
            return None
        body, status = getattr(link, "body", None), getattr(link, "status_code", None)
        if isinstance(body, (str, Mapping)) and isinstance(status, int) and 300 <= status <= 999:
            return status, body
        link = link.__cause__ or link.__context__
    return None


#: The start of a JSON object or array; not an OS error's "[Errno 111] Connection refused".
_LOOKS_LIKE_JSON = re.compile(r'\{|\[\s*(?:[\[{"\]\d-]|true|false|null|$)')

_RESPONSE_HEAD = re.compile(r"<RawResponseMessage\(.*", re.DOTALL)
_LITELLM_PREFIX = re.compile(r"^(?:litellm\.\w+:|\w+(?:Error|Exception):|\w+Exception\s*-)")
