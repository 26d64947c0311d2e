"""Call options: one typed set for every entry point, unknown keywords refused before I/O."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from llmport import BaseLLM, CallOptions, FallbackLLM, RetryPolicy, arun_tools, run_tools
from llmport.options import OPTION_NAMES
from llmport.providers.openai_compatible import OpenAICompatible
from llmport.testing import FakeLLM, LocalGateway

USER = [{"role": "user", "content": "hi"}]
#: The named parameters of `chat_completions`, besides the options.
PARAMETERS = {"messages", "tools", "stop", "response_format"}

#: A value of the right type for every option, as an app would pass it.
SAMPLE: CallOptions = {
    "model": "other-model",
    "timeout": 12.0,
    "total_timeout": 30.0,
    "temperature": 0.3,
    "top_p": 0.8,
    "max_tokens": 64,
    "seed": 7,
    "metadata": {"tenant": "t-1"},
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "n": 1,
    "user": "u-1",
    "logprobs": True,
    "top_logprobs": 2,
    "presence_penalty": 0.1,
    "frequency_penalty": 0.2,
    "logit_bias": {"50256": -100.0},
    "reasoning_effort": "low",
    "service_tier": "flex",
    "extra_headers": {"x-trace": "abc"},
    "extra_body": {"guided_json": {"type": "object"}},
    "extra_params": {"top_k": 40},
}


def call_through(entry: str, llm: BaseLLM, **options: Any) -> None:
    """Make one call through the named entry point, reading a stream to its end."""
    if entry == "chat_completions":
        llm.chat_completions(USER, **options)
    elif entry == "achat_completions":
        asyncio.run(llm.achat_completions(USER, **options))
    elif entry == "stream":
        for _ in llm.stream(USER, **options):
            pass
    elif entry == "astream":

        async def read() -> None:
            async for _ in llm.astream(USER, **options):
                pass

        asyncio.run(read())
    elif entry == "fallback":
        FallbackLLM([llm]).chat_completions(USER, **options)
    elif entry == "run_tools":
        run_tools(llm, USER, [], **options)
    else:
        asyncio.run(arun_tools(llm, USER, [], **options))


ENTRIES = [
    "chat_completions",
    "achat_completions",
    "stream",
    "astream",
    "fallback",
    "run_tools",
    "arun_tools",
]


def test_the_options_cover_the_chat_parameters_apps_use() -> None:
    assert set(SAMPLE) == OPTION_NAMES


@pytest.mark.parametrize("entry", ENTRIES)
def test_a_misspelt_option_raises_type_error_with_the_close_match(entry: str) -> None:
    llm = FakeLLM()
    with pytest.raises(TypeError, match="did you mean 'temperature'\\?"):
        call_through(entry, llm, temprature=0.2)
    assert llm.call_count == 0


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_option_is_accepted_by_every_entry_point(entry: str) -> None:
    llm = FakeLLM(["done"])
    call_through(entry, llm, **SAMPLE)
    assert llm.call_count == 1
    assert llm.last_request.params["top_k"] == 40


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20))
def test_no_unknown_name_reaches_the_backend(name: str) -> None:
    assume(name not in OPTION_NAMES | PARAMETERS)
    llm = FakeLLM()
    with pytest.raises(TypeError, match=f"unexpected keyword argument '{name}'"):
        llm.chat_completions(USER, **{name: 1})  # type: ignore[arg-type]
    assert llm.call_count == 0


@given(st.sampled_from(sorted(OPTION_NAMES)), st.data())
def test_a_transposed_option_name_gets_a_hint_naming_an_option(
    name: str, data: st.DataObject
) -> None:
    assume(len(name) >= 3)
    at = data.draw(st.integers(0, len(name) - 2))
    typo = name[:at] + name[at + 1] + name[at] + name[at + 2 :]
    assume(typo not in OPTION_NAMES)
    with pytest.raises(TypeError) as info:
        FakeLLM().chat_completions(USER, **{typo: None})  # type: ignore[arg-type]
    hint = re.search(r"did you mean '(\w+)'\?", str(info.value))
    assert hint is not None
    assert hint.group(1) in OPTION_NAMES


def test_an_unknown_name_with_no_close_match_points_at_extra_params() -> None:
    with pytest.raises(TypeError, match=re.escape("extra_params={'guided_regex': ...}")):
        FakeLLM().chat_completions(USER, guided_regex="a+")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("n", "2"),
        ("n", True),
        ("logprobs", 1),
        ("user", 42),
        ("extra_params", ["top_k"]),
        ("extra_headers", {"x-n": 1}),
        ("tool_choice", 3),
    ],
)
def test_an_option_of_the_wrong_type_raises_before_io(option: str, value: Any) -> None:
    llm = FakeLLM()
    with pytest.raises(TypeError, match=option):
        llm.chat_completions(USER, **{option: value})
    assert llm.call_count == 0


#: What llmport writes into every request itself; no escape hatch may replace it.
REQUEST_FIELDS = ["messages", "tools", "stop", "response_format", "stream", "stream_options"]


@given(st.sampled_from(sorted(OPTION_NAMES | set(REQUEST_FIELDS))), st.sampled_from(ENTRIES))
def test_extra_params_cannot_replace_an_option_or_a_request_field(name: str, entry: str) -> None:
    llm = FakeLLM()
    with pytest.raises(TypeError, match=re.escape(f"extra_params[{name!r}]")):
        call_through(entry, llm, extra_params={name: 5})
    assert llm.call_count == 0


@pytest.mark.parametrize("name", ["messages", "model", "stream", "tools", "temperature"])
def test_extra_body_cannot_replace_what_llmport_sends(name: str) -> None:
    llm = FakeLLM()
    with pytest.raises(TypeError, match=re.escape(f"extra_body[{name!r}]")):
        llm.chat_completions(USER, extra_body={name: []})
    assert llm.call_count == 0


def test_a_collision_reaches_no_server(gateway: LocalGateway) -> None:
    gateway.clear()
    with OpenAICompatible(base_url=gateway.base_url, chat_model="fixed") as llm:
        with pytest.raises(TypeError, match=re.escape("pass temperature=...")):
            llm.chat_completions(USER, extra_params={"temperature": 5})
        with pytest.raises(TypeError, match="messages"):
            llm.stream(USER, extra_body={"messages": []})
    assert gateway.requests == []


WRONG_TYPES: list[tuple[str, Any]] = [
    ("temperature", "hot"),
    ("top_p", [0.5]),
    ("max_tokens", 1.5),
    ("seed", "7"),
    ("timeout", "5"),
    ("total_timeout", True),
    ("metadata", ["tenant"]),
    ("model", 3),
]


@pytest.mark.parametrize(("option", "value"), WRONG_TYPES)
@pytest.mark.parametrize("entry", ENTRIES)
def test_every_option_of_the_wrong_type_is_a_type_error_before_io(
    entry: str, option: str, value: Any
) -> None:
    llm = FakeLLM()
    with pytest.raises(TypeError, match=f"{option} must be") as info:
        call_through(entry, llm, **{option: value})
    assert isinstance(info.value, ValueError)  # also caught as a malformed argument
    assert llm.call_count == 0


@pytest.mark.parametrize("entry", ENTRIES)
def test_stream_as_a_keyword_is_a_type_error_that_points_at_stream(entry: str) -> None:
    llm = FakeLLM()
    with pytest.raises(TypeError, match=re.escape("call llm.stream() or llm.astream()")):
        call_through(entry, llm, stream=True)
    assert llm.call_count == 0


def test_options_become_request_fields_and_params() -> None:
    llm = FakeLLM(extra_params={"top_k": 10, "safe_mode": True})
    llm.chat_completions(USER, **SAMPLE)
    request = llm.last_request
    assert (request.model, request.timeout, request.tool_choice) == ("other-model", 12.0, "auto")
    assert request.total_timeout == 30.0
    assert request.metadata == {"tenant": "t-1"}
    assert request.headers == {"x-trace": "abc"}
    sent_as_they_are = OPTION_NAMES - {"model", "timeout", "total_timeout", "metadata"}
    sent_as_they_are -= {"tool_choice"}
    sent_as_they_are -= {"extra_headers", "extra_params"}
    expected = {name: value for name, value in SAMPLE.items() if name in sent_as_they_are}
    # the call's extra_params are merged over the config's
    assert request.params == {**expected, "safe_mode": True, "top_k": 40}


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway(api_key=None) as gw:
        yield gw


def test_extra_headers_and_extra_body_reach_an_openai_compatible_server(
    gateway: LocalGateway,
) -> None:
    with OpenAICompatible(
        base_url=gateway.base_url, chat_model="fixed", retry=RetryPolicy.never()
    ) as llm:
        llm.chat_completions(
            USER, extra_headers={"X-Trace": "abc"}, extra_body={"guided_choice": ["a", "b"]}
        )
    received = gateway.requests[-1]
    assert received.headers["x-trace"] == "abc"
    assert received.body["guided_choice"] == ["a", "b"]
    assert "extra_body" not in received.body


def test_async_extra_headers_reach_an_openai_compatible_server(gateway: LocalGateway) -> None:
    async def call() -> None:
        async with OpenAICompatible(base_url=gateway.base_url, chat_model="fixed") as llm:
            await llm.achat_completions(USER, extra_headers={"X-Trace": "async"})

    asyncio.run(call())
    assert gateway.requests[-1].headers["x-trace"] == "async"
