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

#: Each snippet marks with `# error` the lines mypy must flag; every other line must pass.
SNIPPETS = {
    "typo": """
from llmport.testing import FakeLLM

FakeLLM().chat_completions([{"role": "user", "content": "hi"}], temprature=0.2)  # error
""",
    "options": """
from typing_extensions import Unpack

from llmport import CallOptions, FallbackLLM
from llmport.testing import FakeLLM


def ask(question: str, **options: Unpack[CallOptions]) -> str:
    group = FallbackLLM([FakeLLM()])
    return group.chat_completions([{"role": "user", "content": question}], **options).content


ask("hi", temperature=0.2, extra_params={"top_k": 1}, extra_headers={"x-trace": "1"})
ask("hi", max_tokens="many")  # error
""",
    "parsed": """
import asyncio

from pydantic import BaseModel

from llmport import FallbackLLM
from llmport.testing import FakeLLM

class City(BaseModel):
    name: str

USER = [{"role": "user", "content": "hi"}]
city: City | None = FakeLLM().chat_completions(USER, response_format=City).parsed
number: int | None = FakeLLM().chat_completions(USER, response_format=City).parsed  # error
answer = asyncio.run(FakeLLM().achat_completions(USER, response_format=City))
number = answer.parsed  # error
number = FallbackLLM([FakeLLM()]).chat_completions(USER, response_format=City).parsed  # error
number = FakeLLM().chat_completions(USER, response_format={"type": "json_object"}).parsed
""",
    "narrowing": """
from llmport import LLMError
from llmport.testing import FakeLLM

response = FakeLLM().chat_completions([{"role": "user", "content": "hi"}])
if response.error:
    error: LLMError = response.error
print(response.error.message)  # error
""",
    "gateway": """
from llmport.testing import LocalGateway

with LocalGateway() as gateway:
    model: str = gateway.requests[-1].body["model"]
""",
    "director": """
from typing import Any

from llmport.compat.director import BaseLLM, LLMResponse, LLMResponseStatus, get_default_llm

USER = [{"role": "user", "content": "hi"}]
llm = get_default_llm()
summary: str = llm.chat_completions(USER).content
as_json = llm.chat_completions(USER, response_format={"type": "json_object"})
cut = llm.chat_completions(messages=USER, tools=[], stop=["\\n"])


class Mine(BaseLLM):
    def chat_completions(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        stop: str | list[str] | None = None,
        response_format: Any = None,
    ) -> LLMResponse:
        return LLMResponse(content="x", status=LLMResponseStatus.SUCCESS)
""",
}


@pytest.fixture(scope="module")
def flagged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[int]]:
    """The line numbers mypy flags in each snippet (one mypy run for all of them)."""
    folder = tmp_path_factory.mktemp("typing")
    for name, code in SNIPPETS.items():
        (folder / f"{name}.py").write_text(code)
    result = mypy_strict(*sorted(folder.glob("*.py")))
    lines: dict[str, set[int]] = {name: set() for name in SNIPPETS}
    for message in result.stdout.splitlines():
        match = re.match(r"(\w+)\.py:(\d+): error:", message)
        if match:
            lines[match.group(1)].add(int(match.group(2)))
    return lines


def expected(name: str) -> set[int]:
    """The lines of snippet `name` marked `# error`."""
    code = SNIPPETS[name].splitlines()
    return {number for number, line in enumerate(code, start=1) if line.endswith("# error")}


def test_mypy_flags_a_misspelt_option(flagged: dict[str, set[int]]) -> None:
    assert flagged["typo"] == expected("typo") != set()


def test_apps_can_forward_call_options_with_their_own_signature(
    flagged: dict[str, set[int]],
) -> None:
    assert flagged["options"] == expected("options")


def test_parsed_is_typed_as_the_response_format_model(flagged: dict[str, set[int]]) -> None:
    assert flagged["parsed"] == expected("parsed")


def test_checking_response_error_narrows_it(flagged: dict[str, set[int]]) -> None:
    assert flagged["narrowing"] == expected("narrowing")


def test_gateway_request_bodies_read_without_a_none_check(flagged: dict[str, set[int]]) -> None:
    assert flagged["gateway"] == set()


def test_director_call_forms_type_check_on_the_compat_base(
    flagged: dict[str, set[int]],
) -> None:
    assert flagged["director"] == set()


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
