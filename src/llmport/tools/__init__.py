"""Tools: typed tool definitions and a bounded tool-call loop with confirmation and audit.

@tool                      a typed function -> `Tool` (schema, validation)
run_tools / arun_tools     call the model, run its tool calls, repeat until it answers
resume_tools / aresume_tools   approve or reject a `PendingConfirmation`, carry on
JSONLAuditWriter           an audit hook writing one redacted JSON line per step
"""

from llmport.tools.audit import AuditEvent, AuditEventKind, AuditHook, JSONLAuditWriter
from llmport.tools.definition import Tool, tool
from llmport.tools.loop import REJECTED, aresume_tools, arun_tools, resume_tools, run_tools
from llmport.tools.result import PendingConfirmation, ToolLoopResult, ToolLoopStatus

__all__ = [
    "REJECTED",
    "AuditEvent",
    "AuditEventKind",
    "AuditHook",
    "JSONLAuditWriter",
    "PendingConfirmation",
    "Tool",
    "ToolLoopResult",
    "ToolLoopStatus",
    "aresume_tools",
    "arun_tools",
    "resume_tools",
    "run_tools",
    "tool",
]
