"""Names under ``.localhost`` resolve to loopback in toolkit's processes (RFC 6761, section 6.3).

``toolkit serve`` routes by Host (``default--app-hello-dev.localhost:8000``), but glibc's resolver
on many machines answers "Name or service not known" for such names (only ``localhost`` itself
is in /etc/hosts), so a local entrypoint or a worker could not open its own endpoint's URL.
`resolve_localhost_names` wraps ``socket.getaddrinfo`` so these names resolve to 127.0.0.1 (where
serve listens) while the Host header keeps the name.  Toolkit installs it in the processes it
runs the user's code in: ``toolkit run``, ``with app.run():`` and local workers.  A plain Python
script outside toolkit needs either that call (``toolkit.localhost.resolve_localhost_names()``),
a resolver that follows RFC 6761 (systemd-resolved / nss-myhostname do), or /etc/hosts entries.
"""

from __future__ import annotations

import socket
from typing import Any

__all__ = ["is_localhost_name", "resolve_localhost_names"]

_MARK = "_toolkit_resolves_localhost"


def is_localhost_name(host: object) -> bool:
    """``x.localhost`` (any depth, any case, a trailing dot allowed); not ``localhost`` itself."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.rstrip(".").lower()
    return name.endswith(".localhost") and len(name) > len(".localhost")


def resolve_localhost_names() -> None:
    """Make ``socket.getaddrinfo`` (and so urllib, httpx, requests, asyncio) resolve ``*.localhost``
    to 127.0.0.1 in this process.  Idempotent; other names go to the system resolver unchanged."""
    if getattr(socket.getaddrinfo, _MARK, False):
        return
    system = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return system("127.0.0.1" if is_localhost_name(host) else host, *args, **kwargs)

    setattr(getaddrinfo, _MARK, True)
    socket.getaddrinfo = getaddrinfo
