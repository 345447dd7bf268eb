"""`Function`: the handle users call ``.remote()``, ``.spawn()``, ``.map()`` ... on.

A handle is a `FunctionSpec` plus, for methods of parametrized classes, the parameter values
it is bound to.  Where a call runs is the runner's business (`toolkit.runner`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import urlencode

from runtime.params import Params
from toolkit import config, urls
from toolkit.aio import aio_iter_method, aio_method
from toolkit.calls import FunctionCall
from toolkit.deployed_code import bound_runner
from toolkit.exception import InvalidError, NotFoundError, NotSupportedError
from toolkit.function_admin import FunctionAdmin, parse_function_id
from toolkit.loaded import find_by_name, served_origin
from toolkit.partial import Decorated
from toolkit.spec import FunctionSpec

if TYPE_CHECKING:
    from toolkit.secret import Secret
    from toolkit.spec import Retries


class Function(FunctionAdmin, Decorated):
    """What ``@app.function`` returns: call it (``.remote``/``.spawn``/``.map``...), and ask it about
    itself and its workers (`toolkit.function_admin`)."""

    # Typed for toolkit's own code; at run time (*args, **kwargs), the platform's constructor signature,
    # and a program that calls it directly is told where functions come from.
    @overload
    def __init__(self, spec: FunctionSpec) -> None: ...
    @overload
    def __init__(self, spec: FunctionSpec, params: Params) -> None: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        spec, params = handle_arguments("Function", FunctionSpec, ("spec", "params"), args, kwargs,
                                        "@app.function, Function.from_name(app_name, name) or Function.from_id(id)")
        self.spec: FunctionSpec = spec
        self.params: Params = params if params is not None else ()

    def __repr__(self) -> str:
        bound = f" bound to {dict(self.params)}" if self.params else ""
        return f"<toolkit.Function {self.spec.app_name}.{self.spec.tag}{bound}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.local(*args, **kwargs)

    @property
    def tag(self) -> str:
        return self.spec.tag

    def local(self, *args: Any, **kwargs: Any) -> Any:
        """Run in this process, right now (a class's @enter hooks run first, once per instance)."""
        if self.spec.cls is None:
            return self.spec.raw_f(*args, **kwargs)
        from toolkit.instances import bound_method, local_instance

        return bound_method(local_instance(self.spec.cls, self.params), self.spec.name)(*args, **kwargs)

    def _runner(self) -> Any:
        return runner(self)

    def _check_callable(self, how: str, generator: bool = False) -> None:
        if self.spec.web is not None:
            raise InvalidError(
                f"{self.spec.tag!r} is a web endpoint (@toolkit.{self.spec.kind}); .{how}() is not available. "
                f"Send it HTTP requests at its URL (toolkit serve prints it; {self.spec.name}.get_web_url()), "
                f"or call .local() to run the Python function here."
            )
        if generator and not self.spec.is_generator:
            raise InvalidError(f"{self.spec.tag!r} is not a generator; use .remote() instead of .{how}().")
        if not generator and self.spec.is_generator:
            raise InvalidError(f"{self.spec.tag!r} is a generator function; use .remote_gen() instead of .{how}().")

    # Class-level descriptors (`toolkit.aio.aio_method`): ``fn.remote(x)``, ``await fn.remote.aio(x)``,
    # and ``toolkit.Function.remote`` resolves on the class, as on the hosted client.
    @aio_method
    def remote(self, *args: Any, **kwargs: Any) -> Any:
        """Run in a worker and wait for the result."""
        self._check_callable("remote")
        return runner(self).call(self, args, kwargs)

    @aio_method
    def spawn(self, *args: Any, **kwargs: Any) -> FunctionCall:
        """Start in a worker; ``.get()`` on the returned `FunctionCall` waits (from any process, by its id)."""
        self._check_callable("spawn")
        return FunctionCall.from_id(runner(self).spawn(self, args, kwargs))

    @aio_iter_method
    def remote_gen(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Run a generator function in a worker, yielding its values as they come."""
        self._check_callable("remote_gen", generator=True)
        values: Iterator[Any] = runner(self).remote_gen(self, args, kwargs)
        return values

    @aio_iter_method
    def map(self, *iterables: Iterable[Any], kwargs: dict[str, Any] | None = None, order_outputs: bool = True,
            return_exceptions: bool = False, wrap_returned_exceptions: bool | None = None) -> Iterator[Any]:
        """Run the function over the zipped iterables, yielding results (in input order by default).
        ``wrap_returned_exceptions`` has no effect, as on the platform (which deprecated it): with
        ``return_exceptions=True`` the exceptions come back as themselves."""
        if not iterables:
            raise InvalidError(f"{self.spec.tag}.map() needs at least one iterable, e.g. .map(range(10)).")
        _warn_wrap("map", wrap_returned_exceptions)
        return self._starmap(zip(*iterables, strict=False), kwargs=kwargs, order_outputs=order_outputs,
                             return_exceptions=return_exceptions)

    @aio_iter_method
    def starmap(self, input_iterator: Iterable[Iterable[Any]], *, kwargs: dict[str, Any] | None = None,
                order_outputs: bool = True, return_exceptions: bool = False,
                wrap_returned_exceptions: bool | None = None) -> Iterator[Any]:
        """``.map`` over argument tuples: ``fn.starmap([(1, 2), (3, 4)])`` calls ``fn(1, 2)`` and ``fn(3, 4)``."""
        _warn_wrap("starmap", wrap_returned_exceptions)
        return self._starmap(input_iterator, kwargs=kwargs, order_outputs=order_outputs,
                             return_exceptions=return_exceptions)

    def _starmap(self, iterable: Iterable[Iterable[Any]], *, kwargs: dict[str, Any] | None = None,
                 order_outputs: bool = True, return_exceptions: bool = False) -> Iterator[Any]:
        self._check_callable("map")
        results: Iterator[Any] = runner(self).map(self, (tuple(a) for a in iterable), kwargs or {}, order_outputs,
                                                  return_exceptions)
        return results

    # -- variants (`toolkit.variants`): the same code with other options, in a pool of its own locally --
    def with_options(
        self, *, cpu: float | tuple[float, float] | None = None, memory: int | tuple[int, int] | None = None,
        gpu: str | list[str] | None = None, env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None, volumes: Mapping[str | PurePosixPath, Any] | None = None,
        retries: int | Retries | None = None, max_containers: int | None = None,
        buffer_containers: int | None = None, scaledown_window: int | None = None, timeout: int | None = None,
        region: str | Sequence[str] | None = None, cloud: str | None = None, routing_region: str | None = None,
        min_containers: int | None = None,
    ) -> Function:
        """This function with other options (None keeps the function's); ``secrets``/``env`` replace its secrets."""
        from toolkit import variants

        given = {k: v for k, v in locals().items() if k not in ("self", "variants")}
        return Function(variants.with_options(self.spec, given), self.params)

    def with_concurrency(self, *, max_inputs: int, target_inputs: int | None = None) -> Function:
        """This function taking up to ``max_inputs`` inputs at once per worker, as ``@toolkit.concurrent``."""
        from toolkit import variants

        return Function(variants.with_concurrency(self.spec, max_inputs, target_inputs), self.params)

    def with_batching(self, *, max_batch_size: int, wait_ms: int) -> Function:
        """This function batched with these sizes, as ``@toolkit.batched`` (it must take and return lists)."""
        from toolkit import variants

        return Function(variants.with_batching(self.spec, max_batch_size, wait_ms), self.params)

    def host_label(self, ephemeral: bool | None = None) -> str | None:
        """This endpoint's DNS label, ``<workspace>[-<env>]--<label>[-dev]``; None for plain functions."""
        web = self.spec.web
        if web is None:
            return None
        label = web.label or urls.default_label(self.spec.app_name, self.spec.tag)
        serving = ephemeral if ephemeral is not None else bool(config.setting_env("TOOLKIT_SERVE_ORIGIN"))
        return urls.host_label(label, workspace=config.setting("workspace") or "default",
                               environment=config.setting("environment"), ephemeral=serving)

    def get_web_url(self) -> str | None:
        """The endpoint's URL: the local one under ``toolkit serve`` (or of the serve a lookup found it in),
        else the deployed one (None if unknown)."""
        if self.spec.web is None:
            return None
        deployed = getattr(self.spec.raw_f, "url", None) if bound_runner(self.spec.raw_f) else None
        if deployed:  # looked up from a deployed app: the URL its deploy recorded
            return str(deployed)
        origin = config.setting_env("TOOLKIT_SERVE_ORIGIN")  # e.g. "http://localhost:8000", set by toolkit serve
        if not origin:
            origin = served_origin(self.spec.app_name)
        host = self.host_label(ephemeral=True if origin else None)
        if host is None:
            return None
        if origin:
            scheme, _, rest = origin.partition("://")
            url: str | None = f"{scheme}://{host}.{rest}"
        else:
            url = urls.web_url(host)
        if url and self.params and self.spec.cls is not None:
            defaults = {name: default for name, _t, default in self.spec.cls.parameters}
            changed = {k: v for k, v in self.params if defaults.get(k) != v}
            url += ("?" + urlencode(changed)) if changed else ""
        return url

    @staticmethod
    def from_name(app_name: str, name: str, *, version: int | None = None, environment_name: str | None = None,
                  client: Any = None) -> Function:
        """A function of the app called ``app_name``, by tag: loaded in this process, from a running
        ``toolkit serve`` of it on this machine, or deployed in the configured AWS region and environment
        (``environment_name``) (`toolkit.lookup`).  ``client`` is accepted and unused."""
        refuse_version("Function", app_name, name, version)
        app = find_by_name(app_name, environment_name)
        if name not in app.registered_functions:
            known = ", ".join(sorted(app.registered_functions)) or "none"
            raise NotFoundError(f"App {app_name!r} has no function {name!r}; its functions are: {known}.")
        function: Function = app.registered_functions[name]
        return function

    @staticmethod
    def from_id(function_id: str, *, client: Any = None) -> Function:
        """The function whose ``object_id`` is ``function_id`` (``fu-<app>:<tag>``), found as ``from_name``
        finds it.  ``client`` is accepted and unused."""
        app_name, tag = parse_function_id(function_id)
        return Function.from_name(app_name, tag)


def runner(fn: Function | None = None) -> Any:
    """The runner ``fn`` is called through: its deployed app's when it was looked up there, else this process's."""
    bound = bound_runner(fn.spec.raw_f) if fn is not None else None
    if bound is not None:
        return bound
    from toolkit.runner import current_runner

    return current_runner()


def refuse_version(kind: str, app_name: str, name: str, version: int | None) -> None:
    """``from_name(version=N)``: toolkit keeps no deployment versions to pick from."""
    if version is not None:
        raise NotSupportedError(
            f"{kind}.from_name({app_name!r}, {name!r}, version={version!r}) is not supported by toolkit: it keeps "
            "no earlier versions of a deployed app. Instead, omit version= to get the current one (roll back "
            "by deploying the older code)."
        )


def _warn_wrap(how: str, wrap_returned_exceptions: bool | None) -> None:
    if wrap_returned_exceptions is not None:
        import warnings

        warnings.warn(f"Function.{how}(wrap_returned_exceptions=...) has no effect and can be removed (the platform "
                      "deprecated it): with return_exceptions=True, exceptions are returned as themselves.",
                      DeprecationWarning, stacklevel=4)  # the caller of fn.map(), through Aio


def handle_arguments(kind: str, expected: type, names: tuple[str, str], args: tuple[Any, ...],
                     kwargs: dict[str, Any], origins: str) -> tuple[Any, Any]:
    """(first, second or None) of a handle's constructor as toolkit calls it; for any other call a refusal
    naming where such handles come from (a program written for the platform never constructs one)."""
    values = dict(zip(names, args, strict=False)) | kwargs
    if len(args) <= 2 and set(values) <= set(names) and isinstance(values.get(names[0]), expected):
        return values[names[0]], values.get(names[1])
    raise InvalidError(f"toolkit.{kind}(...) is not constructed directly: a {kind} comes from {origins}.")
