"""Every Python example in README.md and docs/ runs and type-checks, so the docs cannot rot.

Blocks of one file run in order in one namespace, with DEFAULT_LLM=fake and the
registry restored afterwards. A block whose first line starts with `# not run` is
skipped (for snippets that need a real API key). Every block also type-checks under
`mypy --strict`, one module per page (its blocks in order, as they run), except a
block whose first line says `not type-checked` (code for another library, such as
Director's, shown for comparison). A block whose first line starts with
`# type-check: new module` starts a new module: mypy keeps the type a name was first
bound to, so a page that moves from one API to another using the same names (the
Director compat layer, then llmport itself) needs the cut.
"""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import re
import subprocess
import sys
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest

import llmport._provider_table as registry
from llmport import BaseLLM, get_default_llm
from llmport.testing import LocalGateway

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(page: Path) -> list[str]:
    return [b for b in BLOCK.findall(page.read_text()) if not b.startswith("# not run")]


NEW_MODULE = "# type-check: new module"


def typed_blocks(page: Path) -> list[str]:
    return [b for b in BLOCK.findall(page.read_text()) if "not type-checked" not in first_line(b)]


def first_line(block: str) -> str:
    return block.partition("\n")[0]


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=lambda p: p.name)
def test_examples_run(
    page: Path,
    llm_env: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    llm_env(DEFAULT_LLM="fake", LITELLM_LOCAL_MODEL_COST_MAP="True")
    monkeypatch.setattr(registry, "_providers", dict(registry._providers))
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(python_blocks(page), start=1):
        code = compile(block, f"{page.name} (block {number})", "exec")
        exec(code, namespace)
    capsys.readouterr()


def test_every_docs_page_is_linked_from_the_index() -> None:
    index = (ROOT / "docs" / "index.md").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "index.md":
            assert f"({page.name})" in index, f"docs/index.md does not link {page.name}"


def typed_modules(page: Path) -> list[str]:
    """The page's type-checked blocks, joined into modules cut at `# type-check: new module`."""
    modules: list[list[str]] = []
    for block in typed_blocks(page):
        if not modules or first_line(block).startswith(NEW_MODULE):
            modules.append([])
        modules[-1].append(block)
    return ["\n\n".join(blocks) for blocks in modules]


def test_examples_type_check_under_mypy_strict(tmp_path: Path) -> None:
    modules = []
    for page in PAGES:
        for number, code in enumerate(typed_modules(page), start=1):
            module = tmp_path / f"{page.stem.replace('-', '_')}_md_{number}.py"
            module.write_text(code)
            modules.append(str(module))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file=", "--no-incremental", *modules],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_the_migration_page_cuts_its_examples_into_modules() -> None:
    cuts = [
        page.name
        for page in PAGES
        for block in typed_blocks(page)
        if first_line(block).startswith(NEW_MODULE)
    ]
    assert cuts == ["migration.md"]


def test_only_director_code_is_left_out_of_the_type_check() -> None:
    skipped = [
        (page.name, first_line(block))
        for page in PAGES
        for block in BLOCK.findall(page.read_text())
        if "not type-checked" in first_line(block)
    ]
    assert {name for name, _ in skipped} == {"migration.md"}
    assert len(skipped) == 2  # Director's imports, and the "before" code
    assert all("Director" in line for _, line in skipped)


# --- recipes (docs/recipes/*.md): each page's Python is one module, run as written ----------

RECIPES = ROOT / "docs" / "recipes"


def recipe_module(page: str, tmp_path: Path) -> ModuleType:
    """Write the recipe page's Python blocks to a module file and import it."""
    source = "\n\n".join(python_blocks(RECIPES / page))
    name = f"recipe_{Path(page).stem}_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def needs(framework: str, warm_up: str | None = None) -> None:
    """Skip, saying why, unless `framework` is installed and BaseLLM has `warm_up`."""
    if importlib.util.find_spec(framework) is None:
        pytest.skip(f"{framework} not installed: pip install -e '.[recipes]'")
    if warm_up is not None and not hasattr(BaseLLM, warm_up):
        pytest.skip(f"BaseLLM.{warm_up} (the warm-up the recipe calls) is not in this build")


@pytest.fixture
def gateway_env(llm_env: Callable[..., None], local_gateway: LocalGateway) -> LocalGateway:
    """DEFAULT_LLM is the direct provider, pointed at the local gateway's echo model."""
    llm_env(
        DEFAULT_LLM="openai_compatible",
        OPENAI_COMPATIBLE_BASE_URL=local_gateway.base_url,
        OPENAI_COMPATIBLE_CHAT_MODEL="echo",
    )
    return local_gateway


def test_every_recipe_is_in_the_site_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in sorted(RECIPES.glob("*.md")):
        assert f"recipes/{page.name}" in nav


def test_fastapi_recipe_warms_up_answers_and_streams(
    gateway_env: LocalGateway, tmp_path: Path
) -> None:
    needs("fastapi", "aprepare")
    from fastapi.testclient import TestClient

    recipe = recipe_module("fastapi.md", tmp_path)
    with TestClient(recipe.app) as client:  # runs the lifespan: get_default_llm + aprepare
        llm = recipe.app.state.llm
        assert llm.provider_name == "openai_compatible"
        answer = client.post("/ask", json={"text": "Hello FastAPI"})
        assert (answer.status_code, answer.json()) == (200, {"answer": "Hello FastAPI"})
        with client.stream("POST", "/ask/stream", json={"text": "Hello stream"}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = [line for line in stream.iter_lines() if line]
    texts = [json.loads(line[len("data: ") :])["text"] for line in lines if "text" in line]
    assert "".join(texts) == "Hello stream"
    assert lines[-2:] == ["event: done", "data: {}"]


def test_fastapi_recipe_reports_a_provider_failure_as_502(
    llm_env: Callable[..., None], local_gateway: LocalGateway, tmp_path: Path
) -> None:
    needs("fastapi", "aprepare")
    from fastapi.testclient import TestClient

    llm_env(
        DEFAULT_LLM="openai_compatible",
        OPENAI_COMPATIBLE_BASE_URL=local_gateway.base_url,
        OPENAI_COMPATIBLE_CHAT_MODEL="error-401",
    )
    with TestClient(recipe_module("fastapi.md", tmp_path).app) as client:
        answer = client.post("/ask", json={"text": "Hello"})
    assert (answer.status_code, answer.json()) == (502, {"detail": "auth"})


def run_celery_recipe_in_child(path: str, results: multiprocessing.Queue[object]) -> None:
    """The forked worker process: inherit the parent's LLM, set up as the signal would."""
    import importlib.util as util

    from llmport import get_default_llm

    inherited = get_default_llm()  # the parent's instance, from the inherited cache
    spec = util.spec_from_file_location("recipe_celery_child", path)
    assert spec is not None
    assert spec.loader is not None
    recipe = util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    recipe.setup_llm()  # what worker_process_init does in each prefork child
    fresh = recipe.worker_llm() is not inherited
    one = recipe.summarise("a fork-safe worker")  # calling a task runs its body, no broker
    many = recipe.summarise_all(["one", "two"])  # asyncio.run: its own event loop
    results.put((fresh, one, many))


def test_celery_recipe_sets_up_per_process_and_runs_its_tasks(
    gateway_env: LocalGateway, tmp_path: Path
) -> None:
    needs("celery", "prepare")
    recipe = recipe_module("celery.md", tmp_path)
    parent_llm = get_default_llm()
    parent_llm.chat_completions([{"role": "user", "content": "the parent's pool is open"}])
    context = multiprocessing.get_context("fork")  # as Celery's prefork pool does
    results: multiprocessing.Queue[object] = context.Queue()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*use of fork\\(\\) may lead to deadlocks")
        child = context.Process(target=run_celery_recipe_in_child, args=(recipe.__file__, results))
        child.start()
    try:
        fresh, one, many = cast("tuple[bool, str, list[str]]", results.get(timeout=120))
    finally:
        child.join(timeout=60)
        child.kill()
    assert child.exitcode == 0
    assert fresh is True
    assert one == "Summarise: a fork-safe worker"
    assert many == ["Summarise: one", "Summarise: two"]


@pytest.fixture
def django_client(gateway_env: LocalGateway, tmp_path: Path) -> Any:
    needs("django")
    import django
    from django.conf import settings
    from django.test import Client
    from django.test.utils import override_settings

    recipe = recipe_module("django.md", tmp_path)
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="llmport-recipe-test",
            ALLOWED_HOSTS=["testserver"],
            INSTALLED_APPS=[],
            MIDDLEWARE=[],
            ROOT_URLCONF=recipe.__name__,
        )
        django.setup()
    with override_settings(ROOT_URLCONF=recipe.__name__):
        yield Client()


@pytest.mark.parametrize("route", ["/ask", "/ask-async"])
def test_django_recipe_views_answer(django_client: Any, route: str) -> None:
    answer = django_client.post(
        route, {"question": "Hello Django"}, content_type="application/json"
    )
    assert (answer.status_code, answer.json()) == (200, {"answer": "Hello Django"})


def test_django_recipe_reports_a_provider_failure_as_502(
    django_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_COMPATIBLE_CHAT_MODEL", "error-401")
    answer = django_client.post("/ask", {"question": "Hi"}, content_type="application/json")
    assert (answer.status_code, answer.json()) == (502, {"error": "auth"})
