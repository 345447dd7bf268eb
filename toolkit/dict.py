"""The platform's ``modal.dict`` path: `Dict` (defined in `toolkit.dicts`)."""

from toolkit.dicts import Dict
from toolkit.exception import Error

__all__ = ["Dict", "Error"]
