"""Shared by the core tests: the repository root, a way to run the real CLI, and the fixture apps imported by name."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / "tests" / "fixtures" / "apps"


def toolkit_cli(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit.cli.__main__", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


@contextmanager
def fixture_app(name: str) -> Iterator[ModuleType]:
    """tests/fixtures/apps/NAME.py imported as the top-level module NAME, as ``toolkit run`` imports a user's file
    (its workers import it by that name too); the folder is on sys.path only while it is in use."""
    sys.path.insert(0, str(APPS))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(APPS))
