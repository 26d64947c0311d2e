"""Development sessions. `nox -s tests` is the test command CI runs; see README.

Dependency sets: `tests` uses the pinned set (requirements/ci.txt), `tests_latest` the
newest versions a plain install resolves today, `tests_lowest` every direct dependency at
its declared floor. `tests-3.10` and `tests-3.13` run the pinned set on those interpreters
when this machine has them; they are never downloaded.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.download_python = "never"
nox.options.sessions = ["lint", "typecheck", "tests"]

CONSTRAINTS = ("-c", "requirements/ci.txt")
# Sessions use the interpreter nox runs on, unless LLMPORT_NOX_PYTHON names another (e.g. 3.10).
PYTHON = os.environ.get("LLMPORT_NOX_PYTHON") or None
#: Interpreters tested besides the one nox runs on: the oldest supported and the newest.
OTHER_PYTHONS = ("3.10", "3.13")


def install(session: nox.Session, extras: str = "dev") -> None:
    """Install the project with pinned dependencies (no resolver backtracking)."""
    session.install(*CONSTRAINTS, "-e", f".[{extras}]")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the whole test suite (unit + integration against the local gateway)."""
    install(session, extras="dev,recipes")
    session.run("pytest", *(session.posargs or ["-q"]))


@nox.session(python=PYTHON)
def boundary(session: nox.Session) -> None:
    """The boundary property test with many more examples than CI runs (default 5000).

    `nox -s boundary -- 20000` sets the count; it takes minutes.
    """
    install(session)
    examples = session.posargs[0] if session.posargs else "5000"
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_boundary.py",
        f"--boundary-examples={examples}",
    )


@nox.session(python=PYTHON)
def tests_latest(session: nox.Session) -> None:
    """The suite against the newest release of every dependency (no constraints file)."""
    session.install("--upgrade", "--resolution", "highest", "-e", ".[dev,recipes]")
    _report_versions(session)
    session.run("pytest", *(session.posargs or ["-q"]))


@nox.session(python=PYTHON)
def tests_lowest(session: nox.Session) -> None:
    """The suite with every direct dependency at the lowest version pyproject.toml allows.

    LLMPORT_EXPECT_LOWEST=1 makes tests/test_dependencies.py check that each installed
    version is the declared floor, so a floor no install can reach fails here. The
    recipes' frameworks are not installed: their tests skip, saying so.
    """
    session.install("--upgrade", "--resolution", "lowest-direct", "-e", ".[dev]")
    _report_versions(session)
    session.env["LLMPORT_EXPECT_LOWEST"] = "1"
    session.run("pytest", *(session.posargs or ["-q"]))


def _report_versions(session: nox.Session) -> None:
    session.run(
        "python",
        "-c",
        "from importlib.metadata import version as v; "
        "print(*(f'{n}=={v(n)}' for n in ('litellm', 'pydantic', 'pydantic-settings', "
        "'httpx', 'aiohttp', 'mcp')))",
    )


def find_python(version: str) -> str | None:
    """A working interpreter for `version` already on this machine, or None.

    Looks on PATH (pyenv shims of inactive versions fail to run and are passed over), then
    in uv's list of interpreters it knows, then under pyenv's root. Nothing is downloaded.
    """
    candidates = [shutil.which(f"python{version}")]
    if shutil.which("uv"):
        found = subprocess.run(
            ["uv", "python", "find", "--no-python-downloads", version],
            capture_output=True,
            text=True,
            check=False,
        )
        candidates.append(found.stdout.strip() if found.returncode == 0 else None)
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"))
    for candidate in candidates:
        if candidate and _runs_as(candidate, version):
            return candidate
    return None


def _runs_as(interpreter: str, version: str) -> bool:
    try:
        done = subprocess.run(
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def _other_python_session(version: str) -> None:
    interpreter = find_python(version)

    if interpreter is None:

        @nox.session(name=f"tests-{version}", venv_backend="none")
        def skipped(session: nox.Session) -> None:
            session.skip(
                f"Python {version} is not installed on this machine (looked on PATH, in "
                "`uv python find --no-python-downloads` and under pyenv); not downloaded"
            )

        skipped.__doc__ = f"The pinned suite on Python {version} (not installed here)."
        return

    @nox.session(name=f"tests-{version}", python=interpreter)
    def pinned(session: nox.Session) -> None:
        install(session, extras="dev,recipes")
        session.run("pytest", *(session.posargs or ["-q"]))

    pinned.__doc__ = f"The pinned suite on Python {version} ({interpreter})."


for _version in OTHER_PYTHONS:
    _other_python_session(_version)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*CONSTRAINTS, "ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src and tests."""
    install(session)
    session.run("mypy")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: `llmport demo` against the embedded local gateway."""
    install(session, extras="dev")
    session.run("llmport", "demo")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site strictly: a broken link or API reference fails."""
    session.install(*CONSTRAINTS, "-e", ".[docs]")
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        "build/site",
        *session.posargs,
        env={"NO_MKDOCS_2_WARNING": "1"},  # mkdocs-material's end-of-life banner
    )


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """A real LiteLLM proxy and a real redis-server (on PATH) against the local gateway.

    The `tests` session skips these modules when their dependencies are missing; here
    LLMPORT_REQUIRE_INTEGRATION=1 turns every such skip into a failure.
    """
    session.install(
        *CONSTRAINTS,
        "-c",
        "requirements/integration.txt",
        "-e",
        ".[dev]",
        "litellm[proxy]",
        "redis",
    )
    session.env["LLMPORT_REQUIRE_INTEGRATION"] = "1"
    session.run(
        "pytest",
        "-m",
        "integration",
        "tests/integration/test_litellm_proxy.py",
        "tests/integration/test_profiles_proxy.py",
        "tests/integration/test_router_redis.py",
        "tests/integration/test_budget_redis.py",
        "tests/integration/test_confirmation_redis.py",
        *(session.posargs or ["-q"]),
    )


@nox.session(python=PYTHON)
def lighteval(session: nox.Session) -> None:
    """LightEval's own config class reads a profile exported for it (not in CI: needs torch).

    Resolved without requirements/ci.txt, whose pins LightEval's own pins contradict; with
    uv, torch comes as its CPU build.
    """
    session.env["UV_TORCH_BACKEND"] = "cpu"
    session.install("-e", ".[dev,lighteval]")
    session.env["LLMPORT_REQUIRE_LIGHTEVAL"] = "1"
    session.run("pytest", "-q", "tests/interop/test_interop_lighteval.py", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every benchmark, side by side ratios (`nox -s bench -- --quick` for a smoke run)."""
    install(session)
    session.run("python", "benchmarks/run_all.py", *session.posargs)
