"""One redactor for everything that leaves llmport: messages, logs, content.

Removes configured secrets wherever they appear, and anything shaped like a
credential; reduces upstream bodies to a short description (never the body).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from llmport._json import load_json

__all__ = [
    "known_secret_count",
    "longest_first",
    "redact",
    "redact_values",
    "register_secret",
    "short_message",
    "summarise_body",
]


#: The registered secrets, longest first (`longest_first`).
_known_secrets: tuple[str, ...] = ()
_registering = threading.Lock()
_SECRET_PATTERNS = (
    re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-.=:/+]{6,}"),
    re.compile(
        r"(?i)((?:api[_-]?key|x-api-key|token|secret|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',&}]+"
    ),
    re.compile(r"\bAKIA[0-9A-Z]{12,}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{20,}\b"),
)
_MAX_MESSAGE = 300
_BRACKET_RUN = re.compile(r"([\[\]{}])\1{2,}")
_MAX_TITLE = 80


def register_secret(value: str | None) -> None:
    """Remember a secret value so `redact()` removes it wherever it appears."""
    global _known_secrets
    if value and len(value) >= 6:
        with _registering:
            if value not in _known_secrets:
                _known_secrets = longest_first((*_known_secrets, value))


def longest_first(secrets: Iterable[str]) -> tuple[str, ...]:
    """`secrets` in the order to mask them: longest first, so a secret that holds another
    (a header token that begins with the API key) is masked whole, not around it."""
    return tuple(sorted(secrets, key=len, reverse=True))


def known_secret_count() -> int:
    """How many secrets are registered: it changes whenever `redact()` would remove more."""
    return len(_known_secrets)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove API keys and other credentials from text meant for messages and logs."""
    for secret in longest_first((*secrets, *_known_secrets)) if secrets else _known_secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + "[REDACTED]", text)
        else:
            text = pattern.sub("[REDACTED]", text)
    return text


def redact_values(values: Mapping[str, Any]) -> Mapping[str, Any]:
    """`values` (an app's call `metadata`) with secrets removed from its text values.

    Metadata reaches logs, spans and metric labels; a value that holds a secret (a
    tenant id built from an API key) must not carry it there.
    """
    if not any(isinstance(value, str) and redact(value) != value for value in values.values()):
        return values
    return {key: redact(v) if isinstance(v, str) else v for key, v in values.items()}


def summarise_body(body: str | Mapping[str, Any]) -> str:
    """A short, safe description of an upstream body: never the body itself.

    Only the provider's own error message (`{"error": {"message": ...}}`) is kept,
    shortened; an HTML page is named by its title; anything else is described by its
    shape and size. `body` may be the text or its decoded JSON object.
    """
    if isinstance(body, Mapping):
        message = _error_message_from(body)
        return short_message(message) if message else "JSON body without an error message"
    text = body.strip()
    if not text:
        return "empty body"
    if _is_html(text):
        return short_message(text)
    try:
        data = load_json(text)
    except ValueError:
        if text.startswith(("{", "[")):  # a broken JSON document: describe it, never echo it
            return f"malformed JSON body ({len(text)} characters)"
        return f"non-JSON body ({len(text)} characters)"
    if isinstance(data, Mapping):
        return summarise_body(data)
    if isinstance(data, list):
        return f"JSON array instead of an error object ({len(text)} characters)"
    return f"JSON {type(data).__name__} instead of an error object"


def short_message(text: str) -> str:
    """A message meant to be read (the provider's error message, an exception's text):
    its first line, shortened; an HTML page is named by its title instead. A run of one
    bracket (a deeply nested body an exception's text quotes) is shown as one bracket and
    "…"."""
    text = text.strip()
    if _is_html(text):
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        name = _shorten(title.group(1).strip(), _MAX_TITLE) if title else "no title"
        return f"HTML page instead of JSON ({name})"
    return _shorten(_BRACKET_RUN.sub(r"\1…", text.splitlines()[0])) if text else ""


def _is_html(text: str) -> bool:
    return text[:200].lower().lstrip().startswith(("<!doctype", "<html", "<?xml", "<head", "<body"))


def _error_message_from(data: Any) -> str | None:
    if isinstance(data, Mapping):
        error = data.get("error", data)
        if isinstance(error, Mapping):
            message = error.get("message") or error.get("detail")
            if isinstance(message, str):
                return message
        if isinstance(error, str):
            return error
    return None


def _shorten(text: str, limit: int = _MAX_MESSAGE) -> str:
    """`text` cut to `limit` characters; a cut text ends with "…" (the boundary pass then
    masks the start of a secret the cut fell in)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
