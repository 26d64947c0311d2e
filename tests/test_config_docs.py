"""docs/configuration.md names every environment variable the config classes read."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmport import BaseLLMConfig, FallbackLLMConfig, LiteLLMConfig, OpenAICompatibleConfig
from llmport.providers.litellm_router import LiteLLMRouterConfig
from llmport.testing import FakeLLMConfig

PAGE = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
SHARED = set(BaseLLMConfig.model_fields)


@pytest.mark.parametrize(
    "config", [LiteLLMConfig, OpenAICompatibleConfig, LiteLLMRouterConfig, FakeLLMConfig]
)
def test_provider_specific_variables_are_documented(config: type[BaseLLMConfig]) -> None:
    own = set(config.model_fields) - SHARED
    if config is not LiteLLMConfig:
        own -= set(LiteLLMConfig.model_fields)
    own |= {"chat_model"}
    for field in sorted(own):
        assert config.env_name(field) in PAGE, config.env_name(field)


def test_every_shared_field_is_documented_for_litellm() -> None:
    for field in SHARED - {"retry"}:
        assert LiteLLMConfig.env_name(field) in PAGE
    assert "LITELLM_RETRY__" in PAGE
    assert FallbackLLMConfig.model_config.get("env_prefix") == "LLMPORT_FALLBACK_"
    assert "LLMPORT_FALLBACK_" in PAGE
