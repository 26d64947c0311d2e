"""Charges for a remote budget store, sent by one worker thread so no call waits past its deadline.

A finished call's spend must reach the store (dropping it would let the tenant
overspend), but the call must also come back by its deadline, and a hung Redis (a
name lookup that never answers) is bounded by no socket timeout. So a call hands its
charge to the budget's `ChargeSender` and waits for it until a moment of its choosing;
a charge still unsent then stays queued and is sent when the store answers.

One worker thread sends every queued charge, so a hung store holds one thread per
budget, however many calls finish meanwhile. Charges queued while it waits are added
up per tenant slot and period, so the queue holds one entry per tenant, not one per
call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from llmport._budget_store import Window
from llmport._deadline import start_thread

__all__ = ["ChargeSender"]

logger = logging.getLogger(__name__)

Send = Callable[[str, Window, float, int], None]


class ChargeSender:
    """Queue charges for a store and send them from one worker thread, in order of arrival.

    `send(slot, window, usd, tokens)` adds one charge to the store; it handles its own
    failures (a budget logs them), so an exception it lets out (even a `BaseException`,
    which would end the worker and leave every later charge unsent) is logged and
    dropped with its charge, and the worker goes on.
    """

    def __init__(self, send: Send) -> None:
        """Send charges with `send`; no thread runs until the first charge."""
        self._send = send
        self._lock = threading.Condition()
        #: (slot, window) -> (usd, tokens) not yet handed to `send`
        self._pending: dict[tuple[str, Window], tuple[float, int]] = {}
        self._queued = 0  # charges queued so far
        self._sent = 0  # charges whose `send` has returned (or raised)
        self._working = False

    def wait_sent(self, timeout: float | None = None) -> bool:
        """Wait until every charge queued so far has been sent; False if `timeout` came first
        (or no worker thread could start to send them)."""
        with self._lock:
            queued = self._queued
            try:
                self._start_worker()
            except RuntimeError:
                return False
            return self._lock.wait_for(lambda: self._sent >= queued, timeout)

    def charge(self, slot: str, window: Window, usd: float, tokens: int, until: float) -> bool:
        """Queue a charge and wait for it to be sent until `until` (`time.monotonic()` seconds).

        Returns whether it was sent by then. If not, it stays queued and is sent later.

        Raises:
            RuntimeError: no worker thread could start; the charge stays queued for the
                worker the next charge (or `wait_sent`) starts.
        """
        with self._lock:
            key = (slot, window)
            usd_pending, tokens_pending = self._pending.get(key, (0.0, 0))
            self._pending[key] = (usd_pending + usd, tokens_pending + tokens)
            self._queued += 1
            ticket = self._queued
            self._start_worker()
            while self._sent < ticket:
                left = until - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    def _start_worker(self) -> None:
        """Start the worker if charges wait and none runs (with the lock held).

        A thread that cannot start raises `RuntimeError`; the next charge tries again.
        """
        if self._pending and not self._working:
            start_thread(self._work, "llmport-budget-charges")
            self._working = True  # before the worker can take the lock

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._working = False
                    return
                batch, self._pending = self._pending, {}
                upto = self._queued
            for (slot, window), (usd, tokens) in batch.items():
                try:
                    self._send(slot, window, usd, tokens)
                except BaseException as exc:  # no caller to raise to: the others go on
                    name = type(exc).__name__
                    logger.warning("llm budget charge raised %s: spend not charged", name)
            with self._lock:
                self._sent = upto
                self._lock.notify_all()
