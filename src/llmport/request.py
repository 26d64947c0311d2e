"""`ChatRequest`: one call's request as providers receive it, config and options merged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

__all__ = ["ChatRequest"]


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat completion request, with config defaults and overrides already merged.

    `params` holds the parameters sent to the backend: the sampling ones that are set
    (temperature, top_p, max_tokens, seed), the other `CallOptions` given, and the
    config's and the call's `extra_params`; unset ones are absent. `extra_body`, when
    given, stays one entry of `params` for the provider to merge into its JSON body.
    `timeout` bounds each read; `total_timeout` the whole call, and `deadline` is the
    `time.monotonic()` instant it ends (set when the call starts; None without one).
    """

    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    stop: str | list[str] | None = None
    response_format: Any = None
    timeout: float = 60.0
    total_timeout: float | None = None
    deadline: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Per-call HTTP headers (`extra_headers=`), merged over the configured ones.
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    output_type: type[BaseModel] | None = None
    stream: bool = False
