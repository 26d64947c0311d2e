"""Where keys and tables are written in a TOML file, for error messages that name the line."""

from __future__ import annotations

import re

__all__ = ["key_lines", "split_key"]

_HEADER = re.compile(r"^\s*\[\[?(.+?)\]\]?\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(r"""^\s*((?:[^="'#\s]|\s(?=[^=]*=)|"[^"]*"|'[^']*')+?)\s*=""")
_KEY_PART = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*""")


def key_lines(lines: list[str]) -> dict[tuple[str, ...], int]:
    """Where each table and key is first written: full dotted path -> 1-based line.

    A light reading of TOML (the file already parsed): table headers set the current
    table, `a.b = ...` lines add keys below it, lines inside multi-line strings are skipped.
    """
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    in_string = False
    for number, line in enumerate(lines, start=1):
        code = line if in_string else _without_comment(line)
        quotes = code.count('"""') + code.count("'''")
        if in_string:
            in_string = quotes % 2 == 0
            continue
        header = _HEADER.match(line)
        parts = split_key(header.group(1)) if header else None
        if parts is not None:
            table = parts
            found.setdefault(table, number)
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment:
            parts = split_key(assignment.group(1))
            if parts is not None:
                for depth in range(1, len(parts) + 1):
                    found.setdefault((*table, *parts[:depth]), number)
        in_string = quotes % 2 == 1
    return found


def _without_comment(line: str) -> str:
    """`line` up to a `#` that is not inside a quoted string."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:index]
    return line


def split_key(text: str) -> tuple[str, ...] | None:
    """`profiles."my.name".retry` -> ("profiles", "my.name", "retry"); None if not a key."""
    parts: list[str] = []
    position = 0
    while True:
        match = _KEY_PART.match(text, position)
        if match is None or match.end() == position:
            return None
        parts.append(next(group for group in match.groups() if group is not None))
        position = match.end()
        if position == len(text):
            return tuple(parts)
        if text[position] != ".":
            return None
        position += 1
