"""Helpers of the sandbox tests (a module of its own: several test directories have a ``conftest``)."""

from __future__ import annotations

import subprocess
import time

LEAK_WAIT_S = 20.0


def sandbox_containers() -> list[str]:
    done = subprocess.run(["podman", "ps", "-a", "--filter", "label=dev.toolkit.sandbox", "--format", "{{.Names}}"],
                          capture_output=True, text=True, timeout=60)
    return done.stdout.split()


def wait_no_containers(timeout: float = LEAK_WAIT_S) -> list[str]:
    """The sandbox containers still there after ``timeout`` seconds (empty: nothing leaked)."""
    deadline = time.monotonic() + timeout
    while (left := sandbox_containers()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left
