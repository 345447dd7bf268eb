"""The platform's ``modal.output`` path: `enable_output` (defined in `toolkit.ephemeral`)."""

from toolkit.ephemeral import enable_output

__all__ = ["enable_output"]
