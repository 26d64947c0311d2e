"""pytest plugin: fixtures for apps that test their llmport code, and a network guard.

Fixtures:
    fake_llm        a fresh `FakeLLM` answering with its default text (build your own
                    `FakeLLM([...])` to script answers)
    llm_env         an environment with every llmport-related variable removed; returns a
                    setter: `llm_env(DEFAULT_LLM="fake")`
    local_gateway   a `LocalGateway` on 127.0.0.1, shared by the test session

The network guard fails any test that opens a connection to a non-loopback
address. It is off by default; turn it on for a suite with the ini option
`llmport_network_guard = true`, or for one test with `@pytest.mark.llmport_no_network`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from llmport.registry import reset
from llmport.testing.fake import FakeLLM
from llmport.testing.gateway import LocalGateway
from llmport.testing.network import block_non_loopback

#: Variables that influence provider selection or configuration.
ENV_PREFIXES = ("LITELLM_", "OPENAI_COMPATIBLE_", "FAKE_LLM_", "LLMPORT_")
ENV_NAMES = ("DEFAULT_LLM", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "llmport_network_guard",
        "fail tests that connect to a non-loopback address",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "llmport_no_network: fail this test if it connects to a non-loopback address"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    enabled = item.config.getini("llmport_network_guard") or item.get_closest_marker(
        "llmport_no_network"
    )
    if not enabled:
        return (yield)
    with block_non_loopback() as violations:
        result = yield
    if violations:
        pytest.fail(
            "test tried to reach non-loopback address(es): " + ", ".join(sorted(set(violations))),
            pytrace=False,
        )
    return result


@pytest.fixture
def fake_llm() -> FakeLLM:
    """A `FakeLLM` answering with its default text."""
    return FakeLLM()


@pytest.fixture
def llm_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Clear llmport-related environment variables; returns a setter for new ones.

    Cached provider instances and loaded profiles are cleared before and after, so
    each test builds from its own environment.
    """
    reset()
    for name in list(os.environ):
        if name.startswith(ENV_PREFIXES) or name in ENV_NAMES:
            monkeypatch.delenv(name, raising=False)

    def set_env(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    yield set_env
    reset()


@pytest.fixture(scope="session")
def local_gateway() -> Iterator[LocalGateway]:
    """A `LocalGateway` on a free port on 127.0.0.1, for the whole session."""
    with LocalGateway() as gateway:
        yield gateway
