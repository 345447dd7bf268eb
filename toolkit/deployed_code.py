"""The stand-in for a deployed function's code in a process that looked the app up by name.

``Function.from_name("app", "f")`` on a deployed app (`toolkit.deployed_apps`) gives a handle whose
``spec.raw_f`` is a `DeployedCode`: it carries the runner that calls the deployed app, and the
endpoint's deployed URL, so every handle derived from it (``Cls`` objects, bound methods,
``with_options``) calls AWS without knowing how it was found.  Kept free of imports so that
`toolkit.functions` can ask about it without importing the lookup machinery.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from toolkit.exception import InvalidError

__all__ = ["DeployedCode", "bound_runner", "holds_call", "remember_call", "runner_for_call"]

log = logging.getLogger("toolkit")


class DeployedCode:
    """``raw_f`` of a looked-up deployed function: its code runs in AWS, not here."""

    def __init__(self, app: str, tag: str, runner: Any, url: str | None = None) -> None:
        self.app, self.tag, self.runner, self.url = app, tag, runner, url
        self.__name__ = self.__qualname__ = tag.rpartition(".")[2]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidError(f"{self.tag!r} was looked up from the deployed app {self.app!r}: its code is not in this "
                           f"process, so .local() cannot run it. Use .remote(), .spawn() or .map(), or import the "
                           "app's module to run it here.")


def bound_runner(raw_f: Any) -> Any:
    """The runner a looked-up handle calls through, or None for code defined here."""
    return raw_f.runner if isinstance(raw_f, DeployedCode) else None


_lock = threading.Lock()
_calls: dict[str, Any] = {}  # call id -> the runner of the deployed app that started it
_runners: list[Any] = []  # every deployed app's runner this process looked up


def remember_runner(runner: Any) -> None:
    with _lock:
        _runners.append(runner)


def remember_call(call_id: str, runner: Any) -> None:
    with _lock:
        _calls[call_id] = runner


def runner_for_call(call_id: str) -> Any:
    """The runner of the deployed app holding ``call_id``: one this process spawned the call on, else
    the first looked-up app whose call table has it (``FunctionCall.from_id`` in another process).
    None when this process looked up no deployed app that knows it."""
    with _lock:
        known, runners = _calls.get(call_id), list(_runners)
    if known is not None:
        return known
    for runner in runners:
        if holds_call(runner, call_id):
            remember_call(call_id, runner)
            return runner
    return None


def holds_call(runner: Any, call_id: str) -> bool:
    """Whether the call table of ``runner``'s app has ``call_id``.  A table gone with its stack (a
    destroyed app looked up earlier), or not readable, does not have it: the next app is asked."""
    import botocore.exceptions

    try:
        return runner.transport.store.get(call_id) is not None
    except botocore.exceptions.ClientError as exc:
        log.info("call table %s not searched for %s: %s", runner.transport.store.table, call_id, exc)
        return False
