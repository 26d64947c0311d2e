"""llmport: one small, typed interface to any LLM.

from llmport import get_default_llm
llm = get_default_llm()              # chosen and configured from env vars
response = llm.chat_completions([{"role": "user", "content": "Hi"}])
answer = response.error.message if response.error else response.content
"""

import logging
from importlib.metadata import PackageNotFoundError, version

from llmport.base import BaseLLM, ChatRequest
from llmport.budget import Budget
from llmport.config import BaseLLMConfig, RetryPolicy
from llmport.errors import (
    AuthenticationError,
    BadResponseError,
    BudgetExceededError,
    BudgetUnavailableError,
    ConfigurationError,
    ContentFilterError,
    ContextLengthError,
    ErrorKind,
    InvalidRequestError,
    LLMConnectionError,
    LLMPortError,
    LLMTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    classify,
)
from llmport.fallback import FallbackLLM, FallbackLLMConfig
from llmport.hooks import LLMHooks, add_hooks, remove_hooks
from llmport.options import CallOptions
from llmport.profiles import Profiles, load_profiles
from llmport.providers.litellm import LiteLLM, LiteLLMConfig
from llmport.providers.litellm_router import LiteLLMRouter, LiteLLMRouterConfig
from llmport.providers.openai_compatible import OpenAICompatible, OpenAICompatibleConfig
from llmport.registry import (
    available_providers,
    get_default_llm,
    get_llm,
    register_provider,
    reset,
)
from llmport.response import LLMError, LLMResponse, LLMResponseStatus, ToolCall, Usage
from llmport.response_stream import AsyncResponseStream, ResponseStream
from llmport.streaming import (
    FinishEvent,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)
from llmport.tools import (
    PendingConfirmation,
    Tool,
    ToolLoopResult,
    ToolLoopStatus,
    aresume_tools,
    arun_tools,
    resume_tools,
    run_tools,
    tool,
)

# A library logs, the app decides where records go: without this, Python's last-resort
# handler would print llmport's warnings to stderr in apps that configured no logging.
logging.getLogger("llmport").addHandler(logging.NullHandler())

try:
    __version__ = version("llmport")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "AsyncResponseStream",
    "AuthenticationError",
    "BadResponseError",
    "BaseLLM",
    "BaseLLMConfig",
    "Budget",
    "BudgetExceededError",
    "BudgetUnavailableError",
    "CallOptions",
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
]
