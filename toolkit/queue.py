"""The platform's ``modal.queue`` path: `Queue` (defined in `toolkit.queues`)."""

from toolkit.exception import Error
from toolkit.queues import Queue

__all__ = ["Error", "Queue"]
