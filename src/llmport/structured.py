"""Structured output: `response_format=SomeModel` gives `response.parsed`, validated.

Providers that enforce JSON schemas get OpenAI's `json_schema` response format.
Providers that cannot (`supports_response_schema = False`) get the schema in a
system message instead; either way the answer is validated here, and a failure
is an ERROR of kind `bad_response` with the raw text kept in `content`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, TypeAlias

from pydantic import BaseModel, ValidationError
from typing_extensions import TypeVar

from llmport.errors import ErrorKind
from llmport.response import LLMError, LLMResponse, LLMResponseStatus

__all__ = [
    "OutputT",
    "ResponseFormat",
    "check_response_format",
    "is_output_type",
    "response_format_for",
    "schema_instruction",
    "validate_output",
]

#: The model class passed as `response_format`; `Any` when none is.
OutputT = TypeVar("OutputT", bound=BaseModel, default=Any)

#: What `response_format` takes: a pydantic model class (the answer is validated into
#: `response.parsed`, typed as that model), an OpenAI `response_format` dict, or None.
ResponseFormat: TypeAlias = type[OutputT] | Mapping[str, Any] | None


def is_output_type(value: Any) -> bool:
    """True when `value` is a pydantic model class to validate answers against."""
    return isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel


def response_format_for(output_type: type[BaseModel]) -> dict[str, Any]:
    """OpenAI's `json_schema` response format for `output_type`."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": _schema_name(output_type),
            "schema": output_type.model_json_schema(),
        },
    }


def schema_instruction(output_type: type[BaseModel]) -> str:
    """A system message asking for JSON matching `output_type`'s schema."""
    schema = json.dumps(output_type.model_json_schema(), separators=(",", ":"))
    return (
        "Answer with a single JSON object only, no prose and no code fences, "
        f"matching this JSON schema: {schema}"
    )


def validate_output(response: LLMResponse, output_type: type[BaseModel]) -> LLMResponse:
    """Return `response` with `parsed` set, or an ERROR (bad_response) keeping the raw text."""
    if not response.ok or response.tool_calls:  # a tool-call turn is not the answer yet
        return response
    text = _strip_code_fence(response.content)
    try:
        parsed = output_type.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)[:5]
        )
        error = LLMError(
            kind=ErrorKind.BAD_RESPONSE,
            message=f"bad_response: the answer does not match {output_type.__name__}: {problems}",
        )
        return replace(response, status=LLMResponseStatus.ERROR, error=error)
    return replace(response, parsed=parsed)


def _schema_name(output_type: type[BaseModel]) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", output_type.__name__)[:64] or "output"


#: A fence on a line of its own: three or more backticks or tildes, then an info string.
_OPENING = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
#: A fenced block written on one line: ```json {...}```.
_INLINE = re.compile(r"```[ \t]*(?:json)?[ \t]*\n?(.*?)```", re.DOTALL | re.IGNORECASE)


def _strip_code_fence(text: str) -> str:
    """The JSON an answer holds: the answer itself when it starts like JSON, else the first
    fenced block that does (```json, ~~~, any info string, after prose), else the first block.

    Text that already starts like JSON is taken as it is (so a fence inside a string
    value of an unfenced answer is left alone), unless it is not JSON and holds a
    fenced block: prose such as "[Note] ..." may start with a bracket.
    """
    stripped = text.lstrip("\ufeff").strip()
    blocks = [block.strip() for block in _fenced_blocks(stripped)]
    if stripped.startswith(("{", "[")) and (not blocks or _is_json(stripped)):
        return stripped  # prose such as "[Note] ..." followed by a block is not JSON
    for block in blocks:
        if block.startswith(("{", "[")):
            return block
    if blocks:
        return blocks[0]
    match = _INLINE.search(stripped)
    return match.group(1).strip() if match else stripped


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _fenced_blocks(text: str) -> list[str]:
    """The contents of the Markdown fenced blocks of `text`, in order.

    A block closes at a line holding only a fence of the same character, at least as
    long as the one that opened it; an unclosed block runs to the end.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    blocks: list[str] = []
    index = 0
    while index < len(lines):
        opening = _OPENING.match(lines[index])
        index += 1
        if opening is None or "`" in opening["info"]:  # ``` x ``` on one line is inline code
            continue
        fence = opening["fence"]
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = next((i for i in range(index, len(lines)) if closing.match(lines[i])), len(lines))
        blocks.append("\n".join(lines[index:end]))
        index = end + 1
    return blocks


def check_response_format(response_format: Any) -> None:
    """Refuse a `response_format` that is neither a pydantic model class nor a format dict.

    A dict needs a string `type` (other keys are the provider's business), and a
    `json_schema` one its `json_schema` object.

    Raises:
        ValueError: e.g. `response_format=dict`, `BaseModel` itself, a dataclass, a
            string, `{}`, or `{"type": "json_schema"}` without its schema.
    """
    if response_format is None or is_output_type(response_format):
        return
    if isinstance(response_format, Mapping):
        _check_format_dict(response_format)
        return
    shown = response_format.__name__ if isinstance(response_format, type) else repr(response_format)
    raise ValueError(
        f"response_format must be a pydantic model class or a response-format dict such as "
        f'{{"type": "json_object"}}, got {shown[:80]}'
    )


def _check_format_dict(response_format: Mapping[str, Any]) -> None:
    kind = response_format.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValueError(
            'a response_format dict needs a "type" such as "json_object" or "json_schema", '
            f"got {dict(response_format)!r:.80}"
        )
    if kind == "json_schema" and not isinstance(response_format.get("json_schema"), Mapping):
        raise ValueError(
            'a response_format of type "json_schema" needs a "json_schema" object '
            '({"name": ..., "schema": {...}}); or pass a pydantic model class instead'
        )
