"""What a type checker sees: apps get their mistakes flagged and their answers typed.

One `mypy --strict` run checks every snippet below as an app would, against the
installed llmport and without the project's own mypy settings.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SNIPPETS = {
    "typo": """
from llmport.testing import FakeLLM

FakeLLM().chat_completions([{"role": "user", "content": "hi"}], temprature=0.2)
""",
    "options": """
from typing_extensions import Unpack

from llmport import CallOptions, FallbackLLM
from llmport.testing import FakeLLM


def ask(question: str, **options: Unpack[CallOptions]) -> str:
    group = FallbackLLM([FakeLLM()])
    return group.chat_completions([{"role": "user", "content": question}], **options).content


ask("hi", temperature=0.2, extra_params={"top_k": 1}, extra_headers={"x-trace": "1"})
""",
    "parsed": """
import asyncio

from pydantic import BaseModel

from llmport import FallbackLLM
from llmport.testing import FakeLLM

class City(BaseModel):
    name: str

USER = [{"role": "user", "content": "hi"}]
reveal_type(FakeLLM().chat_completions(USER, response_format=City).parsed)
reveal_type(asyncio.run(FakeLLM().achat_completions(USER, response_format=City)).parsed)
reveal_type(FallbackLLM([FakeLLM()]).chat_completions(USER, response_format=City).parsed)
reveal_type(FakeLLM().chat_completions(USER, response_format={"type": "json_object"}).parsed)
""",
    "narrowing": """
from llmport.testing import FakeLLM

response = FakeLLM().chat_completions([{"role": "user", "content": "hi"}])
if response.error:
    reveal_type(response.error)
""",
    "gateway": """
from llmport.testing import LocalGateway

with LocalGateway() as gateway:
    reveal_type(gateway.requests[-1].body["model"])
""",
}


@pytest.fixture(scope="module")
def mypy_says(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """mypy's messages for each snippet, keyed by snippet name (one run for all)."""
    folder = tmp_path_factory.mktemp("typing")
    for name, code in SNIPPETS.items():
        (folder / f"{name}.py").write_text(code)
    result = mypy_strict(*sorted(folder.glob("*.py")))
    said: dict[str, list[str]] = {name: [] for name in SNIPPETS}
    for line in result.stdout.splitlines():
        match = re.match(r"(\w+)\.py:\d+: (.*)", line)
        if match:
            said[match.group(1)].append(match.group(2))
    return said


def test_mypy_flags_a_misspelt_option(mypy_says: dict[str, list[str]]) -> None:
    assert any('Unexpected keyword argument "temprature"' in m for m in mypy_says["typo"])


def test_apps_can_forward_call_options_with_their_own_signature(
    mypy_says: dict[str, list[str]],
) -> None:
    assert mypy_says["options"] == []


def test_parsed_is_typed_as_the_response_format_model(mypy_says: dict[str, list[str]]) -> None:
    assert mypy_says["parsed"] == [
        'note: Revealed type is "parsed.City | None"',
        'note: Revealed type is "parsed.City | None"',
        'note: Revealed type is "parsed.City | None"',
        'note: Revealed type is "Any | None"',
    ]


def test_checking_response_error_narrows_it(mypy_says: dict[str, list[str]]) -> None:
    assert mypy_says["narrowing"] == ['note: Revealed type is "llmport.response.LLMError"']


def test_gateway_request_bodies_read_without_a_none_check(
    mypy_says: dict[str, list[str]],
) -> None:
    assert mypy_says["gateway"] == ['note: Revealed type is "Any"']


def mypy_strict(*paths: Path) -> subprocess.CompletedProcess[str]:
    """Run `mypy --strict` on `paths` as an app would: llmport is an installed package."""
    command = [sys.executable, "-m", "mypy", "--strict", "--config-file=", "--no-incremental"]
    return subprocess.run(
        [*command, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        cwd=paths[0].parent,
    )
