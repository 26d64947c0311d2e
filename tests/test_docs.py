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

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import llmport._provider_table as registry

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
