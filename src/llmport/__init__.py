"""llmport: one small, typed interface to any LLM.

from llmport import get_default_llm
llm = get_default_llm()              # chosen and configured from env vars
response = llm.chat_completions([{"role": "user", "content": "Hi"}])
if response.status:
    print(response.content)
"""

from importlib.metadata import PackageNotFoundError, version

from llmport.base import BaseLLM, ChatRequest
from llmport.config import BaseLLMConfig, RetryPolicy
from llmport.errors import (
    AuthenticationError,
    BadResponseError,
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
from llmport.providers.litellm import LiteLLM, LiteLLMConfig
from llmport.providers.openai_compatible import OpenAICompatible, OpenAICompatibleConfig
from llmport.registry import available_providers, get_default_llm, get_llm, register_provider
from llmport.response import LLMError, LLMResponse, LLMResponseStatus, ToolCall, Usage

try:
    __version__ = version("llmport")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "AuthenticationError",
    "BadResponseError",
    "BaseLLM",
    "BaseLLMConfig",
    "ChatRequest",
    "ConfigurationError",
    "ContentFilterError",
    "ContextLengthError",
    "ErrorKind",
    "InvalidRequestError",
    "LLMConnectionError",
    "LLMError",
    "LLMPortError",
    "LLMResponse",
    "LLMResponseStatus",
    "LLMTimeoutError",
    "LiteLLM",
    "LiteLLMConfig",
    "NotFoundError",
    "OpenAICompatible",
    "OpenAICompatibleConfig",
    "PermissionDeniedError",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "ToolCall",
    "Usage",
    "__version__",
    "available_providers",
    "classify",
    "get_default_llm",
    "get_llm",
    "register_provider",
]
