"""The one JSON decoder for anything that came from a provider.

`json.loads` can fail in ways that are not `ValueError`: a document nested deeper
than the interpreter's recursion limit raises `RecursionError`. A hostile or broken
server must not be able to crash a call that way, so every decode of provider data
goes through `load_json`, which fails with `ValueError` only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["load_json", "load_json_chunk"]

#: The C scanner `json.loads` itself uses (an attribute typeshed does not declare).
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def load_json(text: str | bytes) -> Any:
    """Decode JSON text; every failure is a `ValueError` with a short reason.

    That covers invalid JSON (a `json.JSONDecodeError`), bytes that are not UTF-8,
    integers longer than Python converts (4,300 digits) and nesting too deep to decode.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply to decode") from None


def load_json_chunk(text: str) -> Any:
    """`load_json` for text with no surrounding whitespace (a stripped SSE data line).

    Calling the scanner directly skips the wrapper's whitespace matches and Python
    calls, a quarter of the cost of decoding a small chunk. Fails with `ValueError` only.
    """
    try:
        value, end = _scan_json(text, 0)
    except StopIteration as exc:
        raise json.JSONDecodeError("Expecting value", text, exc.value) from None
    except RecursionError:
        raise ValueError("JSON nested too deeply to decode") from None
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value
