"""Arguments that cannot be sent raise a ValueError naming them, before any request."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llmport import BaseLLM, ConfigurationError, LiteLLM, OpenAICompatible
from llmport.testing import LocalGateway

USER = [{"role": "user", "content": "hi"}]
TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "f",
        "parameters": {"type": "object", "properties": {"n": {"type": "number"}}},
    },
}


class Opaque:
    """An object JSON knows nothing about."""


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalGateway]:
    with LocalGateway() as running:
        yield running


@pytest.fixture(params=["litellm", "openai_compatible"])
def llm(request: pytest.FixtureRequest, gateway: LocalGateway) -> BaseLLM:
    if request.param == "litellm":
        return LiteLLM(chat_model="openai/fixed", api_base=gateway.base_url, api_key="sk-x")
    return OpenAICompatible(chat_model="fixed", base_url=gateway.base_url)


def _drain_stream(llm: BaseLLM, **kwargs: Any) -> None:
    with llm.stream(**kwargs) as stream:
        for _ in stream:
            pass


async def _drain_astream(llm: BaseLLM, **kwargs: Any) -> None:
    async with llm.astream(**kwargs) as stream:
        async for _ in stream:
            pass


PATHS: dict[str, Callable[..., Any]] = {
    "chat_completions": lambda llm, **kw: llm.chat_completions(**kw),
    "achat_completions": lambda llm, **kw: asyncio.run(llm.achat_completions(**kw)),
    "stream": _drain_stream,
    "astream": lambda llm, **kw: asyncio.run(_drain_astream(llm, **kw)),
}

BAD_ARGUMENTS: dict[str, tuple[dict[str, Any], str]] = {
    "nan-in-a-message": (
        {"messages": [*USER, {"role": "user", "content": "x", "weight": math.nan}]},
        r"messages\[1\] cannot be sent as JSON: NaN and Infinity",
    ),
    "infinity-in-a-tool": (
        {"messages": USER, "tools": [{**TOOL, "function": {**TOOL["function"], "x": math.inf}}]},
        r"tools\[0\] cannot be sent as JSON: NaN and Infinity",
    ),
    "set-as-extra-parameter": (
        {"messages": USER, "extra_params": {"top_k": {1, 2}}},
        r"params\['top_k'\] cannot be sent as JSON: Object of type set",
    ),
    "object-as-extra-parameter": (
        {"messages": USER, "extra_params": {"top_k": Opaque()}},
        r"params\['top_k'\] cannot be sent as JSON: Object of type Opaque",
    ),
    "object-in-a-message": (
        {"messages": [{"role": "user", "content": [{"type": "text", "text": Opaque()}]}]},
        r"messages\[0\] cannot be sent as JSON",
    ),
    "infinite-timeout": ({"messages": USER, "timeout": math.inf}, "timeout must be"),
    "huge-timeout": ({"messages": USER, "timeout": 1e300}, "timeout must be"),
    "nan-timeout": ({"messages": USER, "timeout": math.nan}, "timeout must be"),
    "per-call-stream": ({"messages": USER, "stream": True}, "stream is not a call option"),
    "space-in-a-header-name": (
        {"messages": USER, "extra_headers": {"bad name": "x"}},
        r"extra_headers\['bad name'\] is not a valid HTTP header name",
    ),
    "empty-header-name": (
        {"messages": USER, "extra_headers": {"": "x"}},
        r"extra_headers\[''\] is not a valid HTTP header name",
    ),
    "line-break-in-a-header-name": (
        {"messages": USER, "extra_headers": {"x-a\r\nInjected": "1"}},
        r"is not a valid HTTP header name",
    ),
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", BAD_ARGUMENTS)
def test_unsendable_arguments_raise_value_error_before_any_request(
    llm: BaseLLM, gateway: LocalGateway, path: str, case: str
) -> None:
    arguments, message = BAD_ARGUMENTS[case]
    before = len(gateway.requests)
    with pytest.raises(ValueError, match=message):
        PATHS[path](llm, **arguments)
    assert len(gateway.requests) == before


@pytest.mark.parametrize("timeout", [math.inf, 1e300, math.nan])
@pytest.mark.parametrize("provider", [LiteLLM, OpenAICompatible])
def test_an_unusable_timeout_in_a_config_is_a_configuration_error(
    provider: type[BaseLLM], timeout: float
) -> None:
    settings: dict[str, Any] = {"chat_model": "m", "timeout": timeout}
    if provider is OpenAICompatible:
        settings["base_url"] = "http://127.0.0.1:1/v1"
    with pytest.raises(ConfigurationError, match=r"invalid \w+Config: timeout \(\w+_TIMEOUT\)"):
        provider(**settings)


@pytest.mark.parametrize("provider", [LiteLLM, OpenAICompatible])
def test_a_configured_header_name_http_cannot_carry_is_a_configuration_error(
    provider: type[BaseLLM],
) -> None:
    settings: dict[str, Any] = {"chat_model": "m", "extra_headers": {"bad name": "x"}}
    if provider is OpenAICompatible:
        settings["base_url"] = "http://127.0.0.1:1/v1"
    with pytest.raises(ConfigurationError, match="is not a valid HTTP header name"):
        provider(**settings)
