"""Which call and input the code running in a deployed container serves.

The runtime enters a call before it runs user code for it (`runtime.worker.execute_stored_call`);
``toolkit.current_function_call_id()`` and ``toolkit.current_input_id()`` read it there, as they read
the local worker's ids under ``toolkit serve``/``run``.  Context variables, so threads and asyncio
tasks started for one call see its ids.  Stdlib only.

Front door (``runtime.FRONT_DOORS``): the SDK imports `current_call_id` / `current_input_id`, which
``toolkit.current_function_call_id()`` reads inside a deployed container; `__all__` is what it
offers.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["current_call_id", "current_input_id", "entered"]

_call_id: ContextVar[str | None] = ContextVar("toolkit_runtime_call_id", default=None)
_input_id: ContextVar[str | None] = ContextVar("toolkit_runtime_input_id", default=None)


@contextmanager
def entered(call_id: str, input_id: str | None = None) -> Iterator[str]:
    """Run the body as input ``input_id`` (a fresh ``in-...`` id by default) of call ``call_id``."""
    input_id = input_id or "in-" + secrets.token_hex(12)
    call_token, input_token = _call_id.set(call_id), _input_id.set(input_id)
    try:
        yield input_id
    finally:
        _call_id.reset(call_token)
        _input_id.reset(input_token)


def current_call_id() -> str | None:
    return _call_id.get()


def current_input_id() -> str | None:
    return _input_id.get()
