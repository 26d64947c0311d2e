"""Redaction edges: a key cut by a shortened message, a key a config refuses, a router's
deployment keys and auth headers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from llmport._redact import redact_secrets
from llmport.cli import main
from llmport.providers.litellm_router import LiteLLMRouterConfig
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
        OpenAICompatibleConfig.model_validate({"chat_model": "m", "api_key": key})
    assert "api_key" in str(raised.value)
    assert key not in str(raised.value)


DEPLOYMENT_KEY = "qz7-deploy-canary-0123456789"
HEADER_TOKEN = "hdr-deploy-canary-9876543210"
MODEL_LIST = [
    {
        "model_name": "group",
        "litellm_params": {
            "model": "openai/m",
            "api_key": DEPLOYMENT_KEY,
            "api_base": "http://127.0.0.1:9/v1",
            "extra_headers": {"Authorization": f"Bearer {HEADER_TOKEN}"},
        },
    }
]


def test_a_router_config_dump_masks_deployment_keys_and_auth_headers() -> None:
    config = LiteLLMRouterConfig(model_list=MODEL_LIST)
    for dumped in (str(config.model_dump()), config.model_dump_json()):
        assert DEPLOYMENT_KEY not in dumped
        assert HEADER_TOKEN not in dumped
    assert config.model_dump()["model_list"][0]["litellm_params"]["model"] == "openai/m"


def test_a_deployment_auth_header_is_a_secret_of_the_router() -> None:
    secrets = LiteLLMRouterConfig(model_list=MODEL_LIST).secret_values()
    assert DEPLOYMENT_KEY in secrets
    assert HEADER_TOKEN in secrets


def test_llmport_config_shows_no_deployment_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEFAULT_LLM", "litellm_router")
    monkeypatch.setenv("LITELLM_ROUTER_MODEL_LIST", json.dumps(MODEL_LIST))
    assert main(["config", "--json"]) == 0
    out = capsys.readouterr().out
    assert "group" in out
    assert DEPLOYMENT_KEY not in out
    assert HEADER_TOKEN not in out
