"""Find a user's App: ``path.py``, ``path.py::name``, or a module (``-m package.module``).

Like flask's ``prepare_import``, a file inside a package is imported under its dotted
name, with the package's parent on ``sys.path``, so relative imports work.  A missing file
and a module that fails while importing are reported differently: the first is a typo, the
second is a bug in the user's code and the message points at its line.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from toolkit import last_good
from toolkit.app import App
from toolkit.exception import AppLoadError, Error, NotFoundError


@dataclass(frozen=True)
class AppRef:
    """A parsed reference: a file path or module name, plus the optional ``::object`` name."""

    target: str
    object_name: str | None = None
    is_module: bool = False

    @staticmethod
    def parse(ref: str, *, is_module: bool = False) -> AppRef:
        target, sep, name = ref.partition("::")
        if sep and not name:
            raise NotFoundError(f"{ref!r} ends with '::' but names nothing; write {target}::app_or_function.")
        return AppRef(target, name or None, is_module)

    def source(self) -> dict[str, Any]:
        """The manifest's ``app.source`` entry: how workers and the runtime load this app again."""
        return {"kind": "module" if self.is_module else "file", "module": self.target if self.is_module else None,
                "path": None if self.is_module else self.target, "app_variable": self.object_name}


def module_name_for(path: Path) -> tuple[str, Path]:
    """The dotted module name of a file and the directory to put on sys.path for it."""
    path = path.resolve()
    parts = [path.stem] if path.name != "__init__.py" else []
    directory = path.parent
    while (directory / "__init__.py").exists():
        parts.insert(0, directory.name)
        directory = directory.parent
    return ".".join(parts), directory


def import_path(path_str: str) -> ModuleType:
    path = Path(path_str)
    if not path.exists():
        hint = " (for a module, use -m package.module)" if not path_str.endswith(".py") else ""
        raise NotFoundError(f"No such file: {path_str!r}{hint}.")
    if path.is_dir():
        path = path / "__init__.py"
        if not path.exists():
            raise NotFoundError(f"{path_str!r} is a directory without __init__.py; point at a .py file.")
    name, root = module_name_for(path)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) == str(path.resolve()):
        return existing
    # a worker of toolkit serve imports the app as it last loaded (`toolkit.last_good`); None: from the file
    spec = importlib.util.spec_from_file_location(name, path, loader=last_good.loader_for(name, path))
    if spec is None or spec.loader is None:
        raise NotFoundError(f"{path_str!r} is not a Python file toolkit can import.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    _execute(lambda: spec.loader.exec_module(module), str(path), name)
    return module


def import_module_name(name: str) -> ModuleType:
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        found = None
    if found is None:
        raise NotFoundError(f"No module named {name!r} on sys.path (from {os.getcwd()}); check the name or use a path.")
    module: ModuleType | None = None

    def run() -> None:
        nonlocal module
        module = importlib.import_module(name)

    _execute(run, found.origin or name, name)
    assert module is not None
    return module


def _execute(run: Any, where: str, name: str) -> None:
    try:
        run()
    except Error:
        sys.modules.pop(name, None)
        raise
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise AppLoadError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from None
    except BaseException as exc:
        sys.modules.pop(name, None)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        at = f"{frame.filename}:{frame.lineno}"
        if isinstance(exc, ImportError):
            message = (f"{where} could not import what it needs ({at}): {type(exc).__name__}: {exc}. "
                       "Install the missing package or fix the import.")
        else:
            message = f"{where} raised while loading ({at}): {type(exc).__name__}: {exc}"
        raise AppLoadError(
            message
        ) from exc


def load_module(ref: AppRef) -> ModuleType:
    return import_module_name(ref.target) if ref.is_module else import_path(ref.target)


def find_app(module: ModuleType, name: str | None = None) -> App:
    """The App in ``module``: the one named ``name``, else the variable ``app``, else the only one."""
    if name is not None:
        found = getattr(module, name, None)
        if isinstance(found, App):
            return found
        raise NotFoundError(f"{module.__name__} has no App called {name!r}; {_apps_hint(module)}")
    if isinstance(getattr(module, "app", None), App):
        return module.app  # type: ignore[no-any-return]
    apps = [value for value in vars(module).values() if isinstance(value, App)]
    if len(apps) == 1:
        return apps[0]
    raise NotFoundError(f"Cannot tell which App to use in {module.__name__}: {_apps_hint(module)}")


def _apps_hint(module: ModuleType) -> str:
    names = sorted(k for k, v in vars(module).items() if isinstance(v, App))
    if not names:
        return "it defines none (create one with app = toolkit.App('name'))."
    return f"it defines {', '.join(names)}; name one as file.py::{names[0]}."


def load_app(ref: str | AppRef, *, is_module: bool = False) -> App:
    parsed = ref if isinstance(ref, AppRef) else AppRef.parse(ref, is_module=is_module)
    return find_app(load_module(parsed), parsed.object_name)


def load_target(ref: str | AppRef, *, is_module: bool = False) -> tuple[App, Any]:
    """For ``toolkit run``: the App and the named function/entrypoint (or None to pick the default)."""
    parsed = ref if isinstance(ref, AppRef) else AppRef.parse(ref, is_module=is_module)
    module = load_module(parsed)
    if parsed.object_name is None:
        return find_app(module), None
    found = getattr(module, parsed.object_name, None)
    if isinstance(found, App):
        return found, None
    app = find_app(module)
    name = parsed.object_name
    if name in app.local_entrypoints:
        return app, app.local_entrypoints[name]
    if name in app.registered_functions:
        return app, app.registered_functions[name]
    known = sorted(set(app.registered_functions) | set(app.local_entrypoints))
    raise NotFoundError(f"App {app.app_name!r} has no function {name!r}; choose one of: {', '.join(known) or 'none'}.")


def load_app_from_source(source: dict[str, Any]) -> App:
    """Load the app a manifest describes (its ``app.source`` entry), as workers and the runtime do."""
    if source.get("kind") == "module":
        return load_app(AppRef(source["module"], source.get("app_variable"), is_module=True))
    return load_app(AppRef(source["path"], source.get("app_variable")))
