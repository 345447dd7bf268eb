"""Moved to `toolkit.aio` (one module for ``.aio``); kept so existing imports keep working."""

from toolkit.aio import aio_iter_method, aio_method

__all__ = ["aio_iter_method", "aio_method"]
