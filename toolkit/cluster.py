"""The platform's ``modal.cluster`` path (`toolkit.platform_only`)."""

from toolkit.platform_only import Cluster

__all__ = ["Cluster"]
