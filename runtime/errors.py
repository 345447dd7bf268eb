"""The base errors toolkit raises, shared by the SDK and the containers (stdlib only).

Defined here, below both, so that code running in a container (class parameters checked by the
runtime, schedules planned by infra) raises the very classes users catch as
``toolkit.exception.Error`` / ``toolkit.InvalidError``, without the runtime importing the SDK.

Front door (``runtime.FRONT_DOORS``): the SDK imports the base errors (`Error`, `InvalidError`) the
SDK's own errors are; `__all__` is what it offers.
"""

from __future__ import annotations

__all__ = ["Error", "InvalidError"]


class Error(Exception):
    """Base class of every toolkit error."""


class InvalidError(Error):
    """A decorator, argument or configuration is used in a way toolkit does not support."""
