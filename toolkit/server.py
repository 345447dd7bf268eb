"""The platform's ``modal.server`` path (`toolkit.pending`: ``@app.server`` is not built yet)."""

from toolkit.pending import Server

__all__ = ["Server"]
