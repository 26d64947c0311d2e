"""The environment variables litellm reads a backend's key from, so llmport can redact them.

litellm picks the backend from the model's prefix (`anthropic/claude-...`) and, when no
key is passed, reads that backend's own variable. The variable is derived from the
prefix (`groq/` -> `GROQ_API_KEY`); the table adds the names that do not follow that
pattern or that a backend also accepts. A bare model name (`gpt-4o`) is matched on its
start, as litellm does for the common families.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["backend_key_values", "backend_key_variables"]

_AWS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
)
_OTHER_NAMES: dict[str, tuple[str, ...]] = {
    "text-completion-openai": ("OPENAI_API_KEY",),
    "azure": ("AZURE_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_AD_TOKEN"),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "cohere": ("CO_API_KEY",),
    "cohere_chat": ("COHERE_API_KEY", "CO_API_KEY"),
    "together_ai": ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY", "TOGETHER_AI_TOKEN"),
    "openrouter": ("OR_API_KEY",),
    "fireworks_ai": ("FIREWORKS_API_KEY", "FIREWORKSAI_API_KEY", "FIREWORKS_AI_TOKEN"),
    "perplexity": ("PERPLEXITYAI_API_KEY",),
    "huggingface": ("HF_TOKEN",),
    "replicate": ("REPLICATE_API_TOKEN",),
    "bedrock": _AWS,
    "sagemaker": _AWS,
    "watsonx": ("WATSONX_APIKEY", "WATSONX_ZENAPIKEY", "WX_API_KEY", "WATSONX_TOKEN"),
    "ollama_chat": ("OLLAMA_API_KEY",),
    "voyage": ("VOYAGE_AI_API_KEY",),
    "databricks": ("DATABRICKS_TOKEN",),
}
_BARE_NAME_BACKENDS = (
    (("gpt-", "chatgpt", "o1", "o3", "o4", "text-", "davinci", "babbage"), "openai"),
    (("claude",), "anthropic"),
    (("gemini",), "gemini"),
    (("mistral", "codestral", "open-mistral"), "mistral"),
    (("command",), "cohere"),
)
_MIN_SECRET = 6  # shorter values are not credentials, and masking them mangles text


def backend_key_variables(model: str) -> tuple[str, ...]:
    """The variables litellm may read the key for `model` from, most likely first."""
    backend, slash, _ = model.partition("/")
    if not slash:
        lowered = model.lower()
        backend = next((b for starts, b in _BARE_NAME_BACKENDS if lowered.startswith(starts)), "")
    if not backend:
        return ()
    derived = f"{backend.upper().replace('-', '_')}_API_KEY"
    return tuple(dict.fromkeys((derived, *_OTHER_NAMES.get(backend.lower(), ()))))


def backend_key_values(model: str, environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The values of `model`'s key variables that are set (long enough to be keys)."""
    values = (environ.get(name, "") for name in backend_key_variables(model))
    return tuple(value for value in values if len(value) >= _MIN_SECRET)
