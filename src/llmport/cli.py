"""Command line: `llmport demo | chat | ping | config | gateway | profiles`.

`demo` starts the local gateway on 127.0.0.1 and drives the real LiteLLM
provider through it: no API key and no internet needed. `chat`, `ping` and
`config` use the configured provider (`DEFAULT_LLM` and friends, or `--llm NAME`).
Every command first reads `./.env` (variables already set win; see `load_env_file`).
Only the commands that call litellm import it.
Exit codes: 0 success, 1 the call failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from llmport._cli_output import describe_calls, error_line, one_line, print_response, summary
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


#: Names of the variables this run took from ./.env (for `config`'s sources).
_from_env_file: set[str] = set()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from llmport.errors import ConfigurationError

    try:
        _from_env_file.clear()
        _from_env_file.update(load_env_file(Path(".env")))
        result: int = args.handler(args)
    except ConfigurationError as exc:
        sys.stderr.write(f"llmport: configuration error: {one_line(str(exc))}\n")
        return 2
    return result


def load_env_file(path: Path) -> set[str]:
    """Copy the variables of a dotenv file into `os.environ`, never replacing one already set.

    Returns the names taken from the file. A missing file is not an error.

    Raises:
        ConfigurationError: the file cannot be read or is not UTF-8 text.
    """
    if not path.is_file():
        return set()
    from llmport._env_file import read_env_file

    taken = set()
    for name, value in read_env_file(path).items():
        if name not in os.environ:
            os.environ[name] = value
            taken.add(name)
    return taken


def _version() -> str:
    from llmport import __version__

    return f"llmport {__version__}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmport",
        description="One small, typed interface to any LLM. Reads ./.env first "
        "(variables already set win).",
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="run the end-to-end demo against the embedded local gateway (no keys needed)"
    )
    demo.add_argument("--json", action="store_true", help="print machine-readable JSON lines")
    demo.set_defaults(handler=_demo)
    chat = commands.add_parser("chat", help="send one prompt to the configured LLM")
    chat.add_argument("prompt", help="the user message")
    chat.add_argument("--llm", default=None, help="provider or profile name (default: DEFAULT_LLM)")
    chat.add_argument("--stream", action="store_true", help="print tokens as they arrive")
    chat.add_argument("--json", action="store_true", help="print the response as JSON")
    chat.set_defaults(handler=_chat)
    ping = commands.add_parser("ping", help="smoke-test the configured LLM: latency, model, usage")
    ping.add_argument("--llm", default=None, help="provider or profile name (default: DEFAULT_LLM)")
    ping.add_argument("--json", action="store_true", help="print the result as JSON")
    ping.set_defaults(handler=_ping)
    config = commands.add_parser(
        "config", help="show the resolved configuration and where each value came from"
    )
    config.add_argument("--llm", default=None, help="provider name (default: DEFAULT_LLM)")
    config.add_argument("--json", action="store_true", help="print as JSON")
    config.set_defaults(handler=_config)
    gateway = commands.add_parser("gateway", help="serve the local OpenAI-compatible gateway")
    gateway.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765)")
    gateway.add_argument("--api-key", default=None, help="require this bearer key")
    gateway.set_defaults(handler=_gateway)
    _profiles_parser(commands)
    return parser


def _profiles_parser(commands: Any) -> None:
    profiles = commands.add_parser(
        "profiles", help="export the profiles file to a LiteLLM proxy or LightEval, or import"
    )
    actions = profiles.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="print the profiles in another tool's format")
    export.add_argument("--format", required=True, choices=["litellm-proxy", "lighteval"])
    export.add_argument("--config", default=None, help="profiles file (default: LLMPORT_CONFIG)")
    export.add_argument("--profile", default=None, help="the profile to export (lighteval)")
    export.set_defaults(handler=_profiles_export)
    imports = actions.add_parser("import", help="print the profiles file equivalent to FILE")
    imports.add_argument("--format", required=True, choices=["litellm-proxy"])
    imports.add_argument("file", help="a LiteLLM proxy config.yaml")
    imports.set_defaults(handler=_profiles_import)


def _profiles_export(args: argparse.Namespace) -> int:
    from llmport.errors import ConfigurationError
    from llmport.interop import export_lighteval, export_litellm_proxy, read_profiles

    if args.format == "lighteval" and not args.profile:
        raise ConfigurationError("--format lighteval exports one profile: pass --profile NAME")
    profiles = read_profiles(args.config)
    if args.format == "lighteval":
        converted = export_lighteval(profiles, args.profile)
    else:
        converted = export_litellm_proxy(profiles)
    return _print_converted(converted)


def _profiles_import(args: argparse.Namespace) -> int:
    from llmport.interop import import_litellm_proxy

    return _print_converted(import_litellm_proxy(args.file))


def _print_converted(converted: Any) -> int:
    # A YAML or TOML file is UTF-8, whatever the terminal's encoding: `> file` must work.
    stdout = getattr(sys.stdout, "buffer", None)
    if stdout is None:
        sys.stdout.write(converted.text)
    else:
        sys.stdout.flush()
        stdout.write(converted.text.encode("utf-8"))
        stdout.flush()
    for note in converted.notes:
        sys.stderr.write(f"llmport: not carried over: {note}\n")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from llmport.config import RetryPolicy
    from llmport.registry import get_llm
    from llmport.testing.gateway import LocalGateway

    out = sys.stdout
    failures = 0
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

        hello = [{"role": "user", "content": "Say hello to llmport."}]
        weather = [{"role": "user", "content": "What is the weather in Paris?"}]
        # Each step runs when its turn comes, so the output follows the order below.
        steps: list[tuple[str, Callable[[], LLMResponse]]] = [
            ("plain completion", lambda: llm("echo").chat_completions(hello)),
            ("tool call", lambda: llm("tool-call").chat_completions(weather, tools=[WEATHER_TOOL])),
            (
                "retried error (503 twice, then success)",
                lambda: llm("flaky-2-503").chat_completions([{"role": "user", "content": "Hi?"}]),
            ),
            ("stream (8 chunks)", lambda: _demo_stream(llm("chunks-8"), out, quiet=args.json)),
        ]
        for number, (title, run) in enumerate(steps, start=1):
            if not args.json:
                out.write(f"== step {number} of {len(steps)}: {title}\n")
            response: LLMResponse = run()
            failures += 0 if response.ok else 1
            if args.json:
                out.write(json.dumps({"step": title, **summary(response)}) + "\n")
            else:
                print_response(out, response)
            out.flush()
    if not args.json:
        out.write("demo finished: " + ("all steps succeeded\n" if not failures else "FAILED\n"))
    return 1 if failures else 0


def _demo_stream(llm: Any, out: TextIO, *, quiet: bool) -> LLMResponse:
    from llmport.streaming import TextDelta

    with llm.stream([{"role": "user", "content": "Count to eight."}]) as stream:
        if not quiet:
            out.write("   streamed:    ")
        for event in stream:
            if isinstance(event, TextDelta) and not quiet:
                out.write(event.text)
                out.flush()
        if not quiet:
            out.write("\n")
    response: LLMResponse = stream.response
    return response


def _llm(name: str | None) -> Any:
    from llmport.registry import get_default_llm, get_llm

    return get_llm(name) if name else get_default_llm()


def _chat(args: argparse.Namespace) -> int:
    from llmport.streaming import TextDelta

    llm = _llm(args.llm)
    messages = [{"role": "user", "content": args.prompt}]
    if args.stream and not args.json:
        printed = False
        with llm.stream(messages) as stream:
            for event in stream:
                if isinstance(event, TextDelta) and event.text:
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
                    printed = True
        if printed:
            sys.stdout.write("\n")
        response = stream.response
    else:
        response = llm.chat_completions(messages)
    if args.json:
        sys.stdout.write(json.dumps(summary(response)) + "\n")
    elif not args.stream:
        text = response.content or describe_calls(response)
        if text:
            sys.stdout.write(text + "\n")
    if response.error is not None:
        sys.stderr.write(error_line(response.error, llm.config) + "\n")
        return 1
    return 0


def _ping(args: argparse.Namespace) -> int:
    llm = _llm(args.llm)
    response = llm.chat_completions([{"role": "user", "content": "ping"}], max_tokens=16)
    result = {
        "ok": response.ok,
        "provider": llm.provider_name,
        "model": response.model or llm.model,
        "latency_ms": round(response.latency_ms, 1),
        "attempts": response.attempts,
        "usage": summary(response)["usage"],
        "error_kind": response.error.kind.value if response.error else None,
    }
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    elif response.ok:
        sys.stdout.write(
            f"ok: {result['provider']} {result['model']} in {result['latency_ms']} ms, "
            f"usage {result['usage']}\n"
        )
    if response.error is not None:
        sys.stderr.write(error_line(response.error, llm.config) + "\n")
        return 1
    return 0


def _config(args: argparse.Namespace) -> int:
    from llmport.registry import default_provider_name

    name = args.llm or default_provider_name()
    llm = _llm(name)
    config = llm.config
    rows = []
    dumped = config.model_dump(mode="json")  # secrets masked, nested settings plain
    for field_name in type(config).model_fields:
        variable = config.env_name(field_name)
        value = getattr(config, field_name)
        if field_name in ("api_key",) and value is not None:
            value = "****"
        elif field_name == "extra_headers" and value:
            value = dict.fromkeys(value, "****")
        else:
            value = dumped.get(field_name, value)
        names = {key for key in os.environ if key == variable or key.startswith(variable + "__")}
        source = "default"
        if names:
            source = ".env" if names <= _from_env_file else "environment"
        rows.append({"setting": field_name, "value": value, "source": source, "env": variable})
    if args.json:
        out = {"provider": llm.provider_name, "settings": rows}
        sys.stdout.write(json.dumps(out, default=str) + "\n")
        return 0
    sys.stdout.write(f"provider: {llm.provider_name} ({type(llm).__name__})\n")
    for row in rows:
        sys.stdout.write(
            f"  {row['setting']:14} = {row['value']!s:40} [{row['source']}: {row['env']}]\n"
        )
    return 0


def _gateway(args: argparse.Namespace) -> int:
    from llmport.testing.gateway import MODELS, LocalGateway

    gateway = LocalGateway(port=args.port, api_key=args.api_key).start()
    try:
        sys.stdout.write(f"llmport local gateway on {gateway.base_url} (Ctrl-C to stop)\n")
        for name, description in MODELS.items():
            sys.stdout.write(f"  {name:24} {description}\n")
        sys.stdout.flush()
        gateway.serve_forever()
    except KeyboardInterrupt:  # Ctrl-C before serve_forever() took over its handling
        gateway.stop()
    return 0
