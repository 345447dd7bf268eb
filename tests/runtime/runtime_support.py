"""Helpers the runtime tests import by name.

Not in conftest.py: with several test directories on one command line, ``import conftest``
finds whichever directory's conftest was loaded last (tests/infra has one too).
"""

from __future__ import annotations

import socket
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
