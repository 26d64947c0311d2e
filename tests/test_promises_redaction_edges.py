"""Redaction edges: a key cut by a shortened message, a key a config refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from llmport._redact import redact_secrets
from llmport.providers.openai_compatible import OpenAICompatibleConfig
from llmport.redaction import summarise_body

KEY = "qz7-canary-Ahx93kLmW2-0123456789"


def body_echoing(shape: str, filler: int) -> str:
    """An upstream error body that echoes the key after `filler` characters of text."""
    text = "." * filler + " your key " + KEY + " is wrong"
    if shape == "json":
        return '{"error": {"message": "' + text + '"}}'
    if shape == "html":
        return f"<html><head><title>{text}</title></head></html>"
    return text


@given(st.sampled_from(["json", "html", "plain"]), st.integers(0, 400))
def test_a_shortened_error_message_keeps_no_start_of_the_key(shape: str, filler: int) -> None:
    message = redact_secrets(summarise_body(body_echoing(shape, filler)), [KEY])
    assert KEY[:4] not in message


def test_a_config_refusing_a_key_does_not_echo_it() -> None:
    key = "sk-été-0123456789"
    with pytest.raises(ValidationError) as raised:
        OpenAICompatibleConfig(chat_model="m", api_key=key)
    assert "api_key" in str(raised.value)
    assert key not in str(raised.value)
