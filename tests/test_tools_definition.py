"""`@tool`: a typed function becomes a tool with a JSON schema and validated arguments."""

from __future__ import annotations

import asyncio
import datetime
import functools
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field, ValidationError

from llmport.tools import Tool, tool
from llmport.tools.definition import serialize_result


@tool
def get_weather(city: str, days: int = 1, units: Literal["c", "f"] = "c") -> str:
    """Current weather for a city.

    Args:
        city: The city name, e.g. Paris.
        days (int): How many days to forecast,
            counting today.
        units: Celsius or Fahrenheit.

    Returns:
        A short forecast.
    """
    return f"{city}: sunny for {days} day(s), 21 {units}"


def test_decorated_function_still_works_as_a_function() -> None:
    assert get_weather("Paris") == "Paris: sunny for 1 day(s), 21 c"
    assert (get_weather.__doc__ or "").startswith("Current weather for a city.")


def test_definition_is_an_openai_function_tool() -> None:
    definition = get_weather.definition()
    assert definition["type"] == "function"
    assert definition["function"]["name"] == "get_weather"
    assert definition["function"]["description"] == "Current weather for a city."


def test_schema_comes_from_the_signature() -> None:
    schema = get_weather.parameters
    assert schema["type"] == "object"
    assert schema["required"] == ["city"]
    assert schema["properties"]["city"]["type"] == "string"
    assert schema["properties"]["days"] == {
        "type": "integer",
        "default": 1,
        "description": "How many days to forecast, counting today.",
    }
    assert schema["properties"]["units"]["enum"] == ["c", "f"]
    assert schema["additionalProperties"] is False


def test_parameter_descriptions_come_from_the_args_section() -> None:
    properties = get_weather.parameters["properties"]
    assert properties["city"]["description"] == "The city name, e.g. Paris."
    assert properties["units"]["description"] == "Celsius or Fahrenheit."


def test_schema_has_no_generated_titles() -> None:
    assert "title" not in get_weather.parameters
    assert all("title" not in spec for spec in get_weather.parameters["properties"].values())


def test_name_and_description_can_be_overridden() -> None:
    @tool(name="weather_lookup", description="Look the weather up.")
    def lookup(city: str) -> str:
        """Ignored docstring."""
        return city

    assert lookup.name == "weather_lookup"
    assert lookup.definition()["function"]["description"] == "Look the weather up."


def test_requires_confirmation_defaults_to_false() -> None:
    @tool(requires_confirmation=True)
    def send_email(to: str) -> str:
        return to

    assert get_weather.requires_confirmation is False
    assert send_email.requires_confirmation is True
    assert repr(send_email) == "Tool(name='send_email', requires_confirmation=True)"


def test_annotated_field_description_wins_over_the_docstring() -> None:
    @tool
    def search(query: Annotated[str, Field(description="Words to find", min_length=2)]) -> str:
        """Search.

        Args:
            query: The docstring's description.
        """
        return query

    assert search.parameters["properties"]["query"] == {
        "type": "string",
        "description": "Words to find",
        "minLength": 2,
    }


def test_function_without_docstring_or_parameters_has_an_empty_object_schema() -> None:
    @tool
    def ping() -> str:
        return "pong"

    assert ping.definition()["function"] == {
        "name": "ping",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    }


class Address(BaseModel):
    street: str
    zip_code: str


def test_pydantic_model_parameters_are_validated_into_instances() -> None:
    @tool
    def ship(address: Address, when: datetime.date) -> str:
        return f"{address.street} on {when.isoformat()}"

    kwargs = ship.validate(
        {"address": {"street": "1 Rue", "zip_code": "75001"}, "when": "2025-01-02"}
    )
    assert kwargs == {
        "address": Address(street="1 Rue", zip_code="75001"),
        "when": datetime.date(2025, 1, 2),
    }
    assert ship.parameters["properties"]["address"] == {"$ref": "#/$defs/Address"}


def test_validate_coerces_and_fills_defaults() -> None:
    assert get_weather.validate({"city": "Oslo", "days": "3"}) == {
        "city": "Oslo",
        "days": 3,
        "units": "c",
    }


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"city": "Oslo", "days": "many"},
        {"city": "Oslo", "units": "k"},
        {"city": "Oslo", "x": 1},
    ],
    ids=["missing", "wrong-type", "not-in-enum", "unknown-argument"],
)
def test_validate_rejects_bad_arguments(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        get_weather.validate(arguments)


def test_call_validates_then_runs() -> None:
    assert get_weather.call({"city": "Rome", "days": "2"}) == "Rome: sunny for 2 day(s), 21 c"


@tool
async def slow_add(a: int, b: int) -> int:
    """Add two numbers, slowly."""
    await asyncio.sleep(0)
    return a + b


def test_async_function_becomes_an_async_tool() -> None:
    assert slow_add.is_async
    assert not get_weather.is_async
    assert slow_add.call({"a": 1, "b": "2"}) == 3


async def test_acall_awaits_async_tools_and_threads_sync_ones() -> None:
    assert await slow_add.acall({"a": 2, "b": 3}) == 5
    assert await get_weather.acall({"city": "Lima"}) == "Lima: sunny for 1 day(s), 21 c"


async def test_sync_call_of_an_async_tool_inside_a_running_loop_raises() -> None:
    with pytest.raises(RuntimeError, match="acall"):
        slow_add.call({"a": 1, "b": 2})


def test_async_callable_objects_are_async_tools() -> None:
    class Doubler:
        async def __call__(self, n: int) -> int:
            return 2 * n

    doubler = Tool(Doubler(), name="double")
    assert doubler.is_async
    assert doubler.call({"n": 4}) == 8


def test_plain_tool_constructor_equals_the_decorator() -> None:
    def area(width: float, height: float) -> float:
        return width * height

    assert Tool(area).parameters == tool(area).parameters


def test_var_args_are_refused_at_definition_time() -> None:
    def anything(*args: int) -> None:
        return None

    with pytest.raises(TypeError, match="named parameter"):
        tool(anything)


def test_parameter_names_may_shadow_pydantic_attributes() -> None:
    @tool
    def query(schema: str, json: bool = False) -> str:
        return schema

    assert list(query.parameters["properties"]) == ["schema", "json"]
    assert query.validate({"schema": "public"}) == {"schema": "public", "json": False}


def test_callables_without_a_name_need_one() -> None:
    unnamed = functools.partial(get_weather.function, days=2)
    with pytest.raises(ValueError, match="pass name="):
        Tool(unnamed)
    assert Tool(unnamed, name="two_day_weather").parameters["required"] == ["city"]


def test_invalid_tool_names_are_refused_at_definition_time() -> None:
    with pytest.raises(ValueError, match="1-64 letters"):
        tool(name="get weather")(get_weather.function)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain text", "plain text"),
        ({"temp": 21.5, "sky": "clear"}, '{"temp":21.5,"sky":"clear"}'),
        (Address(street="1 Rue", zip_code="75001"), '{"street":"1 Rue","zip_code":"75001"}'),
        (None, "null"),
        (datetime.date(2025, 1, 2), '"2025-01-02"'),
        ([1, "é"], '[1,"é"]'),
    ],
)
def test_results_are_serialised_as_json_except_strings(value: object, expected: str) -> None:
    assert serialize_result(value) == (expected, None)


def test_bytes_that_are_not_utf8_become_best_effort_text_with_a_warning() -> None:
    content, warning = serialize_result(b"ok \xff\xfe")
    assert content == "ok \ufffd\ufffd"
    assert warning is not None
    assert warning.startswith("the result was not JSON-serialisable")


def test_a_circular_dict_becomes_best_effort_text_with_a_warning() -> None:
    value: dict[str, object] = {"name": "loop"}
    value["self"] = value
    content, warning = serialize_result(value)
    assert content == "{'name': 'loop', 'self': {...}}"
    assert warning is not None
    assert "not JSON-serialisable" in warning
