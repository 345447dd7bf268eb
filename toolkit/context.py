"""Where this code is running: the process that drives an app, or inside one of its containers.

A local worker process stands in for a container, so code in a function sees the same answer
under ``toolkit serve``/``toolkit run`` as on AWS.  Inside a worker, `current_function_call_id`
and `current_input_id` name the call and the input being run (one call, many inputs for ``.map``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from runtime import call_context, container_identity
from runtime.environment import VARIABLES

WORKER_ENV = "TOOLKIT_WORKER_FD"  # set by the local pool for every worker process (toolkit.local.pool)
# Set in every deployed container (the runtime's environment); here rather than in toolkit.runner so that
# asking where code runs imports no runner (toolkit.secret asks, and the runners reach back to it).
DEPLOYED_ENV = tuple(VARIABLES[field] for field in ("manifest", "function", "calls_table"))

# Set per input by the worker running it (threads and asyncio tasks each see their own).
_function_call_id: ContextVar[str | None] = ContextVar("toolkit_function_call_id", default=None)
_input_id: ContextVar[str | None] = ContextVar("toolkit_input_id", default=None)


def in_deployment() -> bool:
    """True inside a deployed function's container."""
    return all(os.environ.get(name) for name in DEPLOYED_ENV)


def is_local() -> bool:
    """True where the app is driven from (a script, ``toolkit run``/``serve``); False inside a function."""
    return not (os.environ.get(WORKER_ENV) or in_deployment())


def current_function_call_id() -> str | None:
    """The id of the call this input belongs to (``fc-...``; a ``.spawn()``'s is its `FunctionCall` id);
    None outside a function.  Set by local workers, and by the runtime in deployed functions."""
    return _function_call_id.get() or call_context.current_call_id()


def current_input_id() -> str | None:
    """The id of the input being run (``in-...``); None outside a function."""
    return _input_id.get() or call_context.current_input_id()


def enter_input(call_id: str | None, input_id: str | None) -> None:
    """Called by a worker before it runs an input, in the thread or task that runs it."""
    _function_call_id.set(call_id)
    _input_id.set(input_id)


@contextmanager
def entered_input(call_id: str, input_id: str) -> Iterator[None]:
    """Run the body as input ``input_id`` of call ``call_id`` (a served web request is one), then restore
    what was there: unlike a worker's inputs, requests share their thread with what runs after them."""
    call_token, input_token = _function_call_id.set(call_id), _input_id.set(input_id)
    try:
        yield
    finally:
        _function_call_id.reset(call_token)
        _input_id.reset(input_token)


def enter_container(environment: str | None) -> None:
    """Called once as a local worker process starts: the variables the platform documents as present
    in every container running a function (`runtime.container_identity`), as deployed containers set them."""
    container_identity.enter_container(environment)


def new_input_id() -> str:
    return "in-" + secrets.token_hex(12)
