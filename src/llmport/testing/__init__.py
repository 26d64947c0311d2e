"""Test kit shipped with llmport: fakes, a local OpenAI-compatible gateway, a pytest plugin.

`FakeLLM` and `FunctionLLM` replace a real provider in unit tests; `LocalGateway`
is a real HTTP server on 127.0.0.1 for integration tests. The pytest plugin
(registered automatically) adds the fixtures `fake_llm`, `llm_env` and
`local_gateway`, and an opt-in guard against non-loopback connections.
"""

from llmport.testing.fake import FakeLLM, FakeLLMConfig, FakeToolCall, FunctionLLM, ScriptItem
from llmport.testing.gateway import LocalGateway, RecordedRequest
from llmport.testing.network import NetworkBlockedError, block_non_loopback

__all__ = [
    "FakeLLM",
    "FakeLLMConfig",
    "FakeToolCall",
    "FunctionLLM",
    "LocalGateway",
    "NetworkBlockedError",
    "RecordedRequest",
    "ScriptItem",
    "block_non_loopback",
]
