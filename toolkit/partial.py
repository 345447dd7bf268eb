"""Decorators that only record metadata: web kinds, concurrency, lifecycle hooks.

Each returns a `PartialFunction` that ``@app.function`` / ``@app.cls`` later turn into a
Function.  Nothing runs at decoration time; misuse fails here, with the fix in the message.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from toolkit.exception import InvalidError
from toolkit.urls import validate_domain, validate_user_label

WEB_KINDS = ("fastapi_endpoint", "asgi_app", "wsgi_app", "web_server")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

T = TypeVar("T")


@dataclass(frozen=True)
class WebConfig:
    kind: str
    method: str | None = None
    label: str | None = None
    docs: bool = False
    custom_domains: tuple[str, ...] = ()
    requires_proxy_auth: bool = False
    port: int | None = None
    startup_timeout: float | None = None


@dataclass(frozen=True)
class BatchConfig:
    """``@toolkit.batched(max_batch_size=, wait_ms=)``: a worker collects up to ``max_batch_size``
    inputs, waiting at most ``wait_ms`` after the first, and calls the function once with lists."""

    max_batch_size: int
    wait_ms: int


MAX_BATCH_SIZE = 1000  # the hosted platform's limits (exclusive)
MAX_BATCH_WAIT_MS = 10 * 60 * 1000


@dataclass(frozen=True)
class PartialFunction:
    """A user function plus what its decorators said about it."""

    raw_f: Callable[..., Any]
    web: WebConfig | None = None
    max_inputs: int | None = None
    target_inputs: int | None = None
    flags: frozenset[str] = field(default_factory=frozenset)  # "enter", "exit", "method", "snap", "generator", "not_generator"
    batch: BatchConfig | None = None  # @toolkit.batched

    @property
    def name(self) -> str:
        return getattr(self.raw_f, "__name__", repr(self.raw_f))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.raw_f(*args, **kwargs)


def missing_parentheses(decorator: str, value: object) -> None:
    if callable(value):
        raise InvalidError(
            f"@{decorator} was used without parentheses on {getattr(value, '__name__', value)!r}; "
            f"write @{decorator}() instead."
        )


class Decorated:
    """Base of what ``@app.function`` returns (`toolkit.functions.Function`).

    Defined here so that a web decorator stacked above ``@app.function`` is recognised without this
    module importing the one that builds on it.
    """

    spec: Any


def _as_partial(decorator: str, target: Any) -> PartialFunction:
    if isinstance(target, Decorated):
        raise InvalidError(
            f"@{decorator} is above @app.function on {target.spec.name!r}; decorators apply bottom-up, "
            f"so put @{decorator} directly on the function, below @app.function."
        )
    if isinstance(target, PartialFunction):
        return target
    if inspect.isclass(target) or not callable(target):
        raise InvalidError(f"@{decorator} applies to functions, not {target!r}.")
    return PartialFunction(target)


def _check_no_parameters(decorator: str, f: Callable[..., Any]) -> None:
    params = [p for p in inspect.signature(f).parameters.values() if p.name != "self"]
    if params:
        names = ", ".join(p.name for p in params)
        raise InvalidError(
            f"@{decorator} function {f.__name__!r} takes parameters ({names}); it must take none and "
            "return the app. To serve several configurations, use @app.cls with toolkit.parameter()."
        )
    if inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f):
        raise InvalidError(
            f"@{decorator} function {f.__name__!r} is async; make it a plain 'def' that "
            f"{'starts the server' if decorator == 'toolkit.web_server' else 'returns the app'} "
            "(the app's own handlers can be async)."
        )


def _web_common(label: str | None, custom_domains: Sequence[str] | None) -> dict[str, Any]:
    if isinstance(custom_domains, str):
        raise InvalidError(f"custom_domains takes a list of names, e.g. [{custom_domains!r}].")
    domains = tuple(validate_domain(d).name for d in (custom_domains or ()))
    return {"label": validate_user_label(label) if label is not None else None, "custom_domains": domains}


def _web_decorator(decorator: str, config: WebConfig, needs_no_params: bool) -> Callable[[Any], PartialFunction]:
    def wrapper(target: Any) -> PartialFunction:
        partial = _as_partial(decorator, target)
        if partial.web is not None:
            raise InvalidError(
                f"{partial.name!r} has two web decorators (@toolkit.{partial.web.kind} and @{decorator}); keep one."
            )
        if partial.batch is not None:
            raise InvalidError(f"{partial.name!r} is @toolkit.batched; a web endpoint cannot be batched. Batch a "
                               f"plain function and call it from the endpoint with .remote().")
        if needs_no_params:
            _check_no_parameters(decorator, partial.raw_f)
        return replace(partial, web=config)

    return wrapper


def fastapi_endpoint(
    _warn_parentheses_missing: Any = None, *, method: str = "GET", label: str | None = None,
    docs: bool = False, custom_domains: Sequence[str] | None = None, requires_proxy_auth: bool = False,
) -> Callable[[Any], PartialFunction]:
    """Serve a function as a FastAPI endpoint: query parameters and JSON bodies become arguments."""
    missing_parentheses("toolkit.fastapi_endpoint", _warn_parentheses_missing)
    verb = str(method).upper()
    if verb not in HTTP_METHODS:
        raise InvalidError(f"fastapi_endpoint(method={method!r}) is not an HTTP method; use one of {HTTP_METHODS}.")
    config = WebConfig("fastapi_endpoint", method=verb, docs=bool(docs), requires_proxy_auth=requires_proxy_auth,
                       **_web_common(label, custom_domains))
    return _web_decorator("toolkit.fastapi_endpoint", config, needs_no_params=False)


def asgi_app(
    _warn_parentheses_missing: Any = None, *, label: str | None = None,
    custom_domains: Sequence[str] | None = None, requires_proxy_auth: bool = False,
) -> Callable[[Any], PartialFunction]:
    """Serve the ASGI app (FastAPI, Starlette, ...) that the decorated function returns."""
    missing_parentheses("toolkit.asgi_app", _warn_parentheses_missing)
    config = WebConfig("asgi_app", requires_proxy_auth=requires_proxy_auth, **_web_common(label, custom_domains))
    return _web_decorator("toolkit.asgi_app", config, needs_no_params=True)


def wsgi_app(
    _warn_parentheses_missing: Any = None, *, label: str | None = None,
    custom_domains: Sequence[str] | None = None, requires_proxy_auth: bool = False,
) -> Callable[[Any], PartialFunction]:
    """Serve the WSGI app (Flask, Django, ...) that the decorated function returns."""
    missing_parentheses("toolkit.wsgi_app", _warn_parentheses_missing)
    config = WebConfig("wsgi_app", requires_proxy_auth=requires_proxy_auth, **_web_common(label, custom_domains))
    return _web_decorator("toolkit.wsgi_app", config, needs_no_params=True)


def web_server(
    port: int, *, startup_timeout: float = 5.0, label: str | None = None,
    custom_domains: Sequence[str] | None = None, requires_proxy_auth: bool = False,
) -> Callable[[Any], PartialFunction]:
    """Expose a server that the decorated function starts, listening on ``port`` (bind 0.0.0.0)."""
    missing_parentheses("toolkit.web_server", port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidError(f"web_server port {port!r} is not a TCP port; use an int from 1 to 65535, e.g. 8000.")
    if not isinstance(startup_timeout, (int, float)) or startup_timeout <= 0:
        raise InvalidError(f"web_server startup_timeout={startup_timeout!r} must be a positive number of seconds.")
    config = WebConfig("web_server", port=port, startup_timeout=float(startup_timeout),
                       requires_proxy_auth=requires_proxy_auth, **_web_common(label, custom_domains))
    return _web_decorator("toolkit.web_server", config, needs_no_params=True)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidError(f"concurrent({name}={value!r}) must be an int of at least 1.")
    return value


def concurrent(
    _warn_parentheses_missing: Any = None, *, max_inputs: int | None = None, target_inputs: int | None = None
) -> Callable[[T], T]:
    """Let one worker run up to ``max_inputs`` inputs at once (threads, or the event loop for async)."""
    if isinstance(_warn_parentheses_missing, int) and not isinstance(_warn_parentheses_missing, bool):
        max_inputs, _warn_parentheses_missing = _warn_parentheses_missing, None
    missing_parentheses("toolkit.concurrent", _warn_parentheses_missing)
    if max_inputs is None and target_inputs is None:
        raise InvalidError("toolkit.concurrent needs max_inputs, e.g. @toolkit.concurrent(max_inputs=100).")
    # target_inputs alone is how the platform's experimental.http_server classes declare theirs: which
    # kind this decorates is known only once @app.function/@app.cls or http_server takes it.
    if max_inputs is not None:
        _positive_int("max_inputs", max_inputs)
    if target_inputs is not None and _positive_int("target_inputs", target_inputs) > (max_inputs or target_inputs):
        raise InvalidError(
            f"concurrent(target_inputs={target_inputs}) is above max_inputs={max_inputs}; "
            "target_inputs must be at most max_inputs."
        )

    def wrapper(target: Any) -> Any:
        if inspect.isclass(target):
            setattr(target, "__toolkit_concurrent__", (max_inputs, target_inputs))  # noqa: B010
            return target
        partial = _as_partial("toolkit.concurrent", target)
        if partial.batch is not None:
            raise InvalidError(_BATCHED_AND_CONCURRENT.format(name=partial.name))
        return replace(partial, max_inputs=max_inputs, target_inputs=target_inputs)

    return wrapper


def _flag_decorator(decorator: str, flag: str, value: Any) -> Callable[[Any], PartialFunction]:
    missing_parentheses(decorator, value)

    def wrapper(target: Any) -> PartialFunction:
        partial = _as_partial(decorator, target)
        return replace(partial, flags=partial.flags | {flag})

    return wrapper


def enter(_warn_parentheses_missing: Any = None, *, snap: bool = False) -> Callable[[Any], PartialFunction]:
    """Run this method once when a worker starts, before it takes inputs (load models here).

    ``snap=True`` hooks run before the others, in the platform's order (it snapshots between the two
    groups); toolkit takes no memory snapshot (its images do not implement Lambda SnapStart's snapshot/restore
    lifecycle; `toolkit plan` says so per function)."""
    decorate = _flag_decorator("toolkit.enter", "enter", _warn_parentheses_missing)
    if not snap:
        return decorate

    def snapped(target: Any) -> PartialFunction:
        partial = decorate(target)
        return replace(partial, flags=partial.flags | {"snap"})

    return snapped


def exit(_warn_parentheses_missing: Any = None) -> Callable[[Any], PartialFunction]:
    """Run this method once when a worker shuts down."""
    return _flag_decorator("toolkit.exit", "exit", _warn_parentheses_missing)


def method(_warn_parentheses_missing: Any = None, *,
           is_generator: bool | None = None) -> Callable[[Any], PartialFunction]:
    """Expose a method of an ``@app.cls`` class as a remotely callable function.  ``is_generator``
    overrides the detection (for a callable that returns a generator without being one)."""
    decorate = _flag_decorator("toolkit.method", "method", _warn_parentheses_missing)
    if is_generator is None:
        return decorate

    def declared(target: Any) -> PartialFunction:
        partial = decorate(target)
        return replace(partial, flags=partial.flags | {"generator" if is_generator else "not_generator"})

    return declared


_BATCHED_AND_CONCURRENT = ("{name!r} is both @toolkit.batched and @toolkit.concurrent; keep one: a batched "
                           "function already takes many inputs at once (raise max_batch_size instead).")


def batched(
    _warn_parentheses_missing: Any = None, *, max_batch_size: int, wait_ms: int
) -> Callable[[Any], PartialFunction]:
    """Collect single calls into lists: ``f(xs: list[int]) -> list[int]`` is called with up to
    ``max_batch_size`` inputs at once, gathered for at most ``wait_ms`` after the first arrives;
    each caller of ``f.remote(x)`` gets its own item of the returned list."""
    missing_parentheses("toolkit.batched", _warn_parentheses_missing)
    if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int) or max_batch_size < 1:
        raise InvalidError(f"batched(max_batch_size={max_batch_size!r}) must be a positive int, "
                           "e.g. max_batch_size=8.")
    if max_batch_size >= MAX_BATCH_SIZE:
        raise InvalidError(f"batched(max_batch_size={max_batch_size}) must be less than {MAX_BATCH_SIZE}.")
    if isinstance(wait_ms, bool) or not isinstance(wait_ms, int) or wait_ms < 0:
        raise InvalidError(f"batched(wait_ms={wait_ms!r}) must be a non-negative int of milliseconds, e.g. wait_ms=100.")
    if wait_ms >= MAX_BATCH_WAIT_MS:
        raise InvalidError(f"batched(wait_ms={wait_ms}) must be less than {MAX_BATCH_WAIT_MS} (10 minutes).")

    def wrapper(target: Any) -> PartialFunction:
        partial = _as_partial("toolkit.batched", target)
        _check_batchable(partial)
        return replace(partial, batch=BatchConfig(max_batch_size, wait_ms))

    return wrapper


def _check_batchable(partial: PartialFunction) -> None:
    f, name = partial.raw_f, partial.name
    if partial.web is not None:
        raise InvalidError(f"@toolkit.batched cannot apply to the web endpoint {name!r} "
                           f"(@toolkit.{partial.web.kind}); batch a plain function and call it from the endpoint.")
    if partial.max_inputs is not None:
        raise InvalidError(_BATCHED_AND_CONCURRENT.format(name=name))
    if inspect.isgeneratorfunction(f) or inspect.isasyncgenfunction(f):
        raise InvalidError(f"@toolkit.batched function {name!r} is a generator; return a list with one result "
                           "per input instead.")
    params = [p for p in inspect.signature(f).parameters.values() if p.name != "self"]
    if not params:
        raise InvalidError(f"@toolkit.batched function {name!r} takes no arguments; it needs at least one list "
                           f"argument, e.g. def {name}(xs: list[int]) -> list[int].")
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise InvalidError(f"@toolkit.batched function {name!r} takes *{p.name}; name each list argument "
                               "instead (variable arguments cannot be collected into lists).")
        if p.default is not p.empty:
            raise InvalidError(f"@toolkit.batched function {name!r} gives {p.name!r} a default; remove it: every "
                               "call passes every argument, so each list has one item per call.")
