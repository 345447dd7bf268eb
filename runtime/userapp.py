"""Import the user's code the manifest points at and find the plain callable for one function.

The manifest says where the app lives (``app.source``: a file path or a module name,
and the App variable).  With toolkit's SDK, ``app.registered_functions[tag].spec.raw_f``
is the undecorated function; a module without an App (or an older SDK) falls back to
the module attribute named by the manifest's ``name``.  Source paths are relative to
``TOOLKIT_APP_ROOT`` (default: the current directory, the image's workdir).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from runtime.deployment import Deployment, DeploymentError

APP_ROOT_ENV = "TOOLKIT_APP_ROOT"


def import_source(source: dict[str, Any]) -> ModuleType:
    root = Path(os.environ.get(APP_ROOT_ENV) or os.getcwd())
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    if source.get("kind") == "module" or (source.get("module") and not source.get("path")):
        return importlib.import_module(source["module"])
    path = root / source["path"]
    spec = importlib.util.spec_from_file_location(source.get("module") or path.stem, path)
    if spec is None or spec.loader is None:
        raise DeploymentError(f"Cannot import the app source {str(path)!r}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_callable(deployment: Deployment) -> Callable[..., Any]:
    """The user's own function for the deployment's tag (class methods are not served yet)."""
    entry = deployment.function
    if entry.is_method:
        raise DeploymentError(f"Serving class method {entry.tag!r} is not supported by this runtime yet.")
    module = import_source(deployment.source)
    app = getattr(module, deployment.source.get("app_variable") or "app", None)
    registered = getattr(app, "registered_functions", {}) or {}
    target = registered.get(entry.tag) or getattr(module, entry.name, None)
    if target is None:
        raise DeploymentError(f"{module.__name__} has no function {entry.name!r} (tag {entry.tag!r}).")
    return unwrap(target)


def unwrap(target: Any) -> Callable[..., Any]:
    """The raw user function behind an SDK `Function` (``.spec.raw_f``), or the object itself."""
    raw = getattr(getattr(target, "spec", None), "raw_f", None)
    fn: Callable[..., Any] = raw if callable(raw) else target
    return fn
