"""The platform's ``modal.io_streams`` path: a sandbox's stdout/stderr readers and stdin writer
(`toolkit.sandboxes.streams`)."""

from toolkit.sandboxes.streams import StreamReader, StreamType, StreamWriter

__all__ = ["StreamReader", "StreamType", "StreamWriter"]
