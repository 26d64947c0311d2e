"""Argument checks for `BaseLLM`: malformed input fails fast, before any network call."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "MAX_TIMEOUT",
    "OptionTypeError",
    "check_header",
    "check_header_value",
    "check_messages",
    "check_metadata",
    "check_sampling",
    "check_sendable",
    "check_stop",
    "check_tools",
    "positive_number",
]

#: The longest timeout accepted, in seconds (a week). Larger values, and infinity, are
#: mistakes that would otherwise fail deep inside an HTTP client's clock arithmetic.
MAX_TIMEOUT = 604_800.0


class OptionTypeError(TypeError, ValueError):
    """A call option of the wrong type: a `TypeError`, and a `ValueError` like every other
    malformed argument, so either `except` catches it."""


def positive_number(name: str, value: Any) -> float:
    wrong_type = isinstance(value, bool) or not isinstance(value, (int, float))
    if wrong_type or not 0 < value <= MAX_TIMEOUT:
        error = OptionTypeError if wrong_type else ValueError
        raise error(
            f"{name} must be a positive number of seconds up to {MAX_TIMEOUT:.0f}, got {value!r}"
        )
    return float(value)


def check_header_value(name: str, value: str) -> str:
    """`value` when an HTTP header can carry it: printable ASCII, no line break.

    The message gives the position, never the value (it is usually a credential).
    """
    for position, char in enumerate(value):
        if not (" " <= char <= "~" or char == "\t"):
            raise ValueError(
                f"{name} cannot be sent in an HTTP header: character {position + 1} is not "
                "printable ASCII (a non-ASCII letter or a line break)"
            )
    return value


#: An HTTP header name: one or more token characters (RFC 9110, section 5.6.2).
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def check_header(name: Any, value: Any) -> None:
    """Raise `ValueError` unless `name: value` can be sent as an HTTP header.

    The message names the header, never its value (it is usually a credential).
    """
    label = f"extra_headers[{name!r}]"
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"{label} is not a valid HTTP header name (letters, digits, -_.)")
    if isinstance(value, str):
        check_header_value(label, value)


def _json_problem(value: Any) -> str | None:
    """Why `value` cannot be sent as strict JSON, or None when it can."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return "NaN and Infinity are not JSON"
    except TypeError as exc:  # a set, bytes, an arbitrary object
        return str(exc)
    except RecursionError:
        return "nested too deeply"
    return None


def check_sendable(**arguments: Any) -> None:
    """Raise `ValueError` naming the first argument that cannot be sent as JSON.

    Lists are checked item by item so the message points at the item (`messages[2]`);
    `params` (sampling and extra parameters) is checked key by key.
    """
    for name, value in arguments.items():
        if value is None or _json_problem(value) is None:
            continue
        if isinstance(value, Mapping):
            parts = [(f"{name}[{key!r}]", item) for key, item in value.items()]
        elif isinstance(value, list):
            parts = [(f"{name}[{index}]", item) for index, item in enumerate(value)]
        else:
            parts = [(name, value)]
        for label, item in parts:
            problem = _json_problem(item)
            if problem is not None:
                raise ValueError(f"{label} cannot be sent as JSON: {problem}")
        raise ValueError(f"{name} cannot be sent as JSON: {_json_problem(value)}")


def check_sampling(name: str, value: Any) -> Any:
    if name in ("max_tokens", "seed"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise OptionTypeError(f"{name} must be an integer, got {value!r}")
        if name == "max_tokens" and value <= 0:
            raise ValueError(f"max_tokens must be positive, got {value}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OptionTypeError(f"{name} must be a number, got {value!r}")
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


_TOOL_SHAPES = (
    "{'type': 'function', 'function': {'name': ..., 'parameters': {...}}} "
    "or {'name': ..., 'description': ..., 'parameters': {...}}"
)


def check_tools(tools: Any) -> list[dict[str, Any]] | None:
    """Tools in the OpenAI shape. The flat `{"name", "description", "parameters"}` shape
    (Director's, and the Responses API's with `"type": "function"`) is moved under
    `"function"`; any other shape of function tool raises `ValueError`."""
    if tools is None:
        return None
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
        raise ValueError(f"tools must be a list of tool definitions, got {type(tools).__name__}")
    checked: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise ValueError(f"tools[{index}] must be a dict, got {type(tool).__name__}")
        if tool.get("type", "function") == "function":
            tool = _function_tool(index, tool)
        checked.append(tool if isinstance(tool, dict) else dict(tool))
    return checked or None


def _function_tool(index: int, tool: Mapping[str, Any]) -> Mapping[str, Any]:
    """`tool` in the nested OpenAI shape, or `ValueError` naming what is wrong."""
    nested = "function" in tool
    function = tool["function"] if nested else {k: v for k, v in tool.items() if k != "type"}
    if not isinstance(function, Mapping):
        raise ValueError(f"tools[{index}] must look like {_TOOL_SHAPES}")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"tools[{index}] has no function name; it must look like {_TOOL_SHAPES}")
    parameters = function.get("parameters")
    if parameters is not None and not isinstance(parameters, Mapping):
        raise ValueError(
            f"tools[{index}] ({name}): parameters must be a JSON schema object, "
            f"got {type(parameters).__name__}"
        )
    description = function.get("description")
    if description is not None and not isinstance(description, str):
        raise ValueError(
            f"tools[{index}] ({name}): description must be a string, "
            f"got {type(description).__name__}"
        )
    return tool if nested else {"type": "function", "function": function}


def check_stop(stop: Any) -> str | list[str] | None:
    if stop is None or isinstance(stop, str):
        return stop
    if isinstance(stop, Sequence) and all(isinstance(s, str) for s in stop):
        return list(stop) or None
    raise ValueError(f"stop must be a string or a list of strings, got {stop!r}")


def check_metadata(metadata: Any) -> dict[str, Any]:
    """`metadata=` as a dict; absent (None) is `{}`, any other non-dict is refused.

    Falsy values such as "", [], 0 or False are refused like "x" or 42, not read as `{}`.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise OptionTypeError(f"metadata must be a dict, got {metadata!r:.80}")
    return dict(metadata)
