"""The platform's ``modal.network_file_system`` path (`toolkit.pending`: deprecated there, use Volume)."""

from toolkit.pending import NetworkFileSystem

__all__ = ["NetworkFileSystem"]
