"""Hooks: observe every call without touching the request path.

Subclass `LLMHooks` and override what you need, then pass instances to a
provider (`LiteLLM(hooks=[MyHooks()])`) or register them for every provider with
`add_hooks()`. A hook that raises is logged and ignored: hooks never break a request.

    on_request   once per call, before the first attempt
    on_retry     after a failed attempt, before waiting `delay` seconds
    on_response  once per call that ends in SUCCESS
    on_error     once per call that ends in ERROR
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from llmport.cost import outside_spends

if TYPE_CHECKING:
    from llmport.base import BaseLLM, ChatRequest
    from llmport.response import LLMResponse

__all__ = ["LLMHooks", "add_hooks", "global_hooks", "remove_hooks"]

logger = logging.getLogger(__name__)

_global: tuple[LLMHooks, ...] = ()
_lock = threading.Lock()


class LLMHooks:
    """No-op base class for call observers; `request.metadata` carries per-call context."""

    def on_request(self, llm: BaseLLM, request: ChatRequest) -> None:
        """Called once per call, before the first attempt."""

    def on_retry(
        self, llm: BaseLLM, request: ChatRequest, failed: LLMResponse, attempt: int, delay: float
    ) -> None:
        """Called after failed attempt number `attempt`, before sleeping `delay` seconds."""

    def on_response(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        """Called once per call that ends in SUCCESS."""

    def on_error(self, llm: BaseLLM, request: ChatRequest, response: LLMResponse) -> None:
        """Called once per call that ends in ERROR (after retries)."""


def add_hooks(*hooks: LLMHooks) -> None:
    """Register hooks that every provider instance calls, in addition to its own."""
    global _global
    with _lock:
        _global = _global + tuple(h for h in hooks if h not in _global)


def remove_hooks(*hooks: LLMHooks) -> None:
    """Unregister hooks added with `add_hooks()`."""
    global _global
    with _lock:
        _global = tuple(h for h in _global if h not in hooks)


def global_hooks() -> tuple[LLMHooks, ...]:
    """The hooks registered with `add_hooks()`."""
    return _global


def emit(hooks: Iterable[LLMHooks], event: str, *args: object) -> None:
    """Call `event` on every hook; log and swallow anything a hook raises.

    LLM calls a hook makes are its own: a fallback group does not count them.
    """
    with outside_spends():
        for hook in hooks:
            try:
                getattr(hook, event)(*args)
            except Exception:
                logger.exception(
                    "llmport hook %s.%s failed; ignored",
                    type(hook).__name__,
                    event,
                    extra={"hook": type(hook).__name__, "event": event},
                )
