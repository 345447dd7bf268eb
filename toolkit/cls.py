"""Classes as functions: ``@app.cls`` with ``toolkit.parameter()`` fields and lifecycle hooks.

``Model(size=3).predict.remote(x)`` runs ``predict`` in a worker that built ``Model`` with
``size=3`` and ran its ``@toolkit.enter`` hooks once.  Each distinct set of parameter values
gets its own pool of workers.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from runtime import params as codec
from runtime.params import Params
from toolkit.exception import InvalidError
from toolkit.functions import Function
from toolkit.spec import ClsInfo

PARAMETER_TYPES = codec.TYPE_NAMES
_MISSING = object()


class _Parameter:
    """Marker left on the class body by ``toolkit.parameter()``."""

    def __init__(self, default: Any = _MISSING, init: bool = True) -> None:
        self.default, self.init = default, init

    def __repr__(self) -> str:
        return "toolkit.parameter()" if self.default is _MISSING else f"toolkit.parameter(default={self.default!r})"


def parameter(*, default: Any = _MISSING, init: bool = True) -> Any:
    """A class field set from the caller (``Model(size=3)``) or from the URL's query string."""
    return _Parameter(default, init)


def collect_parameters(user_cls: type) -> tuple[tuple[str, str, Any], ...]:
    hints = getattr(user_cls, "__annotations__", {})
    found = []
    for name, value in vars(user_cls).items():
        if not isinstance(value, _Parameter):
            continue
        annotation = hints.get(name)
        if isinstance(annotation, str):  # from __future__ import annotations
            annotation = {v: k for k, v in PARAMETER_TYPES.items()}.get(annotation, annotation)
        if annotation not in PARAMETER_TYPES:
            raise InvalidError(
                f"{user_cls.__name__}.{name}: parameters need a type annotation of int, str, bool or bytes "
                f"(e.g. '{name}: str = toolkit.parameter()'), got {annotation!r}."
            )
        if value.default is not _MISSING and type(value.default) is not annotation:
            raise InvalidError(
                f"{user_cls.__name__}.{name}: default {value.default!r} is not a {PARAMETER_TYPES[annotation]}."
            )
        found.append((name, PARAMETER_TYPES[annotation], None if value.default is _MISSING else value.default))
    return tuple(found)


def bind_parameters(info: ClsInfo, kwargs: Mapping[str, Any]) -> Params:
    """Validate constructor keyword arguments against the declared parameters; fill defaults."""
    try:
        return codec.bind(info.name, info.parameters, kwargs)
    except codec.ParameterError as exc:
        raise InvalidError(str(exc)) from None


def instantiate(info: ClsInfo, params: Params) -> Any:
    """Build the user's object the way a worker does: set parameters, then run @enter hooks."""
    obj: Any = object.__new__(info.user_cls)
    for name, value in params:
        setattr(obj, name, value)
    for hook in info.enter_methods:
        getattr(obj, hook)()
    return obj


_local_instances: dict[tuple[type, Params], Any] = {}
_local_lock = threading.Lock()


def local_instance(info: ClsInfo, params: Params) -> Any:
    """The object ``.local()`` calls use: built once per class and parameter values."""
    with _local_lock:
        key = (info.user_cls, params)
        if key not in _local_instances:
            _local_instances[key] = instantiate(info, params)
        return _local_instances[key]


class Obj:
    """An instance of an ``@app.cls`` class bound to parameter values; its methods are Functions."""

    def __init__(self, cls: Cls, params: Params) -> None:
        self._cls, self._params = cls, params

    def __getattr__(self, name: str) -> Function:
        return Function(self._cls._method(name).spec, self._params)

    def __repr__(self) -> str:
        return f"<{self._cls.info.name}({', '.join(f'{k}={v!r}' for k, v in self._params)})>"


class Cls:
    """What ``@app.cls`` returns.  Call it with parameter values to get an `Obj`."""

    def __init__(self, info: ClsInfo, methods: dict[str, Function]) -> None:
        self.info, self.methods = info, methods

    def __call__(self, **kwargs: Any) -> Obj:
        return Obj(self, bind_parameters(self.info, kwargs))

    def _method(self, name: str) -> Function:
        if name not in self.methods:
            known = ", ".join(self.methods) or "none"
            raise AttributeError(f"{self.info.name} has no method {name!r} exposed with @toolkit.method() or a "
                                 f"web decorator; exposed: {known}")
        return self.methods[name]

    def __getattr__(self, name: str) -> Function:
        # ``Server.files`` without calling the class: bound to the default parameter values.
        if name.startswith("__"):
            raise AttributeError(name)
        method = self._method(name)
        defaults = {name: default for name, _t, default in self.info.parameters}
        return Function(method.spec, bind_parameters(self.info, {k: v for k, v in defaults.items() if v is not None}))
