"""How a local-gateway answer renders: a chat.completion JSON body or SSE frames."""

from __future__ import annotations

import time
from typing import Any

from llmport.testing._gateway_models import _ENCODER, _WORD, _Call, _Completion, _text_of


def _usage(call: _Call, answer: _Completion) -> dict[str, int] | None:
    """Deterministic token counts: one per message (its role) plus one per word."""
    if answer.usage == "null":
        return None
    messages = [m for m in call.body["messages"] if isinstance(m, dict)]
    prompt = max(1, sum(1 + len(_text_of(m.get("content")).split()) for m in messages))
    if answer.tool_calls:
        completion = 10 * len(answer.tool_calls)
    else:
        completion = max(1, len((answer.content or "").split()))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion_body(call: _Call, answer: _Completion) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    payload: dict[str, Any] = {
        "id": f"chatcmpl-{call.number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model,
        "choices": [{"index": 0, "message": message, "finish_reason": answer.finish_reason}],
    }
    if answer.usage != "absent":
        payload["usage"] = _usage(call, answer)
    return _ENCODER.encode(payload).encode()


def _sse(payload: Any) -> bytes:
    return b"data: " + _ENCODER.encode(payload).encode() + b"\n\n"


def _stream_frames(call: _Call, answer: _Completion) -> list[bytes]:
    """The SSE frames of a streamed answer (`data: [DONE]` last, unless the stream breaks)."""
    head = {
        "id": f"chatcmpl-{call.number}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": call.model,
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return _sse({**head, "choices": [choice]})

    frames = [chunk({"role": "assistant", "content": ""})]
    words = _WORD.findall(answer.content or "")
    if answer.stream_fault:
        frames += [chunk({"content": word}) for word in words[:3]]
        if answer.stream_fault == "error":
            frames.append(_sse({"error": {"message": "overloaded", "type": "server_error"}}))
        return frames
    frames += [chunk({"content": word}) for word in words]
    for index, tool_call in enumerate(answer.tool_calls):
        name, arguments = tool_call["function"]["name"], tool_call["function"]["arguments"]
        opening = {"index": index, "id": tool_call["id"], "type": "function"}
        frames.append(
            chunk({"tool_calls": [{**opening, "function": {"name": name, "arguments": ""}}]})
        )
        frames += [
            chunk(
                {"tool_calls": [{"index": index, "function": {"arguments": arguments[i : i + 8]}}]}
            )
            for i in range(0, len(arguments), 8)
        ]
    frames.append(chunk({}, answer.finish_reason))
    options = call.body.get("stream_options")
    wants_usage = isinstance(options, dict) and options.get("include_usage") is True
    if wants_usage and answer.usage != "absent":
        frames.append(_sse({**head, "choices": [], "usage": _usage(call, answer)}))
    frames.append(b"data: [DONE]\n\n")
    return frames
