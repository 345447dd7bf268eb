"""Lambda events: what arrived (`sources`), whether its fields have the right types (`shape`), and how
web events reach an ASGI app (`bridge`, `handlers`)."""

from runtime.events.bridge import LambdaBridge
from runtime.events.sources import EventSource, classify

__all__ = ["EventSource", "LambdaBridge", "classify"]
