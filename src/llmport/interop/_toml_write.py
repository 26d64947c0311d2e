"""Write a profiles file: the few TOML shapes `llmport.toml` uses, nothing more."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["profiles_toml"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def profiles_toml(data: Mapping[str, Any], header: list[str]) -> str:
    """A profiles file for `data` (`default` and `profiles`), below `header` as comments."""
    lines = [f"# {line}" if line else "#" for line in header]
    if "default" in data:
        lines.append(f"default = {_value(data['default'])}")
    for name, table in data["profiles"].items():
        lines += ["", f"[profiles.{_key(name)}]"]
        lines += [f"{_key(key)} = {_value(value)}" for key, value in table.items()]
    return "\n".join(lines).lstrip("\n") + "\n"


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
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
