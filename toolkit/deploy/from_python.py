"""``App.deploy()``: ``toolkit deploy <the app's source file>``, started from Python.

A deploy always loads the app from its source file (images ship that file, and workers import it
again), so deploying an App object means deploying the file that defines it.  The command runs in a
child process rather than in this one: the deploy machinery imports the App layer (manifest, image
planning, the loader), so calling it from ``App`` would make an import cycle, and the child gives
exactly the CLI's options, phases and one-line errors.  The child imports the file as a module, so
a ``if __name__ == "__main__": app.deploy()`` block does not run there; an unguarded top-level
``app.deploy()`` finds `IN_PROGRESS_ENV` naming its own file and returns instead of deploying again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from toolkit.deploy.errors import DeployError
from toolkit.exception import InvalidError, NotSupportedError
from toolkit.unsupported import refusal

__all__ = ["IN_PROGRESS_ENV", "DeployCommand", "deploy_command", "run_deploy"]

IN_PROGRESS_ENV = "TOOLKIT_DEPLOY_IN_PROGRESS"  # the source file a `toolkit deploy` child is deploying
_STRATEGIES = ("rolling",)


@dataclass(frozen=True)
class DeployCommand:
    """The ``toolkit deploy`` command line that deploys one App object, and where it runs."""

    source: Path  # the file that defines the app, resolved
    argv: tuple[str, ...]

    @property
    def already_running(self) -> bool:
        """True inside the child of a deploy of this same file (an unguarded top-level ``app.deploy()``)."""
        return os.environ.get(IN_PROGRESS_ENV) == str(self.source)


def deploy_command(app: Any, *, name: str | None, environment_name: str | None, strategy: str) -> DeployCommand:
    """The command for ``app.deploy(name=, environment_name=, strategy=)``, or the error saying why none fits."""
    app_name = app.name
    if not app_name:
        raise InvalidError("App.deploy() needs an app name: toolkit.App('my-app').")
    if name is not None and name != app_name:
        raise NotSupportedError(refusal(
            f"App.deploy(name={name!r}) of app {app_name!r}", "a deploy names its stack, labels and URLs after "
            "the name the App was created with", f"create it as toolkit.App({name!r}) and deploy that"))
    if strategy not in _STRATEGIES:
        raise NotSupportedError(refusal(
            f"App.deploy(strategy={strategy!r})", "a deploy updates Lambda functions and ECS services in place "
            "(ECS replaces tasks as a rolling deployment)", "drop strategy= (the default 'rolling')"))
    source = _source_file(app)
    ref = f"{_shown(source)}::{variable}" if (variable := _variable_of(app)) else _shown(source)
    env_args = ("--env", environment_name) if environment_name is not None else ()
    return DeployCommand(source, (sys.executable, "-m", "toolkit.cli", "deploy", ref, *env_args))


def run_deploy(command: DeployCommand, *, show: bool) -> None:
    """Run the command; raise `DeployError` with the CLI's one-line error when it fails.  ``show``:
    relay what it prints (``toolkit.enable_output()``), as the platform prints only inside it."""
    env = {**os.environ, IN_PROGRESS_ENV: str(command.source), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stderr is not None  # both piped above
    errors: list[str] = []
    relay = threading.Thread(target=_relay, args=(proc.stdout, sys.stdout if show else None, []), daemon=True)
    relay.start()
    _relay(proc.stderr, sys.stderr if show else None, errors)
    relay.join()
    if proc.wait() != 0:
        raise DeployError(_failure(errors, proc.returncode))


def _relay(stream: Iterable[str], to: IO[str] | None, keep: list[str]) -> None:
    for line in stream:
        keep.append(line.rstrip("\n"))
        del keep[:-40]  # the error is the last line; a little context is enough
        if to is not None:
            to.write(line)
            to.flush()


def _failure(lines: list[str], code: int) -> str:
    """The CLI's error without its ``Error: `` prefix, else the tail of what it printed."""
    for line in reversed(lines):
        if line.startswith("Error: "):
            return line.removeprefix("Error: ")
    tail = " | ".join(line for line in lines[-5:] if line.strip()) or "no output"
    return f"toolkit deploy exited with status {code}: {tail}"


def _source_file(app: Any) -> Path:
    """The file that defines the app (where its functions were decorated), or the reason there is none."""
    specs = [fn.spec for fn in app.registered_functions.values()]
    if not specs:
        raise InvalidError(f"App.deploy(): app {app.name!r} has no functions to deploy; decorate one with "
                           "@app.function() first.")
    files = {spec.source_file for spec in specs}
    if None in files:
        raise InvalidError(
            f"App.deploy(): app {app.name!r} is defined in an interactive session (module __main__ has no file), "
            "and a deploy loads the app from its source file; save it to a file, e.g. app.py, and run "
            "`toolkit deploy app.py` (or call app.deploy() from that file).")
    return Path(str(specs[0].source_file)).resolve()


def _variable_of(app: Any) -> str | None:
    """The global the defining module keeps the app in, so a file with several apps deploys this one."""
    for spec in (fn.spec for fn in app.registered_functions.values()):
        module = sys.modules.get(spec.module)
        found = [k for k, v in vars(module).items() if v is app and not k.startswith("_")] if module else []
        if found:
            return sorted(found)[0]
    return None


def _shown(path: Path) -> str:
    """The path as the CLI would be given it: relative to the working directory when under it (the
    manifest records the source relative to it, as for ``toolkit deploy app.py``)."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
