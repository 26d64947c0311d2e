"""A real LiteLLM proxy runs a config exported from a profiles file; clients call profiles.

The profiles point at a LocalGateway; `llmport.interop.export_litellm_proxy` writes the
proxy's config.yaml, run unchanged (the master key comes from LITELLM_MASTER_KEY), and
OpenAICompatible calls each profile by name through the proxy, groups included. Skipped
without `litellm[proxy]`, unless LLMPORT_REQUIRE_INTEGRATION=1 (`nox -s integration`).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmport import OpenAICompatible, RetryPolicy
from llmport.interop import export_litellm_proxy, read_profiles
from llmport.testing import LocalGateway

sys.path.insert(0, str(Path(__file__).resolve().parent / "proxy"))
from proxy_harness import ProxyProcess, start_proxy

try:
    importlib.import_module("fastapi")  # one of litellm[proxy]'s packages
    importlib.import_module("litellm.proxy.proxy_server")
except ImportError as exc:
    _REASON = f"litellm[proxy] is not installed ({exc}): run nox -s integration"
    if os.environ.get("LLMPORT_REQUIRE_INTEGRATION") == "1":
        pytest.fail(_REASON, pytrace=False)
    pytest.skip(_REASON, allow_module_level=True)

pytestmark = pytest.mark.integration

GATEWAY_KEY = "sk-llmport-gateway-0123456789"
PROXY_KEY = "sk-llmport-proxy-0123456789"
STARTUP_TIMEOUT = float(os.environ.get("LLMPORT_PROXY_STARTUP_TIMEOUT", "120"))
FIXED_TEXT = "Hello from the llmport local gateway."
USER = [{"role": "user", "content": "Hello?"}]
PROFILES = """
[profiles.answer]
provider = "openai_compatible"
chat_model = "fixed"
base_url = "{gateway}"
api_key_env = "LLMPORT_GATEWAY_KEY"

[profiles.down]
provider = "litellm"
chat_model = "openai/error-503"
api_base = "{gateway}"
api_key_env = "LLMPORT_GATEWAY_KEY"

[profiles.too-long]
provider = "litellm"
chat_model = "openai/error-400-context"
api_base = "{gateway}"
api_key_env = "LLMPORT_GATEWAY_KEY"

[profiles.steady]
members = ["down", "answer"]

[profiles.roomy]
members = ["too-long", "answer"]
fallback_on = ["context_length"]
"""


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway(api_key=GATEWAY_KEY) as running:
        yield running


@pytest.fixture(scope="module")
def proxy(
    gateway: LocalGateway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    workdir = tmp_path_factory.mktemp("profiles-proxy")
    profiles = workdir / "llmport.toml"
    profiles.write_text(PROFILES.format(gateway=gateway.base_url), encoding="utf-8")
    config = workdir / "config.yaml"
    config.write_text(export_litellm_proxy(read_profiles(profiles)).text, encoding="utf-8")
    running = start_proxy(
        gateway_url=gateway.base_url,
        gateway_key=GATEWAY_KEY,
        proxy_key=PROXY_KEY,
        workdir=workdir,
        config=config,
        env={"LITELLM_MASTER_KEY": PROXY_KEY},
    )
    try:
        running.wait_ready(STARTUP_TIMEOUT)
        yield running
    finally:
        running.stop()


@pytest.fixture
def base_url(
    proxy: ProxyProcess, gateway: LocalGateway, request: pytest.FixtureRequest
) -> Iterator[str]:
    gateway.clear()
    failed = request.session.testsfailed
    yield proxy.base_url
    if request.session.testsfailed > failed:
        print(f"--- LiteLLM proxy log ({proxy.log_path}) ---\n{proxy.log_tail()}")


def call(base_url: str, profile: str) -> OpenAICompatible:
    return OpenAICompatible(
        base_url=base_url, chat_model=profile, api_key=PROXY_KEY, retry=RetryPolicy.never()
    )


def models_called(gateway: LocalGateway) -> list[str]:
    return [str(r.body["model"]) for r in gateway.requests if "model" in r.body]


def test_a_single_profile_is_called_by_its_name(base_url: str, gateway: LocalGateway) -> None:
    response = call(base_url, "answer").chat_completions(USER)
    assert response.ok, response.error
    assert response.content == FIXED_TEXT
    assert models_called(gateway) == ["fixed"]


def test_a_group_whose_first_member_fails_falls_back_to_the_next(
    base_url: str, gateway: LocalGateway
) -> None:
    response = call(base_url, "steady").chat_completions(USER)
    assert response.ok, response.error
    assert response.content == FIXED_TEXT
    assert response.attempts == 1  # the proxy fell back within one call
    assert models_called(gateway) == ["error-503", "fixed"]


def test_a_group_falling_back_on_context_length_uses_the_context_window_list(
    base_url: str, gateway: LocalGateway
) -> None:
    response = call(base_url, "roomy").chat_completions(USER)
    assert response.ok, response.error
    assert models_called(gateway) == ["error-400-context", "fixed"]


def test_a_failing_single_profile_fails_with_its_status(base_url: str) -> None:
    response = call(base_url, "down").chat_completions(USER)
    assert response.error is not None
    assert response.error.status_code == 503


def test_the_proxy_never_left_loopback(proxy: ProxyProcess) -> None:
    assert proxy.network_violations() == []
