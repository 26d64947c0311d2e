"""The gateway's `chaos-<seed>` model: 20% repeatable faults, echo otherwise."""

from __future__ import annotations

from collections import Counter
from typing import Any

from llmport.testing._gateway_models import MODELS, _behaviour, _Call, _Completion, _Raw

MESSAGES = [{"role": "user", "content": "ping"}]


def outcomes(model: str, count: int) -> list[Any]:
    behaviour = _behaviour(model)
    assert behaviour is not None
    body = {"model": model, "messages": MESSAGES}
    return [behaviour(_Call(model, body, n, n, behaviour)) for n in range(1, count + 1)]


def kind(outcome: Any) -> str:
    if isinstance(outcome, _Raw):
        return str(outcome.status)
    if isinstance(outcome, _Completion):
        return "ok"
    return str(outcome)


def test_chaos_is_documented() -> None:
    assert "chaos-<seed>" in MODELS


def test_chaos_faults_are_a_fifth_and_of_every_kind() -> None:
    counts = Counter(kind(o) for o in outcomes("chaos-7", 4000))
    assert set(counts) == {"ok", "429", "503", "reset", "stall"}
    assert 0.17 < 1 - counts["ok"] / 4000 < 0.23


def test_chaos_is_repeatable_per_seed() -> None:
    first = [kind(o) for o in outcomes("chaos-7", 300)]
    assert first == [kind(o) for o in outcomes("chaos-7", 300)]
    assert first != [kind(o) for o in outcomes("chaos-8", 300)]


def test_chaos_rate_limits_say_retry_after_zero_and_successes_echo() -> None:
    results = outcomes("chaos-7", 200)
    limited = next(o for o in results if isinstance(o, _Raw) and o.status == 429)
    assert ("Retry-After", "0") in limited.headers
    answer = next(o for o in results if isinstance(o, _Completion))
    assert answer.content == "ping"
