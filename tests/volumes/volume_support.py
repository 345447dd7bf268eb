"""Shared by the volume tests (a module of its own: a test importing `conftest` would find another
directory's conftest when the suite runs together)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"


def toolkit_run(*args: str, timeout: float = 90) -> str:
    """``toolkit run ...`` in a fresh process (its own runner and worker pools); its stdout."""
    proc = subprocess.run([sys.executable, "-m", "toolkit.cli.__main__", "run", *args], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout
