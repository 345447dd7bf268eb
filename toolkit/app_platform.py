"""The hosted platform's `App` members beyond registering functions (a mixin of `toolkit.App`).

Three kinds, as everywhere in toolkit's parity sweep (docs/parity.md):

* works: ``name``, ``description``, the ``registered_*`` views and ``include(other_app)``;
* works with a toolkit meaning: ``app_id`` (always None: toolkit names apps, it issues no IDs) and
  ``get_tags``/``set_tags`` (kept on the App object in this process; not sent to AWS yet);
* ``server``: an ``@app.cls`` whose ``@enter`` starts an HTTP server, served as a web_server (`toolkit.servers`);
* ``stop`` and ``get_dashboard_url``: the app's local serves on this machine (``toolkit app``);
* ``deploy``: ``toolkit deploy`` of the file that defines the app (`toolkit.deploy.from_python`);
* ``logs`` and ``stats``: every function's, merged: locally the app's worker pools in this process,
  for an app looked up from AWS (``App.lookup``) its functions' CloudWatch groups, call records and
  metrics (`toolkit.cloud_logs`, `toolkit.cloud_stats`);
* refused when called, naming the CLI command that does it: ``info`` and ``sandboxes``: on toolkit
  those act on a source file or a stack through the ``toolkit`` CLI rather than through a service
  the SDK talks to.
"""

# mypy: disable-error-code="empty-body"
# (refusals keep the platform's signatures; `toolkit.unsupported.not_supported` replaces their bodies)

from __future__ import annotations

import datetime
import os
import signal
import sys
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NoReturn

from toolkit.exception import InvalidError, NotFoundError, NotSupportedError
from toolkit.unsupported import UnsupportedProperty, no_client, not_supported

if TYPE_CHECKING:
    from typing_extensions import Self

    from toolkit.cloud_logs import CloudLogsView
    from toolkit.cls import Cls
    from toolkit.function_records import FunctionStats
    from toolkit.functions import Function
    from toolkit.local.logs import LogsView

STOP_TIMEOUT_S = 30.0  # as `toolkit app stop --timeout`
_CLI = "the toolkit CLI acts on the app's source file and its AWS stack; the SDK has no service to ask"


class AppPlatformMembers:
    """Members of the platform's ``App`` that are not about registering functions."""

    # Declared here so the parity table (and type checkers) see them; `App.__init__` sets them.
    name: str | None
    registered_functions: dict[str, Function]
    registered_classes: dict[str, Cls]
    local_entrypoints: dict[str, Callable[..., Any]]
    _tags: dict[str, str]

    if TYPE_CHECKING:
        @property
        def app_name(self) -> str: ...  # `App.app_name`

    @property
    def app_id(self) -> str | None:
        """Always None: toolkit identifies an app by its name (and stage), not by a service-issued ID."""
        return None

    @property
    def description(self) -> str:
        """The app's name, or a stand-in for an unnamed app (as on the platform)."""
        return self.name or "unnamed toolkit app"

    @property
    def registered_entrypoints(self) -> dict[str, Callable[..., Any]]:
        """The ``@app.local_entrypoint`` functions, by name."""
        return dict(self.local_entrypoints)

    @property
    def registered_web_endpoints(self) -> list[str]:
        """Tags of the functions served over HTTP (fastapi/asgi/wsgi endpoints and web servers)."""
        return [tag for tag, fn in self.registered_functions.items() if fn.spec.web is not None]

    def include(self, /, other_app: Any, inherit_tags: bool = True) -> Self:
        """Make ``other_app``'s functions, classes and local entrypoints this app's too, so one deploy
        (or serve) carries an app split across files.  As on the platform, what is included belongs to
        this app: default labels ``<this app>-<function>``, and workers find it through this app's
        module (call ``include`` at the top level of the file that defines this app).  The other
        file's own handles (``helpers.fn.remote()``) keep working as that app's."""
        if not isinstance(other_app, AppPlatformMembers):
            raise InvalidError(f"App.include() takes a toolkit.App, got {other_app!r}.")
        caller = sys._getframe(1).f_globals  # the including app's module: where workers will look
        home = Home(self.app_name, caller.get("__name__", ""), caller.get("__file__"))
        functions = {tag: home.adopt(fn) for tag, fn in other_app.registered_functions.items()}
        classes = {name: home.adopt_cls(c, functions) for name, c in other_app.registered_classes.items()}
        _merge(self.description, "registered_functions", self.registered_functions, functions)
        _merge(self.description, "registered_classes", self.registered_classes, classes)
        _merge(self.description, "local_entrypoints", self.local_entrypoints, other_app.local_entrypoints)
        if inherit_tags:
            self._tags = {**other_app._tags, **self._tags}  # this app's tags win, as on the platform
        return self

    def get_tags(self, *, client: Any = None) -> dict[str, str]:
        """The tags set on this App object (App(tags=...) or set_tags); toolkit does not send them to AWS yet."""
        return dict(self._tags)

    def set_tags(self, tags: Mapping[str, str], *, client: Any = None) -> None:
        """Replace the App object's tags (kept in this process; not applied to AWS resources yet)."""
        bad = [k for k, v in dict(tags).items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise InvalidError(f"App.set_tags: tag {bad[0]!r} needs a str key and a str value.")
        self._tags = dict(tags)

    def deploy(self, *, name: str | None = None, environment_name: str | None = None, tag: str = "",
               client: Any = None, strategy: str = "rolling") -> Self:
        """Deploy the app as ``toolkit deploy <its file>`` does, and return it once the deploy is done
        (`toolkit.deploy.from_python`): the file that defines it is built, deployed and verified.
        ``environment_name`` is toolkit's environment (``--env``; default TOOLKIT_ENVIRONMENT);
        ``name`` may only repeat the App's own name; ``tag`` is accepted and not recorded (the stack's
        history is Pulumi's).  Prints what the CLI prints inside ``toolkit.enable_output()``.  As on the
        platform, guard the call with ``if __name__ == "__main__":``."""
        from toolkit.deploy.from_python import deploy_command, run_deploy
        from toolkit.ephemeral import output_enabled

        no_client("App.deploy", client)
        command = deploy_command(self, name=name, environment_name=environment_name, strategy=strategy)
        if not command.already_running:  # else: the file's own deploy imported it and carries this app
            run_deploy(command, show=output_enabled())
        return self

    def stop(self, *, client: Any = None) -> None:
        """Stop this app's local serves on this machine, as Ctrl-C would (what ``toolkit app stop NAME``
        does), and wait until they have exited.  A deployed app is removed with ``toolkit destroy app.py``."""
        no_client("App.stop", client)
        serving = self._local_serves()
        if not serving:
            raise NotFoundError(f"App.stop(): no local serve of app {self.app_name!r} on this machine (see "
                                "`toolkit app list`); a deployed app is removed with `toolkit destroy app.py`.")
        for record in serving:
            os.kill(record.process.pid, signal.SIGINT)  # in-flight work finishes, as with Ctrl-C
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for record in serving:
            while record.process.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if record.process.alive():
                raise InvalidError(f"App.stop(): the serve of {self.app_name!r} (pid {record.process.pid}) is still "
                                   f"stopping after {STOP_TIMEOUT_S:g} s; wait, or end it with kill -9 "
                                   f"{record.process.pid}.")

    @not_supported("App.info()", _CLI, "run `toolkit app list --json`")
    def info(self, refresh: bool = False) -> NoReturn: ...

    def stats(self, *, since: datetime.datetime | None = None,
              until: datetime.datetime | None = None) -> FunctionStats:
        """Every function's stats over ``[since, until)`` (default: the last hour), summed: counts add
        up, percentiles are left out (they do not), ``variant_count`` counts the pools (locally) or
        functions (deployed) merged.  Locally, all of the app's pools in this process (variants and
        parameter sets included); for an app looked up from AWS, each function's call records and
        CloudWatch metrics in one batch of GetMetricData requests (`toolkit.cloud_stats`), leaving out
        ECS web services (their load balancer's metrics have their requests)."""
        from toolkit.cloud_stats import merge_stats
        from toolkit.function_admin import stats_window

        start, end = stats_window(since, until)
        functions = list(self.registered_functions.values())
        deployed = [fn for fn in functions if _runs_on_aws(fn)]
        parts = [fn.stats(since=start, until=end, all_variants=True) for fn in functions if fn not in deployed]
        return merge_stats([*parts, *_deployed_stats(deployed, start, end)], start, end)

    def get_dashboard_url(self) -> str:
        """The index page of this app's local serve on this machine (its endpoints, what ``toolkit serve``
        prints); NotFoundError when it is not being served.  For a deployed endpoint: ``toolkit url``."""
        serving = self._local_serves()
        if not serving:
            raise NotFoundError(f"App.get_dashboard_url(): app {self.app_name!r} is not being served on this "
                                "machine; start `toolkit serve app.py`, or print a deployed endpoint's URL with "
                                "`toolkit url app.py::function`.")
        return f"{serving[0].origin}/"

    def _local_serves(self) -> list[Any]:
        from toolkit.serve.registry import ServeRegistry

        return [r for r in ServeRegistry().read().records if r.app == self.app_name and r.process.alive()]

    def server(self, *, image: Any = None, env: dict[str, str | None] | None = None,
               secrets: Collection[Any] | None = None, gpu: str | list[str] | None = None,
               serialized: bool = False, volumes: Mapping[Any, Any] | None = None,
               cpu: float | tuple[float, float] | None = None, memory: int | tuple[int, int] | None = None,
               ephemeral_disk: int | None = None, target_concurrency: float | None = None,
               max_concurrency: int | None = None, min_containers: int | None = None,
               max_containers: int | None = None, buffer_containers: int | None = None,
               scaleup_window: int | None = None, scaledown_window: int | None = None,
               startup_timeout: int = 30, name: str | None = None, port: int = 8000,
               unauthenticated: bool = False, h2_enabled: bool = False, exit_grace_period: int = 0,
               routing_region: str = "us-east", compute_region: str | list[str] | None = None,
               cloud: str | None = None, nonpreemptible: bool = False, proxy: Any = None,
               i6pn: bool | None = None, enable_memory_snapshot: bool = False,
               include_source: bool | None = None,
               experimental_options: dict[str, Any] | None = None) -> Callable[[type], Cls]:
        """Register a class whose ``@toolkit.enter()`` method starts an HTTP server on ``port``.

        On toolkit this is an ``@app.cls`` with one ``@toolkit.web_server(port)`` method, ``serve``,
        that does nothing (the server is already up): served at ``<app>-<class>-serve`` locally and,
        like every web_server, on ECS behind the app's front door.  Proxy auth is required unless
        ``unauthenticated=True`` (as on the platform); up to ``max_concurrency`` requests (default 100)
        share one container.  ``h2_enabled``, ``exit_grace_period`` and ``scaleup_window`` warn and
        have no effect; ``name`` is refused (rename the class).
        """
        from toolkit import servers

        servers.check_server_options(name=name, h2_enabled=h2_enabled, exit_grace_period=exit_grace_period,
                                     scaleup_window=scaleup_window)
        register = self.cls(image=image, env=env, secrets=secrets, gpu=gpu, serialized=serialized,  # type: ignore[attr-defined]
                            volumes=volumes or {}, cpu=cpu, memory=memory, ephemeral_disk=ephemeral_disk,
                            min_containers=min_containers, max_containers=max_containers,
                            buffer_containers=buffer_containers, scaledown_window=scaledown_window,
                            region=compute_region,
                            routing_region=None if routing_region == "us-east" else routing_region,
                            cloud=cloud, nonpreemptible=nonpreemptible, proxy=proxy, i6pn=i6pn,
                            enable_memory_snapshot=enable_memory_snapshot, include_source=include_source,
                            experimental_options=experimental_options)

        def wrapper(user_cls: type) -> Cls:
            served = servers.as_server_class(user_cls, port=port, startup_timeout=startup_timeout,
                                             requires_proxy_auth=not unauthenticated,
                                             max_inputs=max_concurrency, target_inputs=target_concurrency)
            cls: Cls = register(served)
            return cls
        return wrapper

    @property
    def logs(self) -> LogsView | CloudLogsView:
        """Every function's lines, merged in time order, with ``tail``/``fetch``/``stream`` as on
        ``fn.logs``: locally what the app's workers in this process printed; for an app looked up from
        AWS, its functions' CloudWatch log groups read together (`toolkit.cloud_logs`)."""
        from toolkit.cloud_logs import CloudLogsView
        from toolkit.local.logs import LogsView
        from toolkit.local.runner import local_runner

        functions = list(self.registered_functions.values())
        if any(_runs_on_aws(fn) for fn in functions):
            views = [view for fn in functions if isinstance(view := fn.logs, CloudLogsView)]
            groups = dict.fromkeys(group for view in views for group in view.log_groups)  # once each, in order
            return CloudLogsView(list(groups), views[0].region)
        app_name, local = self.app_name, local_runner()
        return LogsView(lambda: [pool.logs for fn in functions for pool in local.pools_of(app_name, fn.spec.tag)])
    sandboxes = UnsupportedProperty("App.sandboxes", "toolkit keeps sandboxes by app name on this machine",
                                    "run `toolkit sandbox list --app NAME`")


@dataclass(frozen=True)
class Home:
    """Where included functions now live: the including app's name, module and source file."""

    app_name: str
    module: str
    source_file: str | None

    # type(...) rather than importing Function and Cls: this mixin stays below the modules App uses.
    def adopt(self, fn: Function) -> Function:
        spec = replace(fn.spec, app_name=self.app_name, module=self.module, source_file=self.source_file)
        return type(fn)(spec, fn.params)

    def adopt_cls(self, cls: Cls, functions: Mapping[str, Function]) -> Cls:
        return type(cls)(cls.info, {attr: functions[f.spec.tag] for attr, f in cls.methods.items()})


def _runs_on_aws(fn: Function) -> bool:
    return getattr(fn._runner(), "transport", None) is not None  # a CloudRunner has one


def _deployed_stats(functions: list[Function], start: datetime.datetime,
                    end: datetime.datetime) -> list[FunctionStats]:
    """The deployed functions' stats, their metrics asked together; ECS web services are left out."""
    from toolkit.cloud_stats import DeployedStats
    from toolkit.function_admin import deployed_function

    found = []
    for fn in functions:
        try:
            found.append(deployed_function(fn.spec, fn._runner(), "stats"))
        except NotSupportedError:
            continue  # an ECS web service: no call records, no Lambda (its ALB has the metrics)
    return DeployedStats(found[0].region).stats(found, start, end) if found else []


def _origin(obj: Any) -> Any:
    """What an entry was made from: included copies of the same function or class compare equal."""
    if hasattr(obj, "spec"):
        return obj.spec.raw_f
    return getattr(getattr(obj, "info", None), "user_cls", obj)


def _merge(app: str, kind: str, ours: dict[str, Any], theirs: Mapping[str, Any]) -> None:
    """Add ``theirs`` into ``ours``; the same name made from something else is a conflict."""
    clash = sorted(k for k, v in theirs.items() if k in ours and _origin(ours[k]) is not _origin(v))
    if clash:
        raise InvalidError(f"App.include(): {app!r} already has {kind.replace('_', ' ')} named "
                           f"{', '.join(map(repr, clash))}; rename one of them (e.g. @app.function(name=...)).")
    ours.update(theirs)


def refuse_app_options(name: str | None, *, volumes: Mapping[Any, Any], include_source: bool) -> None:
    """``App(volumes=..., include_source=False)``: accepted by name, refused when they would change
    behaviour toolkit does not have (app-wide mounts; leaving the source out of the image)."""
    if volumes:
        raise NotSupportedError(f"App({name!r}, volumes=...) is not supported by toolkit: volumes are mounted "
                                "per function. Instead, pass volumes={path: volume} to each @app.function/@app.cls.")
    if include_source is not True:
        raise NotSupportedError(f"App({name!r}, include_source={include_source!r}) is not supported by toolkit: "
                                "every image carries the app's source file (the runtime imports it). Instead, "
                                "leave include_source unset.")
