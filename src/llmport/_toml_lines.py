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
    table, `a.b = ...` lines add keys below it, lines that begin inside a multi-line
    string are skipped.
    """
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    open_string: str | None = None
    for number, line in enumerate(lines, start=1):
        inside = open_string is not None
        open_string = _open_string_after(line, open_string)
        if inside:
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
    return found


def _open_string_after(line: str, open_string: str | None) -> str | None:
    """The multi-line string delimiter (three double or single quotes) open after `line`.

    `open_string` is the one open at its start. Quotes are read as TOML reads them:
    backslash escapes only in basic (double-quoted) strings, and a `#` outside any
    string ends the line.
    """
    index = 0
    while index < len(line):
        if open_string is not None:
            end = _closing(line, index, open_string)
            if end < 0:
                return open_string
            index, open_string = end, None
            continue
        char = line[index]
        if char == "#":
            return None
        if char not in "\"'":
            index += 1
            continue
        delimiter = char * 3 if line.startswith(char * 3, index) else char
        index += len(delimiter)
        if len(delimiter) == 3:
            open_string = delimiter
            continue
        end = _closing(line, index, delimiter)
        index = len(line) if end < 0 else end
    return open_string


def _closing(line: str, start: int, delimiter: str) -> int:
    """The index just past `delimiter` closing a string from `start`; -1 if not on `line`."""
    index = start
    while index < len(line):
        if delimiter[0] == '"' and line[index] == "\\":
            index += 2
            continue
        if line.startswith(delimiter, index):
            end = index + len(delimiter)
            while len(delimiter) == 3 and end < len(line) and line[end] == delimiter[0]:
                end += 1  # up to two quotes may end the content just before the delimiter
            return end
        index += 1
    return -1


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
