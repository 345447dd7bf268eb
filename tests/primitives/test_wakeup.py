"""The FIFO wake-up channel of blocking ``Queue.get`` (runtime/primitives/wakeup.py), on real named pipes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from runtime.primitives.wakeup import FifoWaiter, fifo_path, notify

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")


def test_a_reader_leaving_during_a_notify_is_not_an_error_for_the_put(tmp_path: Path) -> None:
    """A put's item is committed before it notifies: a reader that closes between the writer's open
    and its write (EPIPE) must not turn that put into an exception. Readers come and go in a
    thread while this thread notifies; on a 2-core machine the window is hit within the bound."""
    path = fifo_path(tmp_path, "q", "")
    stop, entered = threading.Event(), threading.Event()

    def readers() -> None:
        while not stop.is_set():
            with FifoWaiter(path):
                entered.set()

    thread = threading.Thread(target=readers, daemon=True)
    thread.start()
    try:
        assert entered.wait(10)
        deadline = time.monotonic() + 3
        notified = 0
        while time.monotonic() < deadline:
            notify(path)  # raised BrokenPipeError before the fix
            notified += 1
    finally:
        stop.set()
        thread.join(10)
    assert notified > 1000


def test_a_waiter_wakes_on_a_notify_and_makes_its_fifo_once(tmp_path: Path) -> None:
    path = fifo_path(tmp_path / "wakeups", "q", "p")
    with FifoWaiter(path) as first:  # makes the directory and the FIFO
        notify(path)
        started = time.monotonic()
        first.wait(5)
        assert time.monotonic() - started < 2  # woken by the byte, not by the 5 s re-check
    with FifoWaiter(path) as again:  # the FIFO exists: opened as it is
        started = time.monotonic()
        again.wait(0.2)  # nothing pending: waits out its timeout
        assert time.monotonic() - started >= 0.15
    assert path.exists()
