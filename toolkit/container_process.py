"""The platform's ``modal.container_process`` path: what ``Sandbox.exec`` returns (`toolkit.sandboxes.process`)."""

from toolkit.sandboxes.process import ContainerProcess
from toolkit.sandboxes.streams import StreamType

__all__ = ["ContainerProcess", "StreamType"]
