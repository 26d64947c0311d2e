"""Suite-wide settings: no test may reach a non-loopback address (see pyproject's
`llmport_network_guard`), and no test inherits llmport variables from the shell."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

import llmport
from llmport.testing.pytest_plugin import ENV_NAMES, ENV_PREFIXES

# No wall-clock limit per example: these machines are shared and noisy, and a slow example
# is not a failure (each property bounds its own work by example count, not by time).
settings.register_profile("llmport", deadline=None)
settings.load_profile("llmport")

# Collection may import litellm (test_errors enumerates its exceptions): keep it offline.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--boundary-examples",
        type=int,
        default=None,
        help="examples for the boundary property test (default 500, or LLMPORT_BOUNDARY_EXAMPLES)",
    )


def pytest_configure(config: pytest.Config) -> None:
    examples = config.getoption("--boundary-examples")
    if examples is not None:  # read by tests/test_boundary.py when it is collected
        os.environ["LLMPORT_BOUNDARY_EXAMPLES"] = str(examples)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIXES) or name in ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(autouse=True)
def _fresh_llm_cache() -> Iterator[None]:
    """Cached instances and loaded profiles never leak from one test into the next."""
    llmport.reset()
    yield
    llmport.reset()
