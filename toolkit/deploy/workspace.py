"""Pulumi's Automation API, wrapped: open a stack, run an operation, turn failures into
domain errors.  The only module that imports ``pulumi.automation``.

Each app's workspace directory is ``$TOOLKIT_HOME/pulumi-work/<project>``: Pulumi writes the
project file and ``Pulumi.<stack>.yaml`` (config, encryption salt) there.  Every command
runs with the state store's URL and passphrase in its environment, so no ``pulumi login`` is
needed and nothing is read from ``~/.pulumi/credentials.json``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit import config
from toolkit.deploy.errors import NotDeployedError, PulumiNotInstalledError, from_pulumi_failure
from toolkit.deploy.names import StackName
from toolkit.deploy.program import infra_program
from toolkit.deploy.state_store import StackStateStore

__all__ = ["PulumiSession", "ensure_cli", "workspace_dir"]

LIST_PROJECT = "toolkit"  # the workspace `toolkit app list` lists every project's stacks from


def ensure_cli() -> str:
    """The ``pulumi`` executable on PATH, or the error that says how to install it."""
    found = shutil.which("pulumi")
    if found is None:
        raise PulumiNotInstalledError()
    return found


def workspace_dir(project: str) -> Path:
    path = config.home() / "pulumi-work" / project
    path.mkdir(parents=True, exist_ok=True)
    return path


def aws_plugin_version() -> str:
    from importlib.metadata import version

    return "v" + version("pulumi_aws")


@contextmanager
def pulumi_errors(operation: str, region: str | None = None) -> Iterator[None]:
    """Automation API failures -> one-line domain errors (see errors.from_pulumi_failure)."""
    from pulumi.automation import errors as auto_errors

    try:
        yield
    except FileNotFoundError as exc:  # the CLI vanished between the PATH check and the call
        if "pulumi" in str(exc):
            raise PulumiNotInstalledError() from None
        raise
    except auto_errors.CommandError as exc:
        raise from_pulumi_failure(str(exc), operation=operation, region=region) from None


@dataclass
class PulumiSession:
    """One stack of one app, opened through a LocalWorkspace with toolkit's state store."""

    name: StackName
    state: StackStateStore
    env: Mapping[str, str]  # the target's environment (region, emulator endpoint)
    region: str | None = None

    def workspace_args(self, project: str) -> dict[str, Any]:
        from pulumi import automation as auto

        return {
            "work_dir": str(workspace_dir(project)),
            "env_vars": {**self.env, **self.state.env()},
            "project_settings": auto.ProjectSettings(name=project, runtime="python",
                                                     backend=auto.ProjectBackend(self.state.url)),
        }

    def open(self, *, create: bool) -> Any:
        """The Automation API ``Stack``; ``create=False`` raises NotDeployedError when it is missing."""
        from pulumi import automation as auto

        ensure_cli()
        opts = auto.LocalWorkspaceOptions(**self.workspace_args(self.name.project))
        with pulumi_errors("stack select", self.region):
            try:
                if create:
                    return auto.create_or_select_stack(self.name.stack, project_name=self.name.project,
                                                       program=infra_program, opts=opts)
                return auto.select_stack(self.name.stack, project_name=self.name.project,
                                         program=infra_program, opts=opts)
            except auto.StackNotFoundError:
                raise NotDeployedError(
                    f"App {self.name.app!r} has no deployment in stack {self.name.stack!r} "
                    f"(state in {self.state.url}); deploy it with `toolkit deploy`, or pass the --env "
                    "and --state-url it was deployed with."
                ) from None

    def install_provider(self, stack: Any) -> None:
        """Inline programs report no required plugins, so the AWS provider is installed explicitly."""
        with pulumi_errors("plugin install", self.region):
            stack.workspace.install_plugin("aws", aws_plugin_version())

    def run(self, operation: str, action: Callable[[], Any]) -> Any:
        with pulumi_errors(operation, self.region):
            return action()


def list_stacks(state: StackStateStore, env: Mapping[str, str]) -> tuple[list[Any], Any]:
    """Every stack in the state store, across projects (``pulumi stack ls --all --json``), and the
    workspace to ask for their outputs."""
    from pulumi import automation as auto

    ensure_cli()
    session = PulumiSession(StackName(LIST_PROJECT, "list"), state, env)
    with pulumi_errors("stack ls"):
        workspace = auto.LocalWorkspace(**session.workspace_args(LIST_PROJECT))
        return list(workspace.list_stacks(include_all=True)), workspace


def stack_outputs(workspace: Any, qualified: str) -> dict[str, Any]:
    with pulumi_errors("stack output"):
        return dict(workspace.stack_outputs(qualified))
