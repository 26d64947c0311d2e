"""Argument checks for `BaseLLM`: malformed input fails fast, before any network call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["check_messages", "check_sampling", "check_stop", "check_tools", "positive_number"]


def positive_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def check_sampling(name: str, value: Any) -> Any:
    if name in ("max_tokens", "seed"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if name == "max_tokens" and value <= 0:
            raise ValueError(f"max_tokens must be positive, got {value}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    upper = 2.0 if name == "temperature" else 1.0
    if not 0 <= value <= upper:
        raise ValueError(f"{name} must be between 0 and {upper}, got {value}")
    return value


def check_messages(messages: Any) -> list[dict[str, Any]]:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise ValueError(
            "messages must be a list of {'role': ..., 'content': ...} dicts, "
            f"got {type(messages).__name__}"
        )
    if not messages:
        raise ValueError("messages must not be empty")
    checked: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ValueError(
                f"messages[{index}] must be a dict with 'role' and 'content', "
                f"got {type(message).__name__}"
            )
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise ValueError(f"messages[{index}] has no 'role' (e.g. 'user', 'system')")
        if "content" not in message and not message.get("tool_calls"):
            raise ValueError(f"messages[{index}] ({role}) has no 'content'")
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise ValueError(
                f"messages[{index}].content must be a string or a list of parts, "
                f"got {type(content).__name__}"
            )
        checked.append(message if isinstance(message, dict) else dict(message))
    return checked


def check_tools(tools: Any) -> list[dict[str, Any]] | None:
    if tools is None:
        return None
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
        raise ValueError(f"tools must be a list of tool definitions, got {type(tools).__name__}")
    checked: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise ValueError(f"tools[{index}] must be a dict, got {type(tool).__name__}")
        function = tool.get("function")
        if tool.get("type", "function") == "function" and (
            not isinstance(function, Mapping) or not function.get("name")
        ):
            raise ValueError(
                f"tools[{index}] must look like "
                "{'type': 'function', 'function': {'name': ..., 'parameters': {...}}}"
            )
        checked.append(tool if isinstance(tool, dict) else dict(tool))
    return checked or None


def check_stop(stop: Any) -> str | list[str] | None:
    if stop is None or isinstance(stop, str):
        return stop
    if isinstance(stop, Sequence) and all(isinstance(s, str) for s in stop):
        return list(stop) or None
    raise ValueError(f"stop must be a string or a list of strings, got {stop!r}")
