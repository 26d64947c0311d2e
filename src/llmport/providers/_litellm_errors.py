"""What only litellm's exceptions say: classification the generic `classify()` cannot do.

litellm reports several different failures as a 500 `InternalServerError` or an
`APIConnectionError`: a backend answer that is not a chat completion (HTML, a bare JSON
value, a truncated or too-deep body, a body that fails its own validation), a key that
was never set, and an `{"error": ...}` event in the middle of a stream. Each gets its
real kind here; anything else goes to `classify()`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from llmport.errors import ErrorKind, classify
from llmport.parsing import error_from_payload
from llmport.redaction import summarise_body
from llmport.response import LLMError

__all__ = ["classify_litellm"]

_MISSING_KEY = re.compile(
    r"missing (?:\w+ )?(?:credentials|api[ _-]?key)|no (?:api )?key is set|api_key client option",
    re.IGNORECASE,
)
# litellm's words for "the backend answered, but not with a chat completion".
_NOT_A_COMPLETION = {
    "empty or invalid response from llm endpoint": "the endpoint did not answer with a JSON object",
    "invalid response object": "the answer does not have the shape of a chat completion",
    "recursion depth exceeded": "the response body is nested too deeply to decode",
    "for integer string conversion": "the response body holds a number too long to decode",
    "validation error for usage": "the answer's usage does not hold token counts",
}
# Newer litellm releases detect a stream cut short themselves and raise it as a 500: it is
# the same failure llmport reports when the stream just stops (a connection cut).
_STREAM_CUT = "stream ended before a finish_reason was received"
_JSON_DECODE_MESSAGE = re.compile(r"line \d+ column \d+ \(char \d+\)")
# litellm's words for a JSON object without a `choices` list, and the keys it read.
_NO_CHOICES = re.compile(
    r"provider returned (?:a response with no 'choices'|'choices' that is not a list)",
    re.IGNORECASE,
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the exceptions it was raised from, outermost first (bounded)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 8 and current not in seen:
        seen.append(current)
        yield current
        current = current.__cause__ or current.__context__


def _stream_error_event(exc: BaseException) -> Mapping[str, Any] | None:
    """The `{"error": ...}` object of an error event read from a stream, if that is what
    failed: the openai SDK raises it as a plain `APIError` with no HTTP status."""
    for link in _chain(exc):
        body = getattr(link, "body", None)
        if (
            type(link).__name__ == "APIError"
            and getattr(link, "status_code", None) is None
            and isinstance(body, Mapping)
        ):
            return body
    return None


def _error_object(exc: BaseException) -> Mapping[str, Any] | str | None:
    """The `{"error": ...}` object of a 200 answer, as far as litellm keeps it.

    litellm checks a buffered answer for an error object in
    `convert_to_model_response_object`, and raises from there: a bare `Exception` with
    the object's code where the HTTP status goes and its text as `message` (the `type`
    is dropped), or, for an object with neither message nor code, a complaint about the
    missing `choices`. Its own exceptions then wrap that with prefixes. The object is
    read back from the raising frame where litellm still names it `error_obj`; failing
    that, from the bare exception's code and message.
    """
    for link in _chain(exc):
        raised = _raised_error_object(link)
        if raised is not None:
            return raised
        if type(link) is Exception and hasattr(link, "status_code"):
            code, message = link.status_code, getattr(link, "message", None)
            return {
                "code": code if isinstance(code, (str, int)) and code != "" else None,
                "message": message if isinstance(message, str) else "",
            }
    return None


def _raised_error_object(link: BaseException) -> Mapping[str, Any] | str | None:
    trace = link.__traceback__
    for _ in range(32):  # the innermost frame raised it
        if trace is None or trace.tb_next is None:
            break
        trace = trace.tb_next
    if trace is None or trace.tb_frame.f_code.co_name != "convert_to_model_response_object":
        return None
    found = trace.tb_frame.f_locals.get("error_obj")
    return found if found and isinstance(found, (Mapping, str)) else None


def _answer_litellm_renamed(exc: BaseException) -> BaseException | None:
    """The HTTP client's exception for an error answer whose status litellm rewrote.

    litellm re-labels some answers by their text (a 400 whose body mentions a rate limit
    becomes its 429 `RateLimitError`); llmport judges an error answer by the status the
    server sent, as the direct provider does.
    """
    reported = getattr(exc, "status_code", None)
    if not isinstance(reported, int):
        return None
    for link in _chain(exc):
        status = getattr(link, "status_code", None)
        if link is exc or type(link).__module__.split(".")[0] == "litellm":
            continue
        if isinstance(status, int) and 400 <= status <= 599:
            return link if status != reported else None
    return None


def _missing_key_message(model: str) -> str:
    environment = "the backend's key variable"
    litellm = sys.modules.get("litellm")  # imported: it raised the exception
    try:
        missing = litellm.validate_environment(model=model).get("missing_keys") if litellm else None
    except Exception:  # an unknown model: name the generic fix
        missing = None
    if missing:
        environment = " or ".join(str(name) for name in missing)
    return f"auth: no API key for {model}: set {environment}, or LITELLM_API_KEY"


def _not_a_completion(text: str) -> str | None:
    lowered = text.lower()
    for hint, description in _NOT_A_COMPLETION.items():
        if hint in lowered:
            received = text.partition("Received:")[2].strip().strip("'\"")
            if received.lower().startswith(("<!doctype", "<html")):
                return summarise_body(received)
            return description
    if _JSON_DECODE_MESSAGE.search(text):
        return "the response body is not valid JSON"
    return None


def _no_choices(text: str) -> LLMError | None:
    """A JSON object that is not a completion (no `choices` list): `bad_response`, as on
    the direct path."""
    if _NO_CHOICES.search(text) is None:
        return None
    kind = ErrorKind.BAD_RESPONSE
    return LLMError(
        kind=kind, message=f"{kind.value}: the response has no choices", retryable=False
    )


def classify_litellm(exc: BaseException, model: str) -> LLMError | None:
    """The `LLMError` for a failure only litellm's own words identify, else None.

    Args:
        exc: What litellm raised.
        model: The configured model string, to name the key variable it needs when the
            exception does not say which backend it was for.
    """
    event = _stream_error_event(exc)
    if event is not None:
        return error_from_payload(event)
    renamed = _answer_litellm_renamed(exc)
    if renamed is not None:
        return classify(renamed)
    error = _error_object(exc)
    if error is not None:  # the code names the kind, as on the direct path
        return error_from_payload(error)
    text = " ".join(str(link) for link in _chain(exc))
    if _MISSING_KEY.search(text):
        provider, name = getattr(exc, "llm_provider", None), getattr(exc, "model", None)
        if isinstance(provider, str) and isinstance(name, str) and provider and name:
            model = name if name.startswith(f"{provider}/") else f"{provider}/{name}"
        return LLMError(kind=ErrorKind.AUTH, message=_missing_key_message(model))
    if _STREAM_CUT in text.lower():
        kind = ErrorKind.CONNECTION
        return LLMError(
            kind=kind, message=f"{kind.value}: the stream ended before its finish reason"
        )
    no_choices = _no_choices(text)
    if no_choices is not None:
        return no_choices
    description = _not_a_completion(text)
    if description is not None:
        kind = ErrorKind.BAD_RESPONSE
        return LLMError(kind=kind, message=f"{kind.value}: {description}", retryable=False)
    return None
