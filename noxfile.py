"""Development sessions. `nox -s tests` is the test command CI runs; see README."""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests"]

CONSTRAINTS = ("-c", "requirements/ci.txt")
# Sessions use the interpreter nox runs on, unless LLMPORT_NOX_PYTHON names another (e.g. 3.10).
PYTHON = os.environ.get("LLMPORT_NOX_PYTHON") or None


def install(session: nox.Session, extras: str = "dev") -> None:
    """Install the project with pinned dependencies (no resolver backtracking)."""
    session.install(*CONSTRAINTS, "-e", f".[{extras}]")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the whole test suite (unit + integration against the local gateway)."""
    install(session)
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
        "tests/integration/test_router_redis.py",
        "tests/integration/test_budget_redis.py",
        "tests/integration/test_confirmation_redis.py",
        *(session.posargs or ["-q"]),
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every benchmark, side by side ratios (`nox -s bench -- --quick` for a smoke run)."""
    install(session)
    session.run("python", "benchmarks/run_all.py", *session.posargs)
