"""The platform's ``modal.environments`` path (`toolkit.platform_only`)."""

from toolkit.platform_only import Environment

__all__ = ["Environment"]
