"""Loopback networking the tests share: the one home of `free_port` (every test directory imports it from here).

A top-level module of its own, like moto_support.py: tests/ is on sys.path for every test directory, and a
helper in a conftest.py could not be imported by name (every conftest.py shares one module name).
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago (the OS picked it; it is closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


__all__ = ["free_port"]
