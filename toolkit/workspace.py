"""The platform's ``modal.workspace`` path (`toolkit.platform_only`)."""

from toolkit.platform_only import Workspace

__all__ = ["Workspace"]
