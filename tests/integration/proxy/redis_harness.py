"""A real redis-server on 127.0.0.1 for the integration tests: password, no persistence.

Modules call `require_redis()` at import: without redis-server on PATH or the `redis`
package they are skipped, unless LLMPORT_REQUIRE_INTEGRATION=1 makes that a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from proxy_harness import free_port

PASSWORD = "llmport-redis-secret"
_SERVER = shutil.which("redis-server")


def require_redis() -> None:
    """Skip (or, in the integration session, fail) the calling module without Redis."""
    if _SERVER is not None and importlib.util.find_spec("redis") is not None:
        return
    reason = "needs redis-server on PATH (apt-get install redis-server) and the redis package"
    if os.environ.get("LLMPORT_REQUIRE_INTEGRATION") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[int]:
    """Run redis-server until the block ends (stopped by process id); yield its port."""
    import redis  # type: ignore[import-not-found, unused-ignore]  # optional

    assert _SERVER is not None
    port = free_port()
    command = [_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(workdir), "--requirepass", PASSWORD]
    with (workdir / "redis.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        client = redis.Redis(host="127.0.0.1", port=port, password=PASSWORD)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((workdir / "redis.log").read_text()) from None
                time.sleep(0.1)
        client.close()
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def redis_fixtures() -> tuple[Any, Any]:
    """`redis_port, redis_client = redis_fixtures()` in a test module defines both fixtures:

    `redis_port`: one redis-server for the module; `redis_client`: a client of it,
    emptied before each test.
    """

    @pytest.fixture(scope="module")
    def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
        with redis_server(tmp_path_factory.mktemp("redis")) as port:
            yield port

    @pytest.fixture
    def redis_client(redis_port: int) -> Iterator[Any]:
        import redis  # type: ignore[import-not-found, unused-ignore]  # optional

        client = redis.Redis(host="127.0.0.1", port=redis_port, password=PASSWORD)
        client.flushall()
        yield client
        client.close()

    return redis_port, redis_client
