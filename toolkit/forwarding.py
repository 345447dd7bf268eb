"""`forward(port)`: a port of a running function, reachable from outside it (the platform's
``modal.forward``).

Locally a function runs in a worker process on this machine, so the port is already reachable on
loopback: ``forward`` checks where it runs and yields a `Tunnel` naming ``http://127.0.0.1:<port>``
(plain HTTP/TCP, no TLS, not public: the local meaning, like a local sandbox's tunnels).  A deployed
function has no public tunnel yet, so there it refuses, naming ``@toolkit.web_server``, which toolkit
serves behind the app's front door; outside any function it is an error, as on the platform.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from toolkit.context import in_deployment, is_local
from toolkit.exception import InvalidError, NotSupportedError
from toolkit.sandbox import Tunnel
from toolkit.unsupported import no_client

__all__ = ["forward"]

_LOOPBACK = "127.0.0.1"


def _tunnel(port: int, unencrypted: bool, h2_enabled: bool) -> Tunnel:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidError(f"toolkit.forward({port!r}): the port must be an int between 1 and 65535.")
    if in_deployment():
        raise NotSupportedError(f"toolkit.forward({port}) is not supported by toolkit in a deployed function: "
                                "it opens no public tunnel on AWS. Instead, serve the port with "
                                f"@toolkit.web_server({port}), which is reachable at the function's URL.")
    if is_local():
        raise InvalidError(f"toolkit.forward({port}) works inside a running function (.remote(), .spawn() or "
                           "toolkit run of an @app.function); here the port is already on this machine.")
    return Tunnel(_LOOPBACK, port, _LOOPBACK, port)


@contextmanager
def forward(port: int, *, unencrypted: bool = False, h2_enabled: bool = False,
            client: Any = None) -> Iterator[Tunnel]:
    """``with toolkit.forward(8000) as tunnel:`` -- ``tunnel.url`` reaches the function's port 8000 for
    the block.  Locally that is ``http://127.0.0.1:8000`` (no TLS; ``unencrypted``, ``h2_enabled`` and
    ``client`` are accepted and change nothing); a deployed function refuses (see the module)."""
    no_client("toolkit.forward", client)
    yield _tunnel(port, unencrypted, h2_enabled)


@asynccontextmanager
async def _forward_aio(port: int, *, unencrypted: bool = False, h2_enabled: bool = False,
                       client: Any = None) -> AsyncIterator[Tunnel]:
    no_client("toolkit.forward.aio", client)
    yield _tunnel(port, unencrypted, h2_enabled)


forward.aio = _forward_aio  # type: ignore[attr-defined]  # ``async with toolkit.forward.aio(port)``
