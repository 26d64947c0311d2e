"""Write a profiles file: the few TOML shapes `llmport.toml` uses, nothing more."""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from llmport.interop._common import comment_lines

__all__ = ["DROPPED", "portable", "profiles_toml"]

#: What `portable` returns for a value TOML cannot hold.
DROPPED: Any = object()

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def profiles_toml(data: Mapping[str, Any], header: list[str]) -> str:
    """A profiles file for `data` (`default` and `profiles`), below `header` as comments."""
    lines = comment_lines(header)
    if "default" in data:
        lines.append(f"default = {_value(data['default'])}")
    for name, table in data["profiles"].items():
        lines += ["", f"[profiles.{_key(name)}]"]
        lines += [f"{_key(key)} = {_value(value)}" for key, value in table.items()]
    return "\n".join(lines).lstrip("\n") + "\n"


def portable(
    value: Any, where: str, dropped: list[str], _inside: frozenset[int] = frozenset()
) -> Any:
    """`value` as TOML can hold it, else `DROPPED`; the keys left out are added to `dropped`.

    TOML has no null, no bytes and no self-containing value: a mapping loses such an
    entry, a list that holds one is left out whole (a shorter list would mean another).
    """
    if isinstance(value, bool | int | float | str | datetime.date | datetime.time):
        return value
    if id(value) in _inside or not isinstance(value, Mapping | list | tuple):
        dropped.append(where)
        return DROPPED
    inside = _inside | {id(value)}
    if isinstance(value, Mapping):
        kept = {str(k): portable(v, f"{where}.{k}", dropped, inside) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not DROPPED}
    items = [portable(item, where, [], inside) for item in value]
    if any(item is DROPPED for item in items):
        dropped.append(where)
        return DROPPED
    return items


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    # JSON's escapes are TOML's, once DEL (which JSON leaves alone) is escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime.date | datetime.time):  # TOML's dates and times
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
