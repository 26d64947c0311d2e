"""Start and stop a real LiteLLM proxy on 127.0.0.1, for the integration tests and benchmarks.

The proxy runs `config.yaml` from this folder in its own process (see offline_proxy.py),
with an environment that keeps it off the network, its output in a log file, a bounded
wait for `/health/liveliness`, and a stop by process id (terminate, then kill).

    python tests/integration/proxy/proxy_harness.py --gateway-url http://127.0.0.1:8000/v1

runs one in the foreground until Ctrl-C (it needs `litellm[proxy]`, see
requirements/integration.txt).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

PROXY_DIR = Path(__file__).resolve().parent
CONFIG = PROXY_DIR / "config.yaml"
GUARD_MARKER = "NETWORK GUARD:"

#: What keeps the proxy off the network. litellm fetches each of these from GitHub or
#: its website at import or startup unless told to use the copy bundled with the package.
OFFLINE_ENVIRONMENT: Mapping[str, str] = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # model prices and context windows
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",  # the admin UI's news feed
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    "LITELLM_MODE": "PRODUCTION",  # no .env file read from the working directory
    "DISABLE_ADMIN_UI": "True",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
    "PYTHONUNBUFFERED": "1",
}
#: Inherited variables that would give the proxy a database, a cache or other keys.
_DROPPED = ("DATABASE_URL", "DIRECT_URL", "REDIS_URL", "REDIS_HOST", "REDIS_PORT", "LITELLM_")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def offline_environment(**extra: str) -> dict[str, str]:
    """The proxy's environment: ours, minus database/cache settings, plus the offline switches."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_DROPPED)}
    env.update(OFFLINE_ENVIRONMENT)
    env.update(extra)
    return env


class ProxyProcess:
    """A LiteLLM proxy started by `start_proxy`; `stop()` ends it (and its process group)."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, e.g. `http://127.0.0.1:4000/v1`."""
        return f"http://127.0.0.1:{self.port}/v1"

    def wait_ready(self, timeout: float) -> float:
        """Wait until `/health/liveliness` answers 200; return the seconds it took.

        Raises:
            RuntimeError: the proxy exited or did not answer in time (with its log tail).
        """
        began = time.monotonic()
        url = f"http://127.0.0.1:{self.port}/health/liveliness"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() - began < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the LiteLLM proxy exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with opener.open(url, timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - began
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.25)
        raise RuntimeError(
            f"the LiteLLM proxy did not become live within {timeout:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 60) -> str:
        """The last lines the proxy wrote (stdout and stderr)."""
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def network_violations(self) -> list[str]:
        """Lines in which the network guard reported a blocked non-loopback connection."""
        text = self.log_path.read_text("utf-8", "replace")
        return [line for line in text.splitlines() if GUARD_MARKER in line]

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the proxy's process group, then SIGKILL it if it is still running."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(grace)


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)  # the proxy leads its own session: pgid == pid


def start_proxy(
    *,
    gateway_url: str,
    proxy_key: str,
    gateway_key: str = "sk-unused",
    workdir: Path,
    custom_auth: bool = True,
    port: int | None = None,
    config: Path = CONFIG,
    env: Mapping[str, str] | None = None,
) -> ProxyProcess:
    """Start the proxy from `config`; call `wait_ready()` next and `stop()` at the end.

    `custom_auth=False` runs the same models without the key_auth hook, to show what a
    database-less proxy answers to bad keys. Its config and log go to `workdir`; `env`
    adds to the proxy's environment.
    """
    if not custom_auth:
        lines = config.read_text().splitlines()
        config = workdir / "config-without-custom-auth.yaml"
        config.write_text("\n".join(x for x in lines if "custom_auth:" not in x) + "\n")
    port = port or free_port()
    log_path = workdir / f"litellm-proxy-{port}.log"
    env = offline_environment(
        LLMPORT_GATEWAY_URL=gateway_url,
        LLMPORT_GATEWAY_KEY=gateway_key,
        LLMPORT_PROXY_KEY=proxy_key,
        **(env or {}),
    )
    command = [sys.executable, str(PROXY_DIR / "offline_proxy.py"), "--config", str(config)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
            start_new_session=True,
        )
    return ProxyProcess(process, port, log_path)


def main() -> None:
    """Run one proxy in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway-url", required=True, help="the LocalGateway's /v1 URL")
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument("--key", default="sk-llmport-proxy", help="the proxy's master key")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        proxy = start_proxy(
            gateway_url=args.gateway_url, proxy_key=args.key, workdir=Path(workdir), port=args.port
        )
        try:
            took = proxy.wait_ready(timeout=120)
            print(f"LiteLLM proxy live at {proxy.base_url} after {took:.1f} s (key {args.key})")
            proxy.process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            proxy.stop()


if __name__ == "__main__":
    main()
