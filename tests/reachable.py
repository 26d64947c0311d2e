"""What a caller sees: every string reachable from a value, and the usage counts reported."""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from llmport import LLMResponse, Usage

__all__ = ["reported", "strings_in"]


def strings_in(value: Any) -> Iterator[str]:
    """Every string reachable from `value` (LLMResponse.raw excepted), without recursion."""
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
            continue
        if item is None or isinstance(item, (bool, int, float)) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, enum.Enum):
            stack.append(item.value)
        elif isinstance(item, bytes):
            stack.append(item.decode("utf-8", "replace"))
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            skip = "raw" if isinstance(item, LLMResponse) else None
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item) if f.name != skip)
        elif isinstance(item, BaseException):
            stack.extend([str(item), repr(item), item.args])
        elif isinstance(item, logging.LogRecord):
            stack.append(item.getMessage())
            stack.extend(v for k, v in vars(item).items() if k not in ("msg", "args"))
        else:
            stack.append(repr(item))


def reported(usage: Usage) -> Usage:
    """The counts the provider reported: counts marked as estimated are not reported."""
    return Usage() if getattr(usage, "estimated", False) else usage
