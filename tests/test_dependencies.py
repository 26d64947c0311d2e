"""Declared dependencies: imports are warning-free, and the floors are real installs."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version
from pydantic import Field

from llmport.config import BaseLLMConfig

ROOT = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def declared_requirements() -> list[Requirement]:
    """The runtime and `dev` requirements of pyproject.toml that apply to this interpreter."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    requirements += [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return [r for r in requirements if r.marker is None or r.marker.evaluate()]


def floor(requirement: Requirement) -> Version | None:
    floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    return max(floors) if floors else None


def test_importing_every_module_warns_nothing() -> None:
    modules = [
        "llmport",
        "llmport.cli",
        "llmport.providers.litellm",
        "llmport.providers.litellm_router",
        "llmport.providers.openai_compatible",
        "llmport.testing",
    ]
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", "; ".join(f"import {m}" for m in modules)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_settings_named_model_something_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        class ListConfig(BaseLLMConfig):
            model_list: list[str] = Field(default_factory=list)
            model_alias: str = ""

    assert ListConfig(model_list=["a"]).model_list == ["a"]


def test_direct_imports_are_declared() -> None:
    names = {r.name for r in declared_requirements()}
    assert {"httpx", "aiohttp", "python-dotenv", "pydantic", "pydantic-settings"} <= names


@pytest.mark.skipif(
    os.environ.get("LLMPORT_EXPECT_LOWEST") != "1",
    reason="checks an install made with --resolution lowest-direct (nox -s tests_lowest)",
)
@pytest.mark.parametrize("requirement", declared_requirements(), ids=lambda r: r.name)
def test_lowest_install_has_each_declared_floor(requirement: Requirement) -> None:
    expected = floor(requirement)
    if expected is None:
        pytest.skip(f"{requirement.name} declares no lower bound")
    installed = Version(importlib.metadata.version(requirement.name))
    assert installed == expected, (
        f"{requirement.name}: the floor {expected} cannot be installed with the other "
        f"floors (got {installed}); raise it in pyproject.toml"
    )
