"""The built wheel is what users get: it installs into a fresh virtual environment,
carries complete metadata, and runs the README's main job, `llmport demo`.

uv builds and installs when it is available (fast, and it is in the nox session);
otherwise a stdlib venv and its pip do the same work.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

from llmport.testing.pytest_plugin import ENV_NAMES, ENV_PREFIXES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "requirements" / "ci.txt"
DEMO_DONE = "demo finished: all steps succeeded"
#: Generous: a cold cache downloads litellm and its dependencies.
INSTALL_TIMEOUT = 900


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    def bin(self, name: str) -> Path:
        scripts = "Scripts" if sys.platform == "win32" else "bin"
        suffix = ".exe" if sys.platform == "win32" else ""
        return self.venv / scripts / f"{name}{suffix}"


def find_uv() -> str | None:
    """The uv binary on PATH or next to this interpreter, if any."""
    return shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))


def run(command: Sequence[str | Path], *, timeout: float = INSTALL_TIMEOUT) -> str:
    """Run a build step; fail the test with its output if it fails."""
    done = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_environment(),
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def clean_environment() -> dict[str, str]:
    """os.environ without llmport settings or anything that would import the source tree."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(ENV_PREFIXES)
        and name not in ENV_NAMES
        and name not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # the installed litellm stays offline
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel once and install it, with pinned dependencies, into a new venv."""
    uv = find_uv()
    if uv is None and importlib.util.find_spec("ensurepip") is None:
        pytest.skip("no wheel tool: neither uv nor a venv with pip (ensurepip) is available")
    work = tmp_path_factory.mktemp("wheel")
    dist, venv = work / "dist", work / "venv"
    python = venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    if uv is not None:
        run([uv, "venv", "--quiet", "--python", sys.executable, venv])
        run([uv, "build", "--quiet", "--wheel", "--out-dir", dist, ROOT])
        (wheel,) = dist.glob("llmport-*.whl")
        run([uv, "pip", "install", "--quiet", "--python", python, "-c", CONSTRAINTS, wheel])
    else:
        run([sys.executable, "-m", "venv", venv])
        run([python, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, ROOT])
        (wheel,) = dist.glob("llmport-*.whl")
        run([python, "-m", "pip", "install", "--quiet", "-c", CONSTRAINTS, wheel])
    return Installed(wheel=wheel, venv=venv)


def wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(name).decode())


def test_installed_wheel_runs_the_readme_demo(installed: Installed, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(installed.bin("llmport")), "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # not the checkout: only the installed package can be imported
        env=clean_environment(),
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert DEMO_DONE in done.stdout
    titles = [line for line in done.stdout.splitlines() if line.startswith("== step")]
    assert titles == [
        "== step 1 of 4: plain completion",
        "== step 2 of 4: tool call",
        "== step 3 of 4: retried error (503 twice, then success)",
        "== step 4 of 4: stream (8 chunks)",
    ]
    assert done.stdout.count("status:      SUCCESS") == 4
    assert 'get_weather({"city": "Paris"})' in done.stdout
    assert "over 3 attempt(s)" in done.stdout  # the retried step


def test_installed_package_comes_from_the_wheel(installed: Installed, tmp_path: Path) -> None:
    probe = "import llmport, sys; print(llmport.__file__); print(llmport.__version__)"
    done = subprocess.run(
        [str(installed.bin("python")), "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=clean_environment(),
        check=True,
    )
    location, version = done.stdout.split()
    assert Path(location).resolve().is_relative_to(installed.venv.resolve())
    assert version == wheel_metadata(installed.wheel)["Version"]


def test_wheel_metadata_is_complete(installed: Installed) -> None:
    metadata = wheel_metadata(installed.wheel)
    assert metadata["Name"] == "llmport"
    assert metadata["Summary"]
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["License-Expression"] == "MIT" or metadata["License"] == "MIT"
    assert metadata["Description-Content-Type"] == "text/markdown"  # the README
    assert "# llmport" in metadata.get_payload()
    classifiers = metadata.get_all("Classifier") or []
    for expected in (
        "Typing :: Typed",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.13",
        "Framework :: Pytest",
    ):
        assert expected in classifiers
    urls = {entry.split(",")[0].strip().lower() for entry in metadata.get_all("Project-URL") or []}
    assert {"homepage", "documentation", "source", "changelog"} <= urls
    assert {"prometheus", "otel"} <= set(metadata.get_all("Provides-Extra") or [])
    requirements = " ".join(metadata.get_all("Requires-Dist") or [])
    assert "litellm[mcp]" in requirements
    assert "!=1.82.7" in requirements
    assert "!=1.82.8" in requirements


def test_wheel_ships_the_package_typed_with_its_entry_points(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        names = archive.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_text = archive.read(entry_points).decode()
    assert "llmport/py.typed" in names
    assert "llmport/testing/pytest_plugin.py" in names
    assert not [n for n in names if n.startswith("tests/")]
    assert "llmport = llmport.cli:main" in entry_text
    assert "llmport = llmport.testing.pytest_plugin" in entry_text
