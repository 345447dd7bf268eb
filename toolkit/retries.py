"""The platform's ``modal.retries`` path: `Retries` (defined in `toolkit.spec`)."""

from toolkit.spec import Retries

__all__ = ["Retries"]
