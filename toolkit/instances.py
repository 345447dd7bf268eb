"""Instances of ``@app.cls`` classes, built the way a worker builds them.

Parameters are bound (checked, defaults filled) and set on a bare object, then ``@toolkit.enter``
hooks run.  Kept apart from `toolkit.cls` (the user-facing handles) so that `toolkit.functions`
can build the instance ``.local()`` runs on without importing the module that builds on it.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from runtime import params as codec
from runtime.instances import build_instance, call_hook
from runtime.params import Params
from toolkit.exception import InvalidError
from toolkit.spec import ClsInfo

__all__ = ["bind_parameters", "bound_method", "instantiate", "local_instance", "parameters_of", "run_exit_hooks"]


def bind_parameters(info: ClsInfo, kwargs: Mapping[str, Any]) -> Params:
    """Validate constructor keyword arguments against the declared parameters; fill defaults."""
    try:
        return codec.bind(info.name, info.parameters, kwargs)
    except codec.ParameterError as exc:
        raise InvalidError(str(exc)) from None


def instantiate(info: ClsInfo, params: Params) -> Any:
    """Build the user's object the way a worker does (`runtime.instances.build_instance`)."""
    return build_instance(info, params)


def bound_method(obj: Any, name: str) -> Callable[..., Any]:
    """The plain bound method ``name`` of a user object: what workers and adapters call and introspect
    (signature, type hints against the user's module, ``iscoroutinefunction``), never an `ExposedMethod`."""
    plain: Any = getattr(type(obj), name)  # an ExposedMethod read on the class is the plain function
    method: Callable[..., Any] = plain.__get__(obj, type(obj))
    return method


def run_exit_hooks(info: ClsInfo, obj: Any) -> None:
    """Run an instance's ``@toolkit.exit`` hooks as a stopping container does: every one, even after
    one raised (its traceback goes to stderr, the worker's log)."""
    for name in info.exit_methods:
        try:
            call_hook(bound_method(obj, name))
        except Exception:
            traceback.print_exc()


def parameters_of(info: ClsInfo, obj: Any) -> Params:
    """The parameter values an instance was built with (`instantiate` set them all)."""
    return tuple((name, getattr(obj, name)) for name, _type, _default in info.parameters)


_local_instances: dict[tuple[type, Params], Any] = {}
_local_lock = threading.Lock()


def local_instance(info: ClsInfo, params: Params) -> Any:
    """The object ``.local()`` calls use: built once per class and parameter values."""
    with _local_lock:
        key = (info.user_cls, params)
        if key not in _local_instances:
            _local_instances[key] = instantiate(info, params)
        return _local_instances[key]
