"""Command line: `llmport demo | gateway`.

`demo` starts the local gateway on 127.0.0.1 and drives the real LiteLLM
provider through it: no API key and no internet needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from llmport.response import LLMResponse

__all__ = ["main"]

DEMO_KEY = "sk-llmport-demo-key"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    result: int = args.handler(args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmport", description="One small, typed interface to any LLM."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="run the end-to-end demo against the embedded local gateway (no keys needed)"
    )
    demo.add_argument("--json", action="store_true", help="print machine-readable JSON lines")
    demo.set_defaults(handler=_demo)
    gateway = commands.add_parser("gateway", help="serve the local OpenAI-compatible gateway")
    gateway.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765)")
    gateway.add_argument("--api-key", default=None, help="require this bearer key")
    gateway.set_defaults(handler=_gateway)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from llmport.config import RetryPolicy
    from llmport.registry import get_llm
    from llmport.testing.gateway import LocalGateway

    out = sys.stdout
    with LocalGateway(api_key=DEMO_KEY) as gateway:
        if not args.json:
            out.write(f"llmport demo: local gateway at {gateway.base_url}\n\n")

        def llm(model: str) -> Any:
            return get_llm(
                "litellm",
                chat_model=f"openai/{model}",
                api_base=gateway.base_url,
                api_key=DEMO_KEY,
                retry=RetryPolicy(initial_backoff=0.05, jitter=False),
            )

        steps = [
            (
                "plain completion",
                llm("echo").chat_completions(
                    [{"role": "user", "content": "Say hello to llmport."}]
                ),
            ),
            (
                "tool call",
                llm("tool-call").chat_completions(
                    [{"role": "user", "content": "What is the weather in Paris?"}],
                    tools=[WEATHER_TOOL],
                ),
            ),
            (
                "retried error (503 twice, then success)",
                llm("flaky-2-503").chat_completions([{"role": "user", "content": "Hello?"}]),
            ),
        ]
    failures = 0
    for title, response in steps:
        failures += 0 if response.ok else 1
        if args.json:
            out.write(json.dumps({"step": title, **_summary(response)}) + "\n")
        else:
            _print_response(out, title, response)
    if not args.json:
        out.write("demo finished: " + ("all steps succeeded\n" if not failures else "FAILED\n"))
    return 1 if failures else 0


def _summary(response: LLMResponse) -> dict[str, Any]:
    return {
        "status": response.status.value,
        "content": response.content,
        "tool_calls": [
            {"id": call.id, "name": call.name, "arguments": call.arguments}
            for call in response.tool_calls
        ],
        "finish_reason": response.finish_reason,
        "usage": {
            "prompt_tokens": response.usage.prompt_tokens,
            "completion_tokens": response.usage.completion_tokens,
            "total_tokens": response.usage.total_tokens,
        },
        "latency_ms": round(response.latency_ms, 1),
        "attempts": response.attempts,
        "error": None
        if response.error is None
        else {"kind": response.error.kind.value, "message": response.error.message},
    }


def _print_response(out: TextIO, title: str, response: LLMResponse) -> None:
    summary = _summary(response)
    out.write(f"== {title}: {summary['status'].upper()}\n")
    if response.content:
        out.write(f"   content:     {response.content}\n")
    for call in summary["tool_calls"]:
        out.write(
            f"   tool call:   {call['name']}({json.dumps(call['arguments'])}) id={call['id']}\n"
        )
    usage = summary["usage"]
    out.write(
        f"   usage:       prompt={usage['prompt_tokens']} completion={usage['completion_tokens']}"
        f" total={usage['total_tokens']}\n"
    )
    out.write(f"   latency:     {summary['latency_ms']} ms over {response.attempts} attempt(s)\n")
    if response.error is not None:
        out.write(f"   error:       {response.error.kind.value}: {response.error.message}\n")
    out.write("\n")


def _gateway(args: argparse.Namespace) -> int:
    from llmport.testing.gateway import MODELS, LocalGateway

    gateway = LocalGateway(port=args.port, api_key=args.api_key)
    sys.stdout.write(f"llmport local gateway on http://127.0.0.1:{args.port}/v1 (Ctrl-C to stop)\n")
    for name, description in MODELS.items():
        sys.stdout.write(f"  {name:24} {description}\n")
    sys.stdout.flush()
    gateway.serve_forever()
    return 0
