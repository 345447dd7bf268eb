"""`Proxy`: a static outbound IP address for the functions that ask for it.

>>> @app.function(proxy=toolkit.Proxy.from_name("partner-allowlist"))
... def call_partner(): ...

Deployed, such functions run in private subnets whose default route goes through a NAT gateway
holding an Elastic IP, one per proxy name of the app (infra/components/proxy.py): every request they
make leaves from that address, which `toolkit deploy` prints for the partner's allowlist (`toolkit
plan` lists the NAT gateway and Elastic IP it would create).  Functions without ``proxy=`` stay out of the VPC.  Locally there is nothing to provision:
traffic leaves from this machine's own address, and the decorator says so once (docs/proxy.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from toolkit.construction import refuse_construction
from toolkit.handles import Clientless
from toolkit.state import check_name
from toolkit.unsupported import no_client, not_supported

__all__ = ["Proxy", "deployed_lines", "planned_lines", "warn_local"]


class Proxy(Clientless):
    """A named static egress IP: a NAT gateway with an Elastic IP when deployed."""

    name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # the platform's signature (toolkit.construction)
        refuse_construction("Proxy", "Proxy.from_name(name)")

    @classmethod
    def _make(cls, name: str) -> Proxy:
        proxy = object.__new__(cls)
        proxy.name = check_name("Proxy", name)
        return proxy

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
        return Proxy._make(name)

    @property
    def object_id(self) -> str:
        return f"pr-{self.name}"

    def hydrate(self, client: Any = None) -> Proxy:
        """Returns the proxy: there is nothing to look up before a deploy."""
        return self

    @not_supported("Proxy.get_dashboard_url", "toolkit has no dashboard",
                   "see the proxy's Elastic IP in the output of `toolkit plan` or `toolkit deploy`")
    def get_dashboard_url(self) -> str: ...  # type: ignore[empty-body]  # replaced by the refusal


def warn_local(decorator: str, proxy: Proxy, stacklevel: int) -> None:
    """The one line a decorator says about ``proxy=`` where it runs locally."""
    warnings.warn(f"{decorator}(proxy={proxy!r}): locally, outbound traffic leaves from this machine's own IP "
                  f"address; deployed, it leaves from the proxy's Elastic IP (printed by `toolkit deploy`).",
                  UserWarning, stacklevel=stacklevel + 1)


def planned_lines(manifest: Mapping[str, Any]) -> list[str]:
    """What ``toolkit plan`` says of each proxy: its address exists only once deployed."""
    from runtime.manifest import load

    users: dict[str, list[str]] = {}
    for function in load(manifest).functions:
        if function.proxy:
            users.setdefault(function.proxy, []).append(function.tag)
    return [f"proxy {name}: a NAT gateway with a new Elastic IP for {', '.join(tags)} (its address: `toolkit deploy`)"
            for name, tags in sorted(users.items())]


def deployed_lines(ips: Mapping[str, str]) -> list[str]:
    """What ``toolkit deploy`` says of each proxy: the static IP to allowlist."""
    return [f"proxy {name}: outbound traffic leaves from {ip}" for name, ip in sorted(ips.items())]
