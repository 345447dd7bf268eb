"""`App`: the registry that decorators write to.  Importing a user module yields one."""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Any, NoReturn

from runtime.environment import ContainerEnv
from toolkit.app_platform import AppPlatformMembers, refuse_app_options
from toolkit.cls import Cls, ExposedMethod, collect_parameters
from toolkit.exception import InvalidError
from toolkit.functions import Function
from toolkit.image import Image
from toolkit.loaded import find_by_name, loaded_apps, remember
from toolkit.options import FunctionOptions, normalise
from toolkit.partial import PartialFunction, missing_parentheses
from toolkit.schedule import Schedule, check_schedule, scheduled_without_arguments
from toolkit.secret import Secret
from toolkit.spec import (
    ClsInfo,
    FunctionSpec,
    Retries,
    as_retries,
    as_secrets,
    check_resources,
    resolve_compute_target,
)
from toolkit.urls import slugify

_NO_MOUNTS: Mapping[Any, Any] = MappingProxyType({})  # an immutable default, unlike the platform's `{}`
# Locals of App.function/App.cls that are not options.
_NOT_OPTIONS = frozenset({"self", "_warn_parentheses_missing", "unknown", "name", "schedule"})


class App(AppPlatformMembers):
    """A named group of functions that deploy together.

    >>> app = toolkit.App("hello")
    >>> @app.function()
    ... def square(x: int) -> int: return x * x
    """

    def __init__(self, name: str | None = None, *, tags: Mapping[str, str] | None = None,
                 image: Image | None = None, secrets: Sequence[Secret] = (),
                 volumes: Mapping[str | PurePosixPath, Any] = _NO_MOUNTS, include_source: bool = True) -> None:
        if name is None:  # as the platform's `deploy --name`: an app without one deploys (and runs) as named
            name = os.environ.get(ContainerEnv.name("app_name")) or None
        refuse_app_options(name, volumes=volumes, include_source=include_source)
        if name is not None and (not isinstance(name, str) or not slugify(name)):
            raise InvalidError(f"App name {name!r} needs letters or digits, e.g. toolkit.App('my-app').")
        if image is not None and not isinstance(image, Image):
            raise InvalidError(f"App(image=...) must be a toolkit.Image, got {image!r}.")
        self.name = name
        self.image = image or Image.debian_slim()
        self.secrets = as_secrets(f"App {name!r}", secrets)
        self.registered_functions: dict[str, Function] = {}
        self.registered_classes: dict[str, Cls] = {}
        self.local_entrypoints: dict[str, Callable[..., Any]] = {}
        self._tags: dict[str, str] = {}
        self.set_tags(tags or {})  # App.get_tags/set_tags (toolkit.app_platform)
        remember(self)

    def __repr__(self) -> str:
        return f"<toolkit.App {self.name!r} with {len(self.registered_functions)} functions>"

    @staticmethod
    def _instances() -> list[App]:
        apps: list[App] = [app for app in loaded_apps() if isinstance(app, App)]
        return apps

    @property
    def app_name(self) -> str:
        # Apps without a name still need one for labels; the module defines it.
        return self.name or "app"

    @staticmethod
    def lookup(name: str, *, client: Any = None, environment_name: str | None = None,
               create_if_missing: bool = False) -> App:
        """The app called ``name``: loaded in this process, from a running ``toolkit serve`` of it on this
        machine, or deployed in the configured AWS region and environment (``environment_name``)
        (`toolkit.lookup`); else (``create_if_missing=True``) a new empty one, e.g. to own sandboxes.
        ``client`` is accepted and unused."""
        from toolkit.exception import NotFoundError

        try:
            found: App = find_by_name(name, environment_name)
            return found
        except NotFoundError as exc:
            if not create_if_missing:
                raise NotFoundError(f"{exc} Or call toolkit.App.lookup({name!r}, create_if_missing=True) for a "
                                    "new empty app.") from None
        return App(name)

    def function(
        self, _warn_parentheses_missing: Any = None, *,
        image: Image | None = None, gpu: str | list[str] | None = None,
        schedule: Any = None, env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None, serialized: bool = False,
        network_file_systems: Mapping[str | PurePosixPath, Any] = _NO_MOUNTS,
        volumes: Mapping[str | PurePosixPath, Any] = _NO_MOUNTS,
        cpu: float | tuple[float, float] | None = None, memory: int | tuple[int, int] | None = None,
        ephemeral_disk: int | None = None, min_containers: int | None = None,
        max_containers: int | None = None, buffer_containers: int | None = None,
        scaledown_window: int | None = None, proxy: Any = None, retries: int | Retries | None = None,
        timeout: int = 300, startup_timeout: int | None = None, name: str | None = None,
        is_generator: bool | None = None, cloud: str | None = None,
        region: str | Sequence[str] | None = None, routing_region: str | None = None,
        nonpreemptible: bool = False, enable_memory_snapshot: bool = False, block_network: bool = False,
        restrict_modal_access: bool = False, single_use_containers: bool = False, i6pn: bool | None = None,
        include_source: bool | None = None, experimental_options: dict[str, Any] | None = None,
        _experimental_restrict_output: bool = False, max_inputs: int | None = None,
        backend: str = "auto", **unknown: NoReturn,
    ) -> Callable[[Any], Function]:
        """Register a function (the hosted platform's options, plus ``backend``: "auto"|"lambda"|"ecs"|"gpu").

        What each option means on toolkit, and which ones have no effect here: `toolkit.options`.
        """
        missing_parentheses("app.function", _warn_parentheses_missing)
        given = {k: v for k, v in locals().items() if k not in _NOT_OPTIONS}
        checked_schedule = check_schedule("app.function", schedule)
        opts = normalise("app.function", given, unknown)

        def wrapper(target: Any) -> Function:
            if isinstance(target, Function):
                raise InvalidError(f"{target.spec.tag!r} is decorated with @app.function twice; keep one.")
            if inspect.isclass(target):
                raise InvalidError(f"@app.function is for functions; decorate class {target.__name__!r} "
                                   "with @app.cls() instead.")
            partial = target if isinstance(target, PartialFunction) else PartialFunction(target)
            if partial.flags:
                raise InvalidError(f"@toolkit.{sorted(partial.flags)[0]}() is for methods of an @app.cls class, "
                                   f"not for the function {partial.name!r}.")
            tag = name or partial.raw_f.__name__
            spec = self._spec(tag, partial, opts, None, scheduled_without_arguments(tag, partial.raw_f,
                                                                                    checked_schedule))
            return self._register(Function(spec))

        return wrapper

    def cls(
        self, _warn_parentheses_missing: Any = None, *,
        image: Image | None = None, gpu: str | list[str] | None = None,
        env: dict[str, str | None] | None = None, secrets: Collection[Secret] | None = None,
        serialized: bool = False, network_file_systems: Mapping[str | PurePosixPath, Any] = _NO_MOUNTS,
        volumes: Mapping[str | PurePosixPath, Any] = _NO_MOUNTS,
        cpu: float | tuple[float, float] | None = None, memory: int | tuple[int, int] | None = None,
        ephemeral_disk: int | None = None, min_containers: int | None = None,
        max_containers: int | None = None, buffer_containers: int | None = None,
        scaledown_window: int | None = None, proxy: Any = None, retries: int | Retries | None = None,
        timeout: int = 300, startup_timeout: int | None = None, cloud: str | None = None,
        region: str | Sequence[str] | None = None, routing_region: str | None = None,
        nonpreemptible: bool = False, enable_memory_snapshot: bool = False, block_network: bool = False,
        restrict_modal_access: bool = False, single_use_containers: bool = False, i6pn: bool | None = None,
        include_source: bool | None = None, experimental_options: dict[str, Any] | None = None,
        _experimental_restrict_output: bool = False, max_inputs: int | None = None,
        backend: str = "auto", **unknown: NoReturn,
    ) -> Callable[[type], Cls]:
        """Register a class; its ``@toolkit.method()`` and web methods become functions ``Class.method``.

        Options as for `function` (less ``schedule``, ``name`` and ``is_generator``).
        """
        missing_parentheses("app.cls", _warn_parentheses_missing)
        opts = normalise("app.cls", {k: v for k, v in locals().items() if k not in _NOT_OPTIONS}, unknown)

        def wrapper(user_cls: Any) -> Cls:
            if not inspect.isclass(user_cls):
                raise InvalidError(f"@app.cls decorates classes; for the function {user_cls!r} use @app.function().")
            return self._register_cls(user_cls, opts)

        return wrapper

    @contextlib.contextmanager
    def run(self, *, name: str | None = None, client: Any = None, detach: bool = False,
            interactive: bool = False, environment_name: str | None = None) -> Iterator[App]:
        """Run the app for the block, as ``toolkit run`` does: its web endpoints are served (a local
        ``toolkit serve`` of its source, stopped at the end) and ``get_web_url()`` names them; calls
        work inside the block and, on toolkit, outside it too.  The other keywords are accepted and unused."""
        from toolkit.ephemeral import serving
        from toolkit.images.local_env import use_for_app
        from toolkit.progress import Display

        use_for_app(self, None, Display.choose(prefix="toolkit: "))  # its workers start in their images
        with serving(self):
            yield self

    def local_entrypoint(self, _warn_parentheses_missing: Any = None, *,
                         name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Mark a function that ``toolkit run`` calls in this process (its parameters become CLI options)."""
        missing_parentheses("app.local_entrypoint", _warn_parentheses_missing)

        def wrapper(f: Callable[..., Any]) -> Callable[..., Any]:
            self.local_entrypoints[name or f.__name__] = f
            return f

        return wrapper

    def _register(self, function: Function) -> Function:
        tag = function.spec.tag
        if tag in self.registered_functions:
            raise InvalidError(f"App {self.app_name!r} already has a function {tag!r}; pass name='...' to one of them.")
        self.registered_functions[tag] = function
        return function

    def _register_cls(self, user_cls: type, opts: FunctionOptions) -> Cls:
        members = {k: v for k, v in vars(user_cls).items() if isinstance(v, PartialFunction)}
        hooks = {flag: tuple(k for k, v in members.items() if flag in v.flags) for flag in ("enter", "exit")}
        # @enter(snap=True) hooks first, as on the platform (stable: each group keeps definition order)
        hooks["enter"] = tuple(sorted(hooks["enter"], key=lambda k: "snap" not in members[k].flags))
        snapped = tuple(k for k in hooks["enter"] if "snap" in members[k].flags)
        info = ClsInfo(user_cls.__name__, user_cls, collect_parameters(user_cls), hooks["enter"], hooks["exit"],
                       snapped)
        max_inputs, target_inputs = getattr(user_cls, "__toolkit_concurrent__", (None, None))
        methods: dict[str, Function] = {}
        for attr, partial in members.items():
            setattr(user_cls, attr, partial.raw_f)  # hooks and helpers stay plain functions
            if partial.web is None and "method" not in partial.flags and partial.batch is None:
                continue
            if partial.max_inputs is None and max_inputs is not None:
                partial = replace(partial, max_inputs=max_inputs, target_inputs=target_inputs)
            spec = self._spec(f"{info.name}.{attr}", partial, opts, info)
            methods[attr] = self._register(Function(spec))
            # ``self.<attr>(...)``/``.local``/``.remote`` inside the class (workers bind the plain function)
            setattr(user_cls, attr, ExposedMethod(partial.raw_f, methods[attr]))
        _check_batched_class(info.name, members, max_inputs)
        if not methods:
            raise InvalidError(f"@app.cls class {info.name!r} exposes no methods; mark them with @toolkit.method() "
                               "or a web decorator such as @toolkit.fastapi_endpoint().")
        cls = Cls(info, methods)
        self.registered_classes[info.name] = cls
        return cls

    def _spec(self, tag: str, partial: PartialFunction, opts: FunctionOptions, info: ClsInfo | None,
              schedule: Schedule | None = None) -> FunctionSpec:
        f = partial.raw_f
        where = f"{self.app_name}.{tag}"
        check_resources(where, gpu=opts.gpu, cpu=opts.cpu, memory=opts.memory, timeout=opts.timeout,
                        min_containers=opts.min_containers, max_containers=opts.max_containers)
        target = resolve_compute_target(where, opts.backend, opts.gpu, partial.web, opts.timeout)
        if partial.max_inputs is None and partial.target_inputs is not None:
            raise InvalidError(
                f"{where}: @toolkit.concurrent(target_inputs={partial.target_inputs}) needs max_inputs too, e.g. "
                f"@toolkit.concurrent(max_inputs={partial.target_inputs}, target_inputs={partial.target_inputs}); "
                "target_inputs alone is only for a toolkit.experimental.http_server class.")
        module = sys.modules.get(f.__module__)
        return FunctionSpec(
            app_name=self.app_name, tag=tag, name=f.__name__, raw_f=f, module=f.__module__,
            source_file=getattr(module, "__file__", None),
            is_async=inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f),
            is_generator=_declared_generator(partial, opts.is_generator, f),
            cls=info, web=partial.web, image=opts.image or self.image, gpu=opts.gpu, cpu=opts.cpu,
            memory=opts.memory, ephemeral_disk=opts.ephemeral_disk, timeout=opts.timeout,
            secrets=tuple(self.secrets) + as_secrets(where, opts.secrets),
            min_containers=opts.min_containers, max_containers=opts.max_containers,
            buffer_containers=opts.buffer_containers, scaledown_window=opts.scaledown_window,
            retries=as_retries(where, opts.retries), backend=target,
            max_inputs=partial.max_inputs or 1, target_inputs=partial.target_inputs, schedule=schedule,
            batch=partial.batch, inputs_per_container=opts.inputs_per_container, regions=opts.regions,
            volumes=opts.volumes, bucket_mounts=opts.bucket_mounts, proxy=opts.proxy,
            memory_snapshot=opts.memory_snapshot,
        )


def _check_batched_class(name: str, members: Mapping[str, PartialFunction], max_inputs: int | None) -> None:
    # As on the hosted platform: a batched method owns its class's workers, whose inputs it collects.
    batched = [k for k, v in members.items() if v.batch is not None]
    if not batched:
        return
    others = [k for k, v in members.items() if v.batch is None and (v.web is not None or "method" in v.flags)]
    if others or len(batched) > 1:
        raise InvalidError(f"@app.cls class {name!r} has the @toolkit.batched method {batched[0]!r} and other "
                           f"methods ({', '.join([*batched[1:], *others])}); a class with a batched method can "
                           "have no other methods: move them to another class.")
    if max_inputs is not None:
        raise InvalidError(f"@app.cls class {name!r} is @toolkit.concurrent and has the @toolkit.batched method "
                           f"{batched[0]!r}; keep one of the two.")


def _declared_generator(partial: PartialFunction, option: bool | None, f: Callable[..., Any]) -> bool:
    """@method(is_generator=...), else @app.function(is_generator=...), else what ``f`` is."""
    if partial.flags & {"generator", "not_generator"}:
        return "generator" in partial.flags
    return _is_generator(f) if option is None else option


def _is_generator(f: Callable[..., Any]) -> bool:
    return inspect.isgeneratorfunction(f) or inspect.isasyncgenfunction(f)
