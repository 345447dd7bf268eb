"""Import the user's code the manifest points at and find what one function runs.

The manifest says where the app lives (``app.source``: a file path or a module name,
and the App variable).  With toolkit's SDK, ``app.registered_functions[tag].spec.raw_f``
is the undecorated function; a module without an App (or an older SDK) falls back to
the module attribute named by the manifest's ``name``.  Source paths are relative to
``TOOLKIT_APP_ROOT`` (default: the current directory, the image's workdir).

`load_function` gives the entrypoints one interface, `UserFunction`, for both shapes:

* `PlainFunction`: an ``@app.function``; a web kind's adapter wraps the function itself;
* `MethodFunction`: a method of an ``@app.cls`` class (tag ``Cls.method``, one environment per
  method as infra deploys them).  Each call carries the parameter values its caller bound, and
  the query string of each web request selects them; `runtime.instances` keeps one object per
  set of values.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from runtime.adapters.base import WebSpec
from runtime.container_identity import enter_container
from runtime.deployment import Deployment, DeploymentError
from runtime.manifest import Source
from runtime.types import ASGIApp
from runtime.volumes.mounts import mount_deployed

if TYPE_CHECKING:
    from runtime.batching import BatchSpec, Outcome
    from runtime.instances import ClassMethod

def import_source(source: Source, app_root: str | None = None) -> ModuleType:
    root = Path(app_root or os.getcwd())
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    if source.kind == "module" or (source.module and not source.path):
        if not source.module:
            raise DeploymentError("The manifest's app.source names no module and no path; rebuild the image.")
        return importlib.import_module(source.module)
    if not source.path:
        raise DeploymentError("The manifest's app.source is a file without a path; rebuild the image.")
    path = root / source.path
    spec = importlib.util.spec_from_file_location(source.module or path.stem, path)
    if spec is None or spec.loader is None:
        raise DeploymentError(f"Cannot import the app source {str(path)!r}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class UserFunction(Protocol):
    """What an entrypoint needs from the user's function, whatever its shape."""

    def web_app(self, spec: WebSpec) -> ASGIApp:
        """The ASGI app serving it (web kinds); built once per environment."""
        ...

    def call(self, payload: Any) -> Any:
        """Run one call: a serialized `runtime.invocation.CallInput`, or the tuple it deserializes to."""
        ...

    def close(self) -> None:
        """Environment shutdown: let go of what it holds (class instances run their @exit hooks)."""
        ...


class PlainFunction:
    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def web_app(self, spec: WebSpec) -> ASGIApp:
        from runtime.adapters import build_web_app

        return build_web_app(self.fn, spec)

    def call(self, payload: Any) -> Any:
        from runtime.worker import call_function

        return call_function(self.fn, payload)

    def close(self) -> None:
        pass


class BatchedFunction(PlainFunction):
    """A ``@toolkit.batched`` function: an inline invoke is a batch of one (``call``); a stored call's
    worker gathers a batch from the call table and runs it with ``call_batch`` (`runtime.worker`)."""

    def __init__(self, tag: str, fn: Callable[..., Any], batch: BatchSpec) -> None:
        from runtime.batching import single_call

        super().__init__(single_call(tag, fn))
        self.tag, self.batched_fn, self.batch = tag, fn, batch

    def call_batch(self, payloads: list[Any]) -> list[Outcome]:
        from runtime.batching import run_batch
        from runtime.invocation import CallInput, InvalidInvocationError

        calls = [CallInput.decode(p) for p in payloads]
        if any(c.params for c in calls):
            raise InvalidInvocationError(f"{self.tag!r} is not a class method, but a call carries class parameters.")
        return run_batch(self.tag, self.batched_fn, [(c.args, c.kwargs) for c in calls])

    @staticmethod
    def same_batch(first: Any, other: Any) -> bool:
        return True


class MethodFunction:
    def __init__(self, method: ClassMethod, timeout: float | None = None, batch: BatchSpec | None = None) -> None:
        from runtime.instances import InstanceCache, max_instances

        self.method, self.timeout, self.batch = method, timeout, batch
        self.batched = batch is not None
        self.instances: InstanceCache[Any] = InstanceCache(method.instantiate, method.run_exit_hooks, max_instances())

    def web_app(self, spec: WebSpec) -> ASGIApp:
        from runtime.adapters.class_method import ClassMethodApp

        # keeps its own instances, each with its web app; @enter + startup get the function's timeout
        return ClassMethodApp(self.method, spec, start_timeout=self.timeout)

    def call(self, payload: Any) -> Any:
        from runtime.invocation import CallInput
        from runtime.worker import run_callable

        call = CallInput.decode(payload)
        params = self.method.bind(call.params)  # bad values fail the call with the SDK's message
        with self.instances.use(params) as obj:
            method = self.method.method_of(obj)
            if self.batched:  # each stored call or invoke is one input: a batch of one
                from runtime.batching import single_call

                method = single_call(self.method.tag, method)
            return run_callable(method, call.args, call.kwargs)

    def call_batch(self, payloads: list[Any]) -> list[Outcome]:
        """One batch of calls that share their parameter values (`same_batch`), on one instance."""
        from runtime.batching import run_batch
        from runtime.invocation import CallInput

        calls = [CallInput.decode(p) for p in payloads]
        with self.instances.use(self.method.bind(calls[0].params)) as obj:
            return run_batch(self.method.tag, self.method.method_of(obj), [(c.args, c.kwargs) for c in calls])

    @staticmethod
    def same_batch(first: Any, other: Any) -> bool:
        from runtime.invocation import CallInput

        return CallInput.decode(first).params == CallInput.decode(other).params

    def close(self) -> None:
        self.instances.close()


def load_function(deployment: Deployment) -> UserFunction:
    """Import the user's code and find the function (or class method) the deployment's tag names."""
    entry = deployment.function
    # the platform's container variables, before the user's module (which may read them) is imported
    enter_container(deployment.environment, os.environ.get("AWS_REGION"))
    mount_deployed(entry, deployment.env)  # volumes appear before the user's module is imported
    module = import_source(deployment.source, deployment.env.app_root)
    target = _registered(module, deployment)
    batch = _batch_spec(target)
    if not entry.is_method:
        if batch is not None:
            return BatchedFunction(entry.tag, unwrap(target), batch)
        return PlainFunction(unwrap(target))
    from runtime.instances import ClassMethod

    cls = getattr(getattr(target, "spec", None), "cls", None)
    if cls is None:
        raise DeploymentError(f"{entry.tag!r} is a class method in the manifest, but {module.__name__} does not "
                              "register it through toolkit's @app.cls: rebuild the image from the same source.")
    return MethodFunction(ClassMethod(cls, target.spec.name), entry.timeout, batch)


def _batch_spec(target: Any) -> BatchSpec | None:
    """``@toolkit.batched``'s sizes, read from the SDK's spec (`toolkit.partial.BatchConfig`)."""
    config = getattr(getattr(target, "spec", None), "batch", None)
    if config is None:
        return None
    from runtime.batching import BatchSpec

    return BatchSpec(int(config.max_batch_size), int(config.wait_ms))


def _registered(module: ModuleType, deployment: Deployment) -> Any:
    entry = deployment.function
    named = getattr(module, deployment.source.app_variable or "app", None)
    # the App the manifest names first, then any other (an App's type is named App: no arbitrary getattr)
    apps = [named, *(v for v in vars(module).values() if type(v).__name__ == "App" and v is not named)]
    registries = [r for a in apps for r in (getattr(a, "registered_functions", None), getattr(a, "registered_variants", None))
                  if isinstance(r, dict)]  # a variant (toolkit.variants) runs its function's code, with its options
    target = next((r[entry.tag] for r in registries if entry.tag in r), None) or getattr(module, entry.name, None)
    if target is None:
        raise DeploymentError(f"{module.__name__} has no function {entry.name!r} (tag {entry.tag!r}).")
    return target


def unwrap(target: Any) -> Callable[..., Any]:
    """The raw user function behind an SDK `Function` (``.spec.raw_f``), or the object itself."""
    raw = getattr(getattr(target, "spec", None), "raw_f", None)
    fn: Callable[..., Any] = raw if callable(raw) else target
    return fn
