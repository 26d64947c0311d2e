"""get_llm / get_default_llm reuse one instance per provider and effective config."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

import llmport
import llmport._provider_table as registry
from llmport import OpenAICompatible, get_default_llm, get_llm
from llmport.testing import FakeLLM

SECRET = "sk-cache-canary-0123456789"


def test_same_name_and_settings_return_the_same_instance() -> None:
    assert get_llm("fake", temperature=0.1) is get_llm("fake", temperature=0.1)


def test_different_settings_return_different_instances() -> None:
    assert get_llm("fake", temperature=0.1) is not get_llm("fake", temperature=0.2)


def test_default_llm_is_reused(llm_env: Callable[..., None]) -> None:
    llm_env(DEFAULT_LLM="fake")
    assert get_default_llm() is get_default_llm() is get_llm("fake")


def test_environment_values_are_part_of_the_key(llm_env: Callable[..., None]) -> None:
    llm_env(FAKE_LLM_CHAT_MODEL="one")
    first = get_llm("fake")
    llm_env(FAKE_LLM_CHAT_MODEL="two")
    second = get_llm("fake")
    assert (first.model, second.model) == ("one", "two")


def test_api_key_is_part_of_the_key() -> None:
    def build(key: str) -> object:
        return get_llm(
            "openai_compatible", chat_model="m", base_url="http://127.0.0.1:9/v1", api_key=key
        )

    assert build("key-aaaaaaaa") is build("key-aaaaaaaa")
    assert build("key-aaaaaaaa") is not build("key-bbbbbbbb")


def test_cache_keys_never_hold_the_api_key() -> None:
    get_llm("openai_compatible", chat_model="m", base_url="http://127.0.0.1:9/v1", api_key=SECRET)
    headers = {"Authorization": f"Bearer {SECRET}"}
    get_llm("fake", extra_headers=headers)
    assert registry._instances
    assert SECRET not in repr(list(registry._instances))


def test_reset_clears_the_cache() -> None:
    first = get_llm("fake")
    llmport.reset()
    assert get_llm("fake") is not first


def test_non_config_arguments_build_an_uncached_instance() -> None:
    scripted = get_llm("fake", script=["scripted"])
    assert isinstance(scripted, FakeLLM)
    assert scripted is not get_llm("fake", script=["scripted"])
    assert scripted.chat_completions([{"role": "user", "content": "x"}]).content == "scripted"


def test_cached_instance_shares_its_connection_pool() -> None:
    llm = get_llm("openai_compatible", chat_model="m", base_url="http://127.0.0.1:9/v1")
    assert isinstance(llm, OpenAICompatible)
    assert get_llm("openai_compatible", chat_model="m", base_url="http://127.0.0.1:9/v1") is llm


def test_many_threads_get_one_instance_per_key() -> None:
    threads, calls = 32, 200
    seen: list[set[int]] = [set() for _ in range(3)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def hammer(worker: int) -> None:
        try:
            start.wait()
            for call in range(calls):
                key = (worker + call) % 3
                llm = get_llm("fake", temperature=key / 10)
                seen[key].add(id(llm))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=hammer, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert not errors
    assert [len(ids) for ids in seen] == [1, 1, 1]
    assert len({next(iter(ids)) for ids in seen}) == 3


@pytest.mark.parametrize("value", [float("nan"), object()])
def test_odd_setting_values_still_fingerprint(value: object) -> None:
    config = FakeLLM.config_class.load(extra_params={"x": value})
    assert len(registry.config_fingerprint(config)) == 64
