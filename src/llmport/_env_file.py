"""Reading a dotenv file that was asked for: a file that is missing or not text is an error."""

from __future__ import annotations

import io
import os

from llmport.errors import ConfigurationError

__all__ = ["read_env_file"]


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The variables that the dotenv file at `path` sets (lines without a value left out).

    Raises:
        ConfigurationError: the file does not exist, cannot be read, is not UTF-8 text,
            or has a line that is not `NAME=value`. The message names the file, the
            reason and the line, never its content.
    """
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    name = os.fspath(path)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise ConfigurationError(f"{name} cannot be read: no such file") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigurationError(f"{name} cannot be read: {reason}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"{name} cannot be read: not UTF-8 text (byte {exc.start + 1}); "
            "save it as UTF-8, or remove it"
        ) from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:  # named by its line only: the line may hold a key
            raise ConfigurationError(
                f"{name} cannot be read: line {binding.original.line} is not NAME=value "
                "(an unclosed quote?); fix or remove it"
            )
    values = dotenv_values(stream=io.StringIO(text))
    return {key: value for key, value in values.items() if value is not None}
