"""boto3 clients for the runtime, created lazily and once per process.

boto3 (>= 1.28) reads ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` itself,
so the same code talks to AWS, LocalStack or moto; we add nothing on top.  boto3 is
imported on first use so plain-function images that never touch AWS don't pay for it.

Front door (``runtime.FRONT_DOORS``): the SDK imports `client`, the one boto3 client cache;
`__all__` is what it offers.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["client", "reset_clients"]

_lock = threading.Lock()
_clients: dict[tuple[str, str | None, float | None], Any] = {}


def client(service: str, region: str | None = None, *, read_timeout: float | None = None) -> Any:
    """The process's client for ``service``; ``read_timeout`` (seconds) replaces botocore's 60 s."""
    key = (service, region, read_timeout)
    with _lock:
        if key not in _clients:
            import boto3

            options: dict[str, Any] = {"region_name": region}
            if read_timeout is not None:
                from botocore.config import Config

                options["config"] = Config(read_timeout=read_timeout)
            _clients[key] = boto3.session.Session().client(service, **options)
        return _clients[key]


def reset_clients() -> None:
    """Forget cached clients (their endpoint and credentials were read when they were made)."""
    with _lock:
        _clients.clear()
