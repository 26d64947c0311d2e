"""Every Python example in README.md and docs/ runs, so the docs cannot rot.

Blocks of one file run in order in one namespace, with DEFAULT_LLM=fake and the
registry restored afterwards. A block whose first line is `# not run` is skipped
(for snippets that need a real API key).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

import llmport.registry as registry

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(page: Path) -> list[str]:
    return [b for b in BLOCK.findall(page.read_text()) if not b.startswith("# not run")]


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
