"""Run the LiteLLM proxy CLI with llmport's loopback-only network guard installed.

    python offline_proxy.py --config config.yaml --host 127.0.0.1 --port 4000

The environment (see proxy_harness.offline_environment) already keeps the proxy off
the network; the guard makes sure of it: any connection or name lookup for a
non-loopback host is refused and reported on stderr as `NETWORK GUARD: <host>`.
"""

from __future__ import annotations

import sys

from proxy_harness import GUARD_MARKER

from llmport.testing.network import block_non_loopback


class _Reporter(list[str]):
    """Reports each blocked host the moment it is blocked, not at exit."""

    def append(self, host: str) -> None:
        print(f"{GUARD_MARKER} blocked {host}", file=sys.stderr, flush=True)
        super().append(host)


def main() -> None:
    """Start the proxy CLI (it reads `sys.argv`) inside the guard, imports included."""
    with block_non_loopback(_Reporter()):
        from litellm.proxy.proxy_cli import run_server

        run_server()


if __name__ == "__main__":
    main()
