"""Tools: typed tool definitions and a bounded tool-call loop with confirmation and audit.

@tool                      a typed function -> `Tool` (schema, validation)
run_tools / arun_tools     call the model, run its tool calls, repeat until it answers
resume_tools / aresume_tools   approve or reject a `PendingConfirmation`, carry on
ConfirmationGuard          signs, expires and single-uses pending states (claim stores)
JSONLAuditWriter           an audit hook writing one redacted JSON line per step
"""

from llmport.tools.audit import AuditEvent, AuditEventKind, AuditHook, JSONLAuditWriter
from llmport.tools.claims import ClaimStore, InMemoryClaimStore, RedisClaimStore
from llmport.tools.confirmation import (
    DEFAULT_CONFIRMATION_TTL,
    SIGNING_KEY_ENV,
    ConfirmationError,
    ConfirmationExpiredError,
    ConfirmationGuard,
    ConfirmationMismatchError,
    ConfirmationReplayError,
    ConfirmationSignatureError,
)
from llmport.tools.definition import Tool, tool
from llmport.tools.loop import REJECTED, aresume_tools, arun_tools, resume_tools, run_tools
from llmport.tools.result import PendingConfirmation, ToolLoopResult, ToolLoopStatus

__all__ = [
    "DEFAULT_CONFIRMATION_TTL",
    "REJECTED",
    "SIGNING_KEY_ENV",
    "AuditEvent",
    "AuditEventKind",
    "AuditHook",
    "ClaimStore",
    "ConfirmationError",
    "ConfirmationExpiredError",
    "ConfirmationGuard",
    "ConfirmationMismatchError",
    "ConfirmationReplayError",
    "ConfirmationSignatureError",
    "InMemoryClaimStore",
    "JSONLAuditWriter",
    "PendingConfirmation",
    "RedisClaimStore",
    "Tool",
    "ToolLoopResult",
    "ToolLoopStatus",
    "aresume_tools",
    "arun_tools",
    "resume_tools",
    "run_tools",
    "tool",
]
