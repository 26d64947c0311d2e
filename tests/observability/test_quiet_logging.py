"""llmport logs through the `llmport` logger and prints nothing an app did not ask for."""

from __future__ import annotations

import subprocess
import sys
import textwrap

#: An app that configured no logging makes failing calls of every kind.
FAILING_CALLS = textwrap.dedent(
    """
    import asyncio
    {setup}
    from llmport import ErrorKind, FallbackLLM, OpenAICompatible, RetryPolicy
    from llmport.testing import FakeLLM

    USER = [{{"role": "user", "content": "hi"}}]
    fast = RetryPolicy(initial_backoff=0, jitter=False)
    assert not FakeLLM([ErrorKind.SERVER] * 3, retry=fast).chat_completions(USER).ok
    once = RetryPolicy.never()
    group = FallbackLLM([FakeLLM([ErrorKind.RATE_LIMIT], retry=once), FakeLLM([ErrorKind.AUTH])])
    assert not group.chat_completions(USER).ok
    closed_port = OpenAICompatible(
        base_url="http://127.0.0.1:9/v1", chat_model="m", retry=RetryPolicy.never()
    )
    assert not closed_port.chat_completions(USER).ok
    assert not asyncio.run(closed_port.achat_completions(USER)).ok
    """
)


def run_app(setup: str = "") -> subprocess.CompletedProcess[str]:
    code = FAILING_CALLS.format(setup=setup)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )


def test_an_app_without_logging_config_sees_nothing_from_failed_calls() -> None:
    result = run_app()
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout == ""


def test_an_app_that_configures_logging_gets_the_failures() -> None:
    result = run_app("import logging; logging.basicConfig(level=logging.WARNING)")
    assert result.returncode == 0
    assert "llm call error" in result.stderr
    assert "llm fallback" in result.stderr
