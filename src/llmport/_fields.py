"""Reading one field of a payload that may be a dict or an object, and token counts.

Payloads are dicts (JSON from an HTTP body) or objects with attributes (litellm's
`ModelResponse` and its parts); `read_field` reads both the same way and never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["as_count", "read_field"]


def read_field(obj: Any, name: str) -> Any:
    """`obj[name]` for mappings, `obj.name` for objects, None when absent.

    Objects are read through their `__dict__` (and pydantic's extras) first: a missing
    attribute on a pydantic model goes through a slow `__getattr__`, and stream
    parsing asks for several missing attributes on every chunk.
    """
    cls = type(obj)
    if cls is dict:
        return obj.get(name)
    if obj is None:
        return None
    is_mapping = _mapping_types.get(cls)
    if is_mapping is None:
        is_mapping = _mapping_types[cls] = issubclass(cls, Mapping)
    if is_mapping:
        return obj.get(name)
    values = getattr(obj, "__dict__", None)
    if values is not None:
        if name in values:
            return values[name]
        extra = getattr(obj, "__pydantic_extra__", None)
        if extra and name in extra:
            return extra[name]
        if not _class_defines(cls, name):
            return None
    try:
        return getattr(obj, name, None)
    except Exception:  # a property that raises is as good as absent
        return None


_mapping_types: dict[type, bool] = {}
_class_attributes: dict[tuple[type, str], bool] = {}


def _class_defines(cls: type, name: str) -> bool:
    """Whether `cls` (or a base) defines `name`, e.g. as a property; cached per class."""
    key = (cls, name)
    known = _class_attributes.get(key)
    if known is None:
        known = _class_attributes[key] = any(name in vars(k) for k in cls.__mro__)
    return known


#: Larger counts are not token counts; they are garbage (and a long digit string cannot
#: even be converted to an int).
_MAX_COUNT = 2**63 - 1


def as_count(value: Any) -> int | None:
    """A token count, or None when the value is missing or not a sensible count."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str):
        text = value.strip()
        # isdigit() alone accepts "²" and "٣", which int() refuses or misreads.
        if not (text.isascii() and text.isdigit() and len(text) <= 19):
            return None
        value = int(text)
    if isinstance(value, int) and 0 <= value <= _MAX_COUNT:
        return value
    return None
