"""The network guard refuses non-loopback connections and lets loopback through."""

from __future__ import annotations

import socket

import pytest

from llmport.testing import NetworkBlockedError, block_non_loopback
from llmport.testing.network import is_loopback

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "localhost"])
def test_loopback_hosts_are_allowed(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.1", "8.8.8.8", "example.com", "::2"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_connect_to_public_address_is_blocked_and_recorded() -> None:
    with block_non_loopback() as violations:
        sock = socket.socket()
        try:
            with pytest.raises(NetworkBlockedError):
                sock.connect(("192.0.2.1", 80))
        finally:
            sock.close()
    assert violations == ["192.0.2.1"]


def test_dns_lookup_of_public_name_is_blocked() -> None:
    with block_non_loopback(), pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("api.openai.com", 443)


def test_loopback_connect_is_allowed() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        with block_non_loopback() as violations:
            client = socket.create_connection(server.getsockname(), timeout=2)
            client.close()
        assert violations == []
    finally:
        server.close()


def test_guard_fails_a_test_even_when_the_error_is_swallowed(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nllmport_network_guard = true\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(
        """
        import socket

        def test_sneaky():
            try:
                socket.create_connection(("192.0.2.1", 80), timeout=0.1)
            except OSError:
                pass
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*non-loopback*192.0.2.1*"])
