"""Run a command as a person would see it: on a pseudo-terminal, output read until it exits."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")  # colours, cursor moves, erase-line: what a terminal interprets


def run_in_pty(args: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """(exit code, everything it wrote to the terminal); killed, and an AssertionError, past ``timeout``."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(list(args), cwd=cwd, env={**env, "TERM": "xterm-256color", "COLUMNS": "160"},
                            stdin=follower, stdout=follower, stderr=follower, start_new_session=True)
    os.close(follower)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the command exited and closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError(f"{args} did not finish in {timeout} s:\n{output.decode(errors='replace')}")
        return proc.wait(timeout=30), bytes(output)
    finally:
        os.close(leader)


def visible(output: bytes) -> str:
    """The text with the terminal's escape sequences taken out."""
    return ANSI.sub(b"", output).replace(b"\r", b"").decode("utf-8", "replace")
