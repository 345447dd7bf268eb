"""The platform's ``modal.client`` path: its API client, which toolkit refuses (`toolkit.platform_only`)."""

from toolkit.platform_only import Client

__all__ = ["Client"]
