"""``toolkit serve --cloud``: the app deployed to an ephemeral stack for as long as serve runs.

The manifest is built with ``ephemeral=True`` (labels end in ``-dev``), the stack is
``<env>-dev``.  The stack name depends only on app and environment, so a new session
*takes over* whatever a previous one left (a crashed serve, another terminal): its ``up``
updates that stack in place and the ``-dev`` hostnames move to the new code.  Ctrl-C, or
any error after the deploy, destroys the stack and removes it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from toolkit.app import App
from toolkit.deploy.deployer import Deployer, DeployOptions, DeployOutcome, load_app_for_deploy
from toolkit.deploy.errors import DeployError
from toolkit.deploy.images import ImagePublisher
from toolkit.deploy.progress import Progress

__all__ = ["serve_cloud"]


def serve_cloud(app: App, options: DeployOptions, *, progress: Progress | None = None,
                on_ready: Callable[[DeployOutcome], None] | None = None,
                stop: threading.Event | None = None, publisher: ImagePublisher | None = None) -> DeployOutcome:
    """Deploy ``app`` ephemerally, call ``on_ready``, wait for Ctrl-C (or ``stop``), tear down."""
    ephemeral = DeployOptions(options.environment, options.region, options.target, options.state_url, ephemeral=True)
    deployer = Deployer(ephemeral, progress or Progress(), publisher)
    loaded = load_app_for_deploy(app, ephemeral)
    try:
        outcome = deployer.deploy(loaded)
    except BaseException:
        # A half-created stack must not outlive the session; the deploy's error is the one to show.
        with contextlib.suppress(DeployError):
            deployer.destroy(loaded)
        raise
    deployer.progress.close()  # the deploy's last phase ends before the session's own output
    try:
        if on_ready is not None:
            on_ready(outcome)
        _wait(stop or threading.Event())
        return outcome
    finally:
        deployer.progress.step("Tearing down the ephemeral stack")
        with deployer.progress:
            deployer.destroy(loaded)


def _wait(stop: threading.Event) -> None:
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        return
