"""A worker process driven over pipes: JSON lines in on stdin, JSON lines out on stdout."""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


class LineWorker:
    """`python <script> <args>`: `send()` a JSON line, read the next with `reply()`.

    Its stderr goes to `log`, whose tail explains a worker that does not answer.
    `stop()` closes its input, then terminates and kills it by process id.
    """

    def __init__(
        self, script: Path, args: Sequence[str], env: Mapping[str, str], log: Path
    ) -> None:
        with log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(script), *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=dict(env),
                text=True,
            )
        self.log = log

    def reply(self, timeout: float) -> Any:
        """The next JSON line the worker prints."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            tail = "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-40:])
            raise RuntimeError(f"worker {self.process.pid} gave no answer in {timeout} s:\n{tail}")
        return json.loads(line)

    def send_line(self, line: str) -> None:
        """Write one line to the worker's stdin."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        """Close its input (it exits), then terminate and kill by pid if it lingers."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        for end in (None, self.process.terminate, self.process.kill):
            if end is not None:
                end()
            try:
                self.process.wait(10)
                break
            except subprocess.TimeoutExpired:
                continue
        if self.process.stdout is not None:
            self.process.stdout.close()
