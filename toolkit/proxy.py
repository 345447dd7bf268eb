"""`Proxy`: a static outbound IP address for the functions that ask for it.

>>> @app.function(proxy=toolkit.Proxy.from_name("partner-allowlist"))
... def call_partner(): ...

Deployed, such functions run in private subnets whose default route goes through a NAT gateway
holding an Elastic IP, one per proxy name of the app (infra/components/proxy.py): every request they
make leaves from that address, which `toolkit deploy` and `toolkit plan` print for the partner's
allowlist.  Functions without ``proxy=`` stay out of the VPC.  Locally there is nothing to provision:
traffic leaves from this machine's own address, and the decorator says so once (docs/proxy.md).
"""

from __future__ import annotations

import warnings
from typing import Any

from toolkit.state import check_name
from toolkit.unsupported import no_client, not_supported

__all__ = ["Proxy", "warn_local"]


class Proxy:
    """A named static egress IP: a NAT gateway with an Elastic IP when deployed."""

    name: str

    def __init__(self, name: str) -> None:
        self.name = check_name("Proxy", name)

    def __repr__(self) -> str:
        return f"toolkit.Proxy({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Proxy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("Proxy", self.name))

    @staticmethod
    def from_name(name: str, *, environment_name: str | None = None, client: Any = None) -> Proxy:
        """The proxy called ``name``: the deploy creates its NAT gateway and Elastic IP on first use."""
        no_client("Proxy.from_name", client)
        return Proxy(name)

    @property
    def object_id(self) -> str:
        return f"pr-{self.name}"

    @property
    def client(self) -> None:
        """Always None: toolkit has no API client."""
        return None

    def hydrate(self, client: Any = None) -> Proxy:
        """Returns the proxy: there is nothing to look up before a deploy."""
        return self

    @not_supported("Proxy.get_dashboard_url", "toolkit has no dashboard",
                   "see the proxy's Elastic IP in the output of `toolkit plan` or `toolkit deploy`")
    def get_dashboard_url(self) -> str: ...  # type: ignore[empty-body]  # replaced by the refusal


def warn_local(decorator: str, proxy: Proxy, stacklevel: int) -> None:
    """The one line a decorator says about ``proxy=`` where it runs locally."""
    warnings.warn(f"{decorator}(proxy={proxy!r}): locally, outbound traffic leaves from this machine's own IP "
                  f"address; deployed, it leaves from the proxy's Elastic IP (printed by `toolkit plan`).",
                  UserWarning, stacklevel=stacklevel + 1)
