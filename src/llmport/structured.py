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
    return isinstance(value, type) and issubclass(value, BaseModel)


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


_FENCED = re.compile(r"```[ \t]*(?:json)?[ \t]*\n?(.*?)```", re.DOTALL | re.IGNORECASE)


def _strip_code_fence(text: str) -> str:
    """The JSON inside the first fenced block (```json, ```JSON, bare ```), even after prose.

    Text that already starts like JSON is taken as it is, so a fence inside a string
    value of an unfenced answer is left alone.
    """
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        return stripped
    match = _FENCED.search(stripped)
    return match.group(1).strip() if match else stripped


def check_response_format(response_format: Any) -> None:
    """Refuse a `response_format` that is neither a pydantic model class nor a dict.

    Raises:
        ValueError: e.g. `response_format=dict`, a dataclass, or a string.
    """
    if response_format is None or is_output_type(response_format):
        return
    if isinstance(response_format, Mapping):
        return
    shown = response_format.__name__ if isinstance(response_format, type) else repr(response_format)
    raise ValueError(
        f"response_format must be a pydantic model class or a response-format dict such as "
        f'{{"type": "json_object"}}, got {shown[:80]}'
    )
