"""Helpers the runtime tests import by name.

Not in conftest.py: with several test directories on one command line, ``import conftest``
finds whichever directory's conftest was loaded last (tests/infra has one too).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loopback import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


class Collected:
    """An invocation's response stream (the writer a streaming handler is given): what was written, and
    whether it was closed."""

    def __init__(self) -> None:
        self.data, self.closed = b"", False

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        self.closed = True


def serve_uvicorn(app: Any, stop_timeout: float = 10.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread: yields ``127.0.0.1:PORT``
    once it accepts connections; resuming the generator (``next(served, None)``, or the end of a
    ``for`` / ``yield from``) stops it, running the app's lifespan shutdown."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:  # a startup failure: fail, never hang
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(stop_timeout)
