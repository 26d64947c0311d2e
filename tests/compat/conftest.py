"""Director-compat tests: no provider variable leaks in from the shell, and a fake
`litellm` module installed in `sys.modules` the way Director's own tests do it."""

from __future__ import annotations

import json
import os
import sys
import types
from typing import Any
from unittest import mock

import pytest

_DIRECTOR_PREFIXES = ("OPENAI_", "ANTHROPIC_", "GOOGLEAI_", "VIDEO_DB_", "LITELLM_")


@pytest.fixture(autouse=True)
def _no_director_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_DIRECTOR_PREFIXES) and name != "LITELLM_LOCAL_MODEL_COST_MAP":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DEFAULT_LLM", raising=False)


def _completion(
    content: str | None = "hello",
    *,
    tool_calls: list[tuple[str, str, Any]] | None = None,
    finish_reason: str = "stop",
    usage: tuple[int, int, int] | None = (10, 5, 15),
) -> types.SimpleNamespace:
    """An OpenAI-shaped response object, as litellm returns it.

    `tool_calls` are `(id, name, arguments)`; arguments that are not a string are JSON-encoded.
    """
    calls = [
        types.SimpleNamespace(
            id=call_id,
            type="function",
            function=types.SimpleNamespace(
                name=name,
                arguments=args if args is None or isinstance(args, str) else json.dumps(args),
            ),
        )
        for call_id, name, args in tool_calls or []
    ]
    message = types.SimpleNamespace(content=content, tool_calls=calls or None)
    counts = None
    if usage is not None:
        counts = types.SimpleNamespace(
            prompt_tokens=usage[0], completion_tokens=usage[1], total_tokens=usage[2]
        )
    return types.SimpleNamespace(
        choices=[types.SimpleNamespace(message=message, finish_reason=finish_reason)],
        usage=counts,
    )


@pytest.fixture
def fake_litellm(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh fake `litellm` module in `sys.modules` for this test; `completion` is a mock."""
    module = types.ModuleType("litellm")
    module.completion = mock.MagicMock(return_value=_completion())  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "litellm", module)
    return module


@pytest.fixture
def answer() -> Any:
    """Builds the response object the fake `litellm.completion` returns (see `_completion`)."""
    return _completion
