"""The platform's ``modal.proxy`` path (`toolkit.pending`: a static egress IP, not built yet)."""

from toolkit.pending import Proxy

__all__ = ["Proxy"]
