"""Custom auth for a LiteLLM proxy without a database: the master key, else HTTP 401.

Referenced from config.yaml as `custom_auth: key_auth.user_api_key_auth`; the proxy
loads this file from the config's directory. Without it (and without a database) the
proxy answers a wrong key with 400 "No connected db." and a missing key with a
plain-text 500, which clients cannot tell apart from a bad request or an outage.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from litellm.proxy._types import ProxyErrorTypes, ProxyException, UserAPIKeyAuth


async def user_api_key_auth(request: Any, api_key: str) -> Any:
    """Accept exactly the master key (`LLMPORT_PROXY_KEY`); anything else is a 401."""
    expected = os.environ.get("LLMPORT_PROXY_KEY", "")
    if expected and api_key and hmac.compare_digest(api_key.encode(), expected.encode()):
        return UserAPIKeyAuth(api_key=api_key)
    raise ProxyException(
        message="Authentication Error: invalid or missing proxy key",
        type=ProxyErrorTypes.auth_error,
        param="Authorization",
        code=401,
    )
