"""The fixtures the pytest plugin (entry point `pytest11`) gives every app's suite."""

from __future__ import annotations

import os
from collections.abc import Callable

import httpx

from llmport import get_default_llm
from llmport.testing import FakeLLM, LocalGateway


def test_fake_llm_fixture_is_a_fresh_fake(fake_llm: FakeLLM) -> None:
    response = fake_llm.chat_completions([{"role": "user", "content": "hi"}])
    assert (response.content, fake_llm.call_count) == ("This is a fake response.", 1)


def test_llm_env_clears_and_sets_variables(llm_env: Callable[..., None]) -> None:
    llm_env(DEFAULT_LLM="fake", FAKE_LLM_DEFAULT_TEXT="from env")
    assert not any(name.startswith("LITELLM_CHAT") for name in os.environ)
    assert get_default_llm().chat_completions([{"role": "user", "content": "x"}]).content == (
        "from env"
    )


def test_local_gateway_fixture_serves_on_loopback(local_gateway: LocalGateway) -> None:
    assert local_gateway.base_url.startswith("http://127.0.0.1:")
    assert httpx.get(local_gateway.base_url.removesuffix("/v1") + "/health").json() == {
        "status": "ok"
    }
