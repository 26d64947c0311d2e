"""classify(): every failure maps to one error kind; redaction keeps secrets out."""

from __future__ import annotations

import importlib.metadata
import inspect
import re
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmport import ErrorKind, OpenAICompatible, RetryPolicy, classify
from llmport.errors import kind_for_status, parse_retry_after
from llmport.redaction import redact, summarise_body


def litellm_exception_classes() -> list[type[BaseException]]:
    from llmport.providers.litellm import import_litellm

    litellm = import_litellm()
    classes: list[type[BaseException]] = []
    for name in (
        litellm.exceptions.__all__
        if hasattr(litellm.exceptions, "__all__")
        else dir(litellm.exceptions)
    ):
        obj = getattr(litellm.exceptions, name, None)
        if (
            inspect.isclass(obj)
            and issubclass(obj, BaseException)
            and obj.__module__.startswith("litellm")
        ):
            classes.append(obj)
    return classes


# The kind every litellm exception class maps to. For the pinned litellm the table must
# name every class; with another litellm, a class it does not name is expected to map
# like its nearest ancestor that it does name.
EXPECTED_LITELLM_KINDS = {
    "AuthenticationError": ErrorKind.AUTH,
    "PermissionDeniedError": ErrorKind.PERMISSION,
    "NotFoundError": ErrorKind.NOT_FOUND,
    "BadRequestError": ErrorKind.INVALID_REQUEST,
    "ImageFetchError": ErrorKind.INVALID_REQUEST,
    "UnprocessableEntityError": ErrorKind.INVALID_REQUEST,
    "UnsupportedParamsError": ErrorKind.INVALID_REQUEST,
    "ContextWindowExceededError": ErrorKind.CONTEXT_LENGTH,
    "ContentPolicyViolationError": ErrorKind.CONTENT_FILTER,
    "RateLimitError": ErrorKind.RATE_LIMIT,
    "Timeout": ErrorKind.TIMEOUT,
    "ServiceUnavailableError": ErrorKind.SERVER,
    "InternalServerError": ErrorKind.SERVER,
    "BadGatewayError": ErrorKind.SERVER,
    "APIError": ErrorKind.SERVER,
    "APIConnectionError": ErrorKind.CONNECTION,
    "APIResponseValidationError": ErrorKind.BAD_RESPONSE,
    "JSONSchemaValidationError": ErrorKind.BAD_RESPONSE,
    "BudgetExceededError": ErrorKind.QUOTA,
    "InvalidRequestError": ErrorKind.INVALID_REQUEST,
    "OpenAIError": ErrorKind.SERVER,
    "MockException": ErrorKind.SERVER,
    "MidStreamFallbackError": ErrorKind.SERVER,
    "RejectedRequestError": ErrorKind.INVALID_REQUEST,
    "LiteLLMUnknownProvider": ErrorKind.INVALID_REQUEST,
    "GuardrailRaisedException": ErrorKind.CONTENT_FILTER,
    "BlockedPiiEntityError": ErrorKind.CONTENT_FILTER,
    "SensitiveDataRouteException": ErrorKind.CONTENT_FILTER,
    "ModifyResponseException": ErrorKind.CONTENT_FILTER,
    "PaymentRequiredError": ErrorKind.QUOTA,
    "VectorStoreSearchError": ErrorKind.INVALID_REQUEST,
    "ModelNotMappedError": ErrorKind.INVALID_REQUEST,
}


def build(cls: type[BaseException]) -> BaseException:
    """Instantiate a litellm exception with whatever its signature asks for."""
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(500, request=request)
    values: dict[str, Any] = {
        "message": "boom",
        "llm_provider": "openai",
        "model": "m",
        "response": response,
        "request": request,
        "status_code": 500,
        "current_cost": 2.0,
        "max_budget": 1.0,
        "failures": [],
        "request_data": {},
    }
    parameters = inspect.signature(cls.__init__).parameters
    kwargs = {
        name: values.get(name)
        for name, p in parameters.items()
        if name != "self"
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and p.default is p.empty
    }
    return cls(**kwargs)


def pinned_litellm_version() -> str:
    """The litellm version requirements/ci.txt pins (the set CI tests strictly)."""
    text = (Path(__file__).resolve().parents[1] / "requirements" / "ci.txt").read_text()
    (version,) = re.findall(r"^litellm==([^\s;]+)", text, flags=re.MULTILINE)
    return str(version)


def expected_kind(cls: type[BaseException]) -> ErrorKind | None:
    """The kind of the nearest class in `cls`'s ancestry (itself first) that the table names."""
    for ancestor in cls.__mro__:
        if ancestor.__name__ in EXPECTED_LITELLM_KINDS:
            return EXPECTED_LITELLM_KINDS[ancestor.__name__]
    return None


def test_pinned_litellm_exception_classes_are_exactly_the_table() -> None:
    installed = importlib.metadata.version("litellm")
    if installed != pinned_litellm_version():
        pytest.skip(f"litellm {installed} is not the pinned {pinned_litellm_version()}: "
                    "its classes are checked through their ancestry instead")  # fmt: skip
    names = {cls.__name__ for cls in litellm_exception_classes()}
    missing = sorted(names - set(EXPECTED_LITELLM_KINDS))
    assert not missing, f"add these litellm exceptions to the mapping test: {missing}"
    gone = sorted(set(EXPECTED_LITELLM_KINDS) - names)
    assert not gone, f"the pinned litellm no longer has: {gone}"


@pytest.mark.parametrize("cls", litellm_exception_classes(), ids=lambda c: c.__name__)
def test_litellm_exception_maps_to_its_kind(cls: type[BaseException]) -> None:
    """Classes the table names map to their kind; a newer litellm's other classes map to
    the kind of their nearest ancestor in the table."""
    expected = expected_kind(cls)
    assert expected is not None, (
        f"litellm.{cls.__name__} has no ancestor in the mapping table: add it "
        f"(its bases: {[base.__name__ for base in cls.__mro__[1:]]})"
    )
    error = classify(build(cls))
    assert error.kind is expected
    # The openai SDK's base class carries no status and no name llmport knows.
    unclassified = cls.__name__ == "OpenAIError"
    assert error.retryable is (error.kind.retryable and not unclassified)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ErrorKind.INVALID_REQUEST),
        (401, ErrorKind.AUTH),
        (402, ErrorKind.QUOTA),
        (403, ErrorKind.PERMISSION),
        (404, ErrorKind.NOT_FOUND),
        (408, ErrorKind.TIMEOUT),
        (413, ErrorKind.CONTEXT_LENGTH),
        (422, ErrorKind.INVALID_REQUEST),
        (429, ErrorKind.RATE_LIMIT),
        (500, ErrorKind.SERVER),
        (502, ErrorKind.SERVER),
        (503, ErrorKind.SERVER),
        (504, ErrorKind.TIMEOUT),
        (529, ErrorKind.SERVER),
        (418, ErrorKind.INVALID_REQUEST),
    ],
)
def test_http_status_maps_to_kind(status: int, kind: ErrorKind) -> None:
    assert kind_for_status(status) is kind


def test_400_mentioning_context_length_is_context_length() -> None:
    assert kind_for_status(400, "maximum context length is 8192 tokens") is ErrorKind.CONTEXT_LENGTH


def test_429_with_insufficient_quota_is_quota_and_not_retryable() -> None:
    error = classify(Exception("insufficient_quota"), status_code=429)
    assert error.kind is ErrorKind.QUOTA
    assert not error.retryable


def test_retry_after_header_is_read() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/")
    response = httpx.Response(429, request=request, headers={"Retry-After": "7"})
    error = classify(httpx.HTTPStatusError("429", request=request, response=response))
    assert (error.kind, error.retry_after, error.status_code) == (ErrorKind.RATE_LIMIT, 7.0, 429)


def test_retry_after_ms_and_http_date() -> None:
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after(None) is None


def test_retry_after_forwarded_by_a_litellm_proxy_is_read() -> None:
    assert parse_retry_after({"llm_provider-retry-after": "2"}) == 2.0
    assert parse_retry_after({"llm_provider-retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"Retry-After": "1", "llm_provider-retry-after-ms": "9"}) == 1.0


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused"), ErrorKind.CONNECTION),
        (httpx.ReadTimeout("slow"), ErrorKind.TIMEOUT),
        (TimeoutError(), ErrorKind.TIMEOUT),
        (ConnectionResetError(), ErrorKind.CONNECTION),
        (ValueError("Expecting value"), ErrorKind.BAD_RESPONSE),
        (RuntimeError("???"), ErrorKind.SERVER),
        (
            Exception("InternalServerError: OpenAIException - Connection error."),
            ErrorKind.CONNECTION,
        ),
    ],
)
def test_transport_exceptions_map_to_kind(exc: BaseException, kind: ErrorKind) -> None:
    assert classify(exc).kind is kind


@given(st.integers(1, 200), st.sampled_from(["Connection refused", "Network is unreachable"]))
def test_an_os_error_text_is_kept_not_taken_for_a_json_body(errno: int, reason: str) -> None:
    # "[Errno 111] Connection refused" starts with "[" but is no JSON document.
    error = classify(httpx.ConnectError(f"[Errno {errno}] {reason}"))
    assert error.kind is ErrorKind.CONNECTION
    assert error.message == f"connection: [Errno {errno}] {reason}"


def test_a_refused_connection_says_so_on_the_direct_path() -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = OpenAICompatible(
        base_url=f"http://127.0.0.1:{port}/v1", chat_model="m", retry=RetryPolicy.never()
    )
    error = llm.chat_completions([{"role": "user", "content": "hi"}]).error
    assert error is not None
    assert error.kind is ErrorKind.CONNECTION
    assert "refused" in error.message.lower()


def test_html_bodies_are_summarised_not_dumped() -> None:
    html = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000 + "</body></html>"
    summary = summarise_body(html)
    assert summary == "HTML page instead of JSON (502 Bad Gateway)"


def test_json_error_bodies_give_their_message() -> None:
    body = '{"error": {"message": "Rate limit reached", "type": "requests"}}'
    assert summarise_body(body) == "Rate limit reached"


def test_long_messages_are_shortened() -> None:
    assert len(summarise_body("y" * 10_000)) <= 300


def test_litellm_message_prefixes_are_stripped() -> None:
    body = '{"error": {"message": "slow down"}}'
    exc = Exception(f"litellm.RateLimitError: RateLimitError: OpenAIException - {body}")
    assert classify(exc, status_code=429).message == "rate_limit: slow down"


@pytest.mark.parametrize(
    "text",
    [
        "Incorrect API key provided: sk-proj-abcdefgh12345678",
        "header Authorization: Bearer abc.def-ghi_jklmnop",
        "url?api_key=supersecretvalue&x=1",
        '{"x-api-key": "0123456789abcdef"}',
        "AKIAABCDEFGHIJKLMNOP",
    ],
)
def test_redact_removes_credential_shapes(text: str) -> None:
    redacted = redact(text)
    assert "[REDACTED]" in redacted
    for secret in (
        "sk-proj-abcdefgh12345678",
        "abc.def-ghi_jklmnop",
        "supersecretvalue",
        "0123456789abcdef",
        "AKIAABCDEFGHIJKLMNOP",
    ):
        assert secret not in redacted


def test_redact_removes_explicit_secrets() -> None:
    assert redact("key is hunter2hunter2!", ["hunter2hunter2"]) == "key is [REDACTED]!"


def test_a_message_holding_aiohttps_response_head_keeps_no_header() -> None:
    import aiohttp

    head = "<RawResponseMessage(version=HttpVersion(major=1, minor=1), code=200, headers="
    exc = aiohttp.ClientPayloadError(head + "<CIMultiDictProxy('X-Request-ID': 'zq9-can')>)")
    error = classify(exc)
    assert "zq9" not in error.message
    assert "RawResponseMessage" not in error.message
    assert error.message == "connection: ClientPayloadError"


def _raised_from(exc: BaseException, cause: BaseException) -> BaseException:
    try:
        raise exc from cause
    except BaseException as raised:
        return raised


def test_a_response_aiohttp_could_not_parse_is_bad_response_without_the_parsers_status() -> None:
    import aiohttp
    from aiohttp import http_exceptions

    parser_error = http_exceptions.BadStatusLine('{"id": "x"}')
    exc = _raised_from(
        aiohttp.ClientResponseError(
            request_info=None,  # type: ignore[arg-type]
            history=(),
            status=parser_error.code,
            message=str(parser_error.message),
        ),
        parser_error,
    )
    error = classify(exc)
    assert error.kind is ErrorKind.BAD_RESPONSE
    assert error.status_code is None  # 400 was the parser's, not the server's
    assert not error.retryable


def test_a_body_cut_short_stays_a_connection_failure_though_its_cause_is_a_parser_error() -> None:
    import aiohttp
    from aiohttp import http_exceptions

    cause = http_exceptions.TransferEncodingError("Not enough data to satisfy transfer length")
    exc = _raised_from(aiohttp.ClientPayloadError("Response payload is not completed"), cause)
    assert classify(exc).kind is ErrorKind.CONNECTION


def test_an_error_status_aiohttp_raised_for_is_judged_by_that_status() -> None:
    import aiohttp

    exc = aiohttp.ClientResponseError(
        request_info=None,  # type: ignore[arg-type]
        history=(),
        status=503,
        message="Service Unavailable",
    )
    assert classify(exc).kind is ErrorKind.SERVER
