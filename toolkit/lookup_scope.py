"""How far a lookup by name or id may search: ``TOOLKIT_LOOKUP`` (`toolkit.lookup` documents the order).

Kept apart from `toolkit.lookup` so that `toolkit.call_search` (``FunctionCall.from_id``) can ask it
without importing the lookup machinery, which imports the handles that import `toolkit.calls`.
"""

from __future__ import annotations

import os

from toolkit.exception import InvalidError

__all__ = ["LOOKUP_ENV", "MODES", "lookup_mode"]

LOOKUP_ENV = "TOOLKIT_LOOKUP"
MODES = ("auto", "local", "deployed")


def lookup_mode() -> str:
    """``auto`` (the default: local, then AWS), ``local`` (never AWS) or ``deployed`` (only AWS)."""
    mode = (os.environ.get(LOOKUP_ENV) or "auto").strip().lower()
    if mode not in MODES:
        raise InvalidError(f"{LOOKUP_ENV}={mode!r} is not one of {', '.join(MODES)}: 'local' searches this process "
                           "and local serves, 'deployed' only AWS, 'auto' (the default) both.")
    return mode
