"""The public API is exactly `llmport.__all__`; importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import llmport


def test_all_is_sorted_and_unique() -> None:
    assert list(llmport.__all__) == sorted(set(llmport.__all__))


def test_all_names_exist_and_are_documented() -> None:
    for name in llmport.__all__:
        obj = getattr(llmport, name)
        if name != "__version__":
            assert getattr(obj, "__doc__", None), f"{name} has no docstring"


def test_all_is_pinned() -> None:
    assert set(llmport.__all__) == {
        "AsyncResponseStream",
        "AuthenticationError",
        "BadResponseError",
        "BaseLLM",
        "BaseLLMConfig",
        "CallOptions",
        "Budget",
        "BudgetExceededError",
        "BudgetUnavailableError",
        "ChatRequest",
        "ConfigurationError",
        "ContentFilterError",
        "ContextLengthError",
        "ErrorKind",
        "FallbackLLM",
        "FallbackLLMConfig",
        "FinishEvent",
        "InvalidRequestError",
        "LLMConnectionError",
        "LLMError",
        "LLMHooks",
        "LLMPortError",
        "LLMResponse",
        "LLMResponseStatus",
        "LLMTimeoutError",
        "LiteLLM",
        "LiteLLMConfig",
        "LiteLLMRouter",
        "LiteLLMRouterConfig",
        "NotFoundError",
        "OpenAICompatible",
        "OpenAICompatibleConfig",
        "PendingConfirmation",
        "PermissionDeniedError",
        "Profiles",
        "ProviderError",
        "QuotaExceededError",
        "RateLimitError",
        "ReasoningDelta",
        "ResponseStream",
        "RetryPolicy",
        "ServerError",
        "StreamEvent",
        "TextDelta",
        "Tool",
        "ToolCall",
        "ToolCallDelta",
        "ToolLoopResult",
        "ToolLoopStatus",
        "Usage",
        "UsageEvent",
        "__version__",
        "add_hooks",
        "aresume_tools",
        "arun_tools",
        "available_providers",
        "classify",
        "get_default_llm",
        "get_llm",
        "load_profiles",
        "register_provider",
        "remove_hooks",
        "reset",
        "resume_tools",
        "run_tools",
        "tool",
    }


def test_public_names_are_exported_from_their_home_module() -> None:
    for name in llmport.__all__:
        obj = getattr(llmport, name)
        if not callable(obj):  # type aliases such as StreamEvent, and __version__
            continue
        module = getattr(obj, "__module__", "llmport")
        assert module.startswith("llmport"), name


def test_import_and_default_llm_do_not_import_litellm() -> None:
    code = (
        "import os, sys\n"
        "os.environ['LITELLM_CHAT_MODEL'] = 'openai/gpt-4o-mini'\n"
        "import llmport\n"
        "llmport.get_default_llm()\n"
        "print('litellm' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "False"


def test_error_tree_shape() -> None:
    assert issubclass(llmport.ConfigurationError, ValueError)
    assert issubclass(llmport.ContextLengthError, llmport.InvalidRequestError)
    for name in ("RateLimitError", "ServerError", "LLMTimeoutError", "AuthenticationError"):
        assert issubclass(getattr(llmport, name), llmport.ProviderError)
    assert issubclass(llmport.ProviderError, llmport.LLMPortError)
