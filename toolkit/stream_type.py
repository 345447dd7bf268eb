"""The platform's ``modal.stream_type`` path: `StreamType` (defined in `toolkit.sandboxes.streams`)."""

from toolkit.sandboxes.streams import StreamType

__all__ = ["StreamType"]
