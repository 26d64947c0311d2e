"""`Tool` and `@tool`: a typed Python function the model can call.

The JSON schema comes from the signature (pydantic builds it and validates the
arguments), the description from the docstring's summary, and each parameter's
description from its `Args:` section (Google style) unless the annotation
already carries one (`Annotated[str, Field(description=...)]`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, overload

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.json_schema import GenerateJsonSchema

__all__ = ["Tool", "describe_validation_error", "loop_is_running", "serialize_result", "tool"]

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SECTION = re.compile(r"^([A-Z][A-Za-z ]*):\s*$")
_ARGS_SECTIONS = frozenset({"Args", "Arguments", "Parameters"})
_ARG_LINE = re.compile(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


class Tool:
    """A function the model can call, with its name, description and JSON schema.

    Calling the tool object calls the function unchanged, so a decorated function
    keeps working as a plain function. Build one with `@tool` or `Tool(function)`.

    Raises:
        TypeError: the function takes `*args`/`**kwargs` or positional-only parameters,
            or its type hints cannot be resolved.
        ValueError: the name is not 1-64 letters, digits, `_` or `-` (OpenAI's rule).
    """

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        requires_confirmation: bool = False,
    ) -> None:
        self.function = function
        self.name: str = name or str(getattr(function, "__name__", ""))
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-'; "
                "pass name=... to @tool"
            )
        summary, parameter_docs = _parse_docstring(inspect.getdoc(function) or "")
        self.description = summary if description is None else description
        self.requires_confirmation = requires_confirmation
        self.is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            type(function).__call__  # an object with an async __call__
        )
        self.arguments_model, self._parameter_of = _arguments_model(
            function, self.name, parameter_docs
        )
        self.parameters: dict[str, Any] = self.arguments_model.model_json_schema(
            schema_generator=_WithoutFieldTitles
        )
        self.parameters.pop("title", None)
        functools.update_wrapper(self, function)

    def __repr__(self) -> str:
        flag = ", requires_confirmation=True" if self.requires_confirmation else ""
        return f"Tool(name={self.name!r}{flag})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def definition(self) -> dict[str, Any]:
        """The OpenAI tool definition: `{"type": "function", "function": {...}}`."""
        function: dict[str, Any] = {"name": self.name}
        if self.description:
            function["description"] = self.description
        function["parameters"] = self.parameters
        return {"type": "function", "function": function}

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Validate (and coerce) the model's arguments into keyword arguments.

        Raises:
            pydantic.ValidationError: an argument is missing, unknown or of the wrong type.
        """
        validated = self.arguments_model.model_validate(dict(arguments))
        return {parameter: getattr(validated, key) for key, parameter in self._parameter_of.items()}

    def call(self, arguments: Mapping[str, Any]) -> Any:
        """Validate `arguments` and run the tool; an async tool runs in `asyncio.run`.

        Raises:
            pydantic.ValidationError: the arguments are invalid.
            RuntimeError: an async tool was called from a running event loop (use `acall`).
        """
        kwargs = self.validate(arguments)
        return self.invoke(kwargs)

    async def acall(self, arguments: Mapping[str, Any]) -> Any:
        """Validate `arguments` and run the tool; a sync tool runs in a worker thread."""
        return await self.ainvoke(self.validate(arguments))

    def invoke(self, kwargs: Mapping[str, Any]) -> Any:
        """Run the tool with already validated keyword arguments."""
        if not self.is_async:
            return self.function(**kwargs)
        if loop_is_running():
            raise RuntimeError(
                f"tool {self.name!r} is async and an event loop is running: "
                "use arun_tools() or Tool.acall()"
            )
        return asyncio.run(self.ainvoke(kwargs))

    async def ainvoke(self, kwargs: Mapping[str, Any]) -> Any:
        """Async twin of `invoke`: awaits an async tool, runs a sync one in a thread."""
        if self.is_async:
            return await self.function(**kwargs)
        return await asyncio.to_thread(functools.partial(self.function, **kwargs))


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    requires_confirmation: bool = False,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    requires_confirmation: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a typed function (sync or async) into a `Tool`; usable bare or with arguments.

    @tool
    def get_weather(city: str) -> str: ...

    @tool(requires_confirmation=True)
    def send_email(to: str, body: str) -> str: ...
    """

    def decorate(function: Callable[..., Any]) -> Tool:
        return Tool(
            function,
            name=name,
            description=description,
            requires_confirmation=requires_confirmation,
        )

    return decorate if function is None else decorate(function)


def serialize_result(value: Any) -> tuple[str, str | None]:
    """A tool's return value as tool-message content, and a warning if it was not JSON.

    A `str` is sent as is, anything else as JSON. What JSON cannot hold (bytes that are
    not UTF-8, a dict that contains itself) becomes a best-effort string instead, with
    a warning saying so: the tool ran, so its result is never reported as a failure.
    """
    if isinstance(value, str):
        return value, None
    try:
        return pydantic_core.to_json(value, fallback=str).decode(), None
    except Exception as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        warning = f"the result was not JSON-serialisable ({reason}); sent as text instead"
        return _best_effort_text(value), warning


def _best_effort_text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    try:
        return str(value)  # containers show a self-reference as {...} or [...]
    except Exception:
        return f"<{type(value).__name__} object>"


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """`"city: Field required; days: Input should be a valid integer"` (at most `limit`)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or '<arguments>'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)[:limit]
    )


class _WithoutFieldTitles(GenerateJsonSchema):
    """Leave out pydantic's generated per-field titles: they only repeat the names."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _arguments_model(
    function: Callable[..., Any], name: str, parameter_docs: Mapping[str, str]
) -> tuple[type[BaseModel], dict[str, str]]:
    """A model of the parameters, and its field names -> the parameter names.

    Fields are named `p0`, `p1`, ... and aliased to the parameters, so parameter names
    such as `schema` or `json` cannot clash with BaseModel's own attributes.
    """
    try:
        signature = inspect.signature(function, eval_str=True)
    except Exception as exc:
        raise TypeError(f"cannot resolve the type hints of tool {name!r}: {exc}") from exc
    fields: dict[str, Any] = {}
    parameter_of: dict[str, str] = {}
    for index, parameter in enumerate(signature.parameters.values()):
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise TypeError(
                f"tool {name!r}: parameter {parameter.name!r} must be a named parameter "
                "(no *args, **kwargs or positional-only parameters)"
            )
        info: dict[str, Any] = {"alias": parameter.name}
        if parameter.name in parameter_docs:
            info["description"] = parameter_docs[parameter.name]
        hint = Any if parameter.annotation is parameter.empty else parameter.annotation
        annotation = _annotated(hint, Field(**info))
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[f"p{index}"] = (annotation, default)
        parameter_of[f"p{index}"] = parameter.name
    model: type[BaseModel] = create_model(
        f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    return model, parameter_of


def _annotated(annotation: Any, field: Any) -> Any:
    # `field` goes first so that a Field the user wrote in Annotated wins over it.
    if typing.get_origin(annotation) is Annotated:
        base, *metadata = typing.get_args(annotation)
        params = (base, field, *metadata)
        return Annotated[params]
    return Annotated[annotation, field]


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary (text before the first section) and the `Args:` descriptions."""
    summary: list[str] = []
    parameters: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    entry_indent: int | None = None
    for line in doc.splitlines():
        header = _SECTION.match(line)
        if header and not line[:1].isspace():
            section, current, entry_indent = header.group(1), None, None
        elif section is None:
            summary.append(line)
        elif section in _ARGS_SECTIONS and line.strip():
            indent = len(line) - len(line.lstrip())
            entry = _ARG_LINE.match(line.strip())
            if entry and (entry_indent is None or indent <= entry_indent):
                current, entry_indent = entry.group(1), indent
                parameters[current] = entry.group(2).strip()
            elif current is not None:  # a continuation line, indented deeper
                parameters[current] = f"{parameters[current]} {line.strip()}".strip()
    return "\n".join(summary).strip(), parameters


def loop_is_running() -> bool:
    """True when called from inside a running asyncio event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
