"""Classes as functions: ``@app.cls`` with ``toolkit.parameter()`` fields and lifecycle hooks.

``Model(size=3).predict.remote(x)`` runs ``predict`` in a worker that built ``Model`` with
``size=3`` and ran its ``@toolkit.enter`` hooks once.  Each distinct set of parameter values
gets its own pool of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, overload

from runtime import params as codec
from runtime.params import Params
from toolkit.aio import aio_method
from toolkit.exception import InvalidError, NotFoundError
from toolkit.functions import Function, handle_arguments, refuse_version
from toolkit.handles import Clientless
from toolkit.instances import bind_parameters, parameters_of
from toolkit.loaded import find_by_name
from toolkit.spec import ClsInfo

if TYPE_CHECKING:
    from toolkit.secret import Secret
    from toolkit.spec import Retries

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


class ExposedMethod:
    """What an exposed method (``@toolkit.method()``, a web decorator) becomes on the user's class.

    Inside the class, ``self.other(x)`` and ``self.other.local(x)`` run the method here on this
    instance; ``self.other.remote(x)`` (``.spawn``, ``.map``, ``.aio``...) sends it to a worker built
    with this instance's parameter values, as on the hosted platform.  Read on the class itself it is
    the plain function, so introspection of the class keeps seeing what the user wrote.
    """

    def __init__(self, raw_f: Callable[..., Any], function: Function) -> None:
        self.raw_f, self.function = raw_f, function

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self.raw_f
        return BoundMethod(obj, self.raw_f, self.function)


class BoundMethod:
    """``self.other`` inside an ``@app.cls`` method (see `ExposedMethod`)."""

    def __init__(self, obj: Any, raw_f: Callable[..., Any], function: Function) -> None:
        self._obj, self._function = obj, function
        self.__wrapped__ = raw_f.__get__(obj, type(obj))  # inspect.signature shows the method's, without self
        self.__name__, self.__doc__ = raw_f.__name__, raw_f.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__(*args, **kwargs)

    def local(self, *args: Any, **kwargs: Any) -> Any:
        """Run the method here, on this instance (its @enter hooks have run already)."""
        return self.__wrapped__(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # remote, spawn, map, starmap, remote_gen, get_web_url: a handle bound to this instance's values
        if name.startswith("_"):
            raise AttributeError(name)
        spec = self._function.spec
        assert spec.cls is not None  # an ExposedMethod is only made for class methods
        return getattr(Function(spec, parameters_of(spec.cls, self._obj)), name)

    def __repr__(self) -> str:
        return f"<bound toolkit method {self._function.spec.tag} of {self._obj!r}>"


class Obj:
    """An instance of an ``@app.cls`` class bound to parameter values; its methods are Functions."""

    def __init__(self, cls: Cls, params: Params) -> None:
        self._cls, self._params = cls, params

    def __getattr__(self, name: str) -> Function:
        return Function(self._cls._method(name).spec, self._params)

    def __repr__(self) -> str:
        return f"<{self._cls.info.name}({', '.join(f'{k}={v!r}' for k, v in self._params)})>"


class Cls(Clientless):
    """What ``@app.cls`` returns.  Call it with parameter values to get an `Obj`."""

    # Typed for toolkit's own code; at run time (*args, **kwargs), as `Function`'s constructor.
    @overload
    def __init__(self, info: ClsInfo, methods: dict[str, Function]) -> None: ...
    @overload
    def __init__(self, info: ClsInfo, *, methods: dict[str, Function]) -> None: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        origins = "@app.cls or Cls.from_name(app_name, name)"
        info, methods = handle_arguments("Cls", ClsInfo, ("info", "methods"), args, kwargs, origins)
        if not isinstance(methods, dict):
            raise InvalidError(f"toolkit.Cls(...) is not constructed directly: a Cls comes from {origins}.")
        self.info: ClsInfo = info
        self.methods: dict[str, Function] = methods

    def __call__(self, **kwargs: Any) -> Obj:
        return Obj(self, bind_parameters(self.info, kwargs))

    @staticmethod
    def from_name(app_name: str, name: str, *, version: int | None = None, environment_name: str | None = None,
                  client: Any = None) -> Cls:
        """The class ``name`` of the app called ``app_name``: loaded in this process, from a running
        ``toolkit serve`` of it on this machine, or deployed in the configured AWS region and environment
        (``environment_name``) (`toolkit.lookup`).  ``client`` is accepted and unused."""
        refuse_version("Cls", app_name, name, version)
        app = find_by_name(app_name, environment_name)
        if name not in app.registered_classes:
            known = ", ".join(sorted(app.registered_classes)) or "none"
            raise NotFoundError(f"App {app_name!r} has no class {name!r}; its classes are: {known}.")
        cls: Cls = app.registered_classes[name]
        return cls

    # -- identity (as `toolkit.function_admin` gives functions) ------------------------------------
    @property
    def object_id(self) -> str:
        """``cs-<app>:<class>``: stable (toolkit names classes, it issues no ids)."""
        app_name = next(iter(self.methods.values())).spec.app_name if self.methods else ""
        return f"cs-{app_name}:{self.info.name}"

    @aio_method
    def hydrate(self, client: Any = None) -> Cls:
        """Returns the class: a handle already knows everything it needs."""
        return self

    @aio_method  # awaited as .aio() in async callers, like every platform call
    def _experimental_get_flash_urls(self) -> list[str]:
        """The URLs of a ``toolkit.experimental.http_server`` class (the platform gives one per proxy
        region): toolkit serves the class at one, its ``serve`` web_server's (`toolkit.servers`)."""
        from toolkit.servers import SERVE

        serve = self.methods.get(SERVE)
        if serve is None or serve.spec.web is None:
            raise InvalidError(f"{self.info.name} is not an HTTP server class: decorate it with "
                               "@toolkit.experimental.http_server(port=...) below @app.cls(...).")
        url = serve.get_web_url()
        return [url] if url else []

    @aio_method
    def get_dashboard_url(self) -> str:
        """The local serve dashboard of the class's app (``#class=<name>``), as `Function.get_dashboard_url`;
        deployed, the AWS console page of its first method."""
        if not self.methods:
            raise NotFoundError(f"{self.info.name} exposes no methods, so it has no dashboard page.")
        first = next(iter(self.methods.values()))
        url: str = first.get_dashboard_url()  # the local page, the console page, or the error naming the fix
        return url.replace(f"#function={first.spec.tag}", f"#class={self.info.name}")

    def _variant(self, make: Callable[[Function], Function]) -> Cls:
        return Cls(self.info, {name: make(method) for name, method in self.methods.items()})

    def with_options(
        self, *, cpu: float | tuple[float, float] | None = None, memory: int | tuple[int, int] | None = None,
        gpu: str | list[str] | None = None, env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None, volumes: Mapping[str | PurePosixPath, Any] | None = None,
        retries: int | Retries | None = None, max_containers: int | None = None,
        buffer_containers: int | None = None, scaledown_window: int | None = None, timeout: int | None = None,
        region: str | Sequence[str] | None = None, cloud: str | None = None, routing_region: str | None = None,
        min_containers: int | None = None,
    ) -> Cls:
        """The class with other options for all its methods (as `Function.with_options`)."""
        options = {k: v for k, v in locals().items() if k != "self"}
        return self._variant(lambda method: method.with_options(**options))

    def with_concurrency(self, *, max_inputs: int, target_inputs: int | None = None) -> Cls:
        """The class taking up to ``max_inputs`` inputs at once per worker, as ``@toolkit.concurrent``."""
        return self._variant(lambda method: method.with_concurrency(max_inputs=max_inputs,
                                                                     target_inputs=target_inputs))

    def with_batching(self, *, max_batch_size: int, wait_ms: int) -> Cls:
        """The class's method batched with these sizes, as ``@toolkit.batched``."""
        return self._variant(lambda method: method.with_batching(max_batch_size=max_batch_size, wait_ms=wait_ms))

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
