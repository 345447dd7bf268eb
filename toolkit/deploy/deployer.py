"""The composition root of the deploy workflow: one place that wires target, state store,
stack, image publisher, progress display and secret store, and runs the phases.

A deploy is plan -> apply from inert data (DESIGN §7): the app becomes a manifest, the
manifest plus the images become the stack config (``stack_config``), and the infra
program turns that config into resources.  Phases:

0. preflight, before any resource changes: the named secrets exist in Secrets Manager, and
   a LocalStack endpoint offers every service the app needs;
1. registry: on a stack whose *state* holds no ECR repository yet, ``pulumi up`` with
   ``toolkit:registryOnly=true`` so images have somewhere to go: untargeted only on a stack
   that owns no resources, else restricted with ``--target`` to the repository (state.py);
2. images: build what changed, push, get digests (skipped for ``--images FILE``);
3. everything: ``pulumi up`` with the manifest (in a file, not on a command line) and the digests;
4. secret values into the secrets the program declared;
5. verification: each endpoint's URL and each function's call path answer (verify.py).

An unchanged app gives byte-identical config (canonical JSON, digests not tags) and the
image builder skips unchanged images, so a redeploy builds nothing and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolkit.app import App
from toolkit.deploy.images import ImagePublisher, ToolkitImages
from toolkit.deploy.names import StackName, stack_name
from toolkit.deploy.offline import ResourcePlan, placeholder_images, plan_offline
from toolkit.deploy.outputs import DeployedApp, parse_outputs
from toolkit.deploy.progress import Progress
from toolkit.deploy.stack_config import stack_config
from toolkit.deploy.state import StackState, registry_targets
from toolkit.deploy.state_store import StackStateStore, resolve_state_store
from toolkit.deploy.target import Target, TargetKind, check_credentials, naming_region, resolve_target
from toolkit.deploy.verify import Check, verify
from toolkit.deploy.volumes import delete_volume_bucket, kept_message
from toolkit.deploy.workspace import PulumiSession, ensure_cli, workspace_dir

__all__ = ["DeployOptions", "DeployOutcome", "Deployer", "LoadedApp", "load_app_for_deploy"]


@dataclass(frozen=True)
class DeployOptions:
    environment: str | None = None
    region: str | None = None
    target: TargetKind = "aws"
    state_url: str | None = None
    ephemeral: bool = False  # `toolkit serve --cloud`: -dev labels, a <env>-dev stack
    verify: bool = False  # end the deploy by checking endpoints and call paths (verify.py); the CLI's default
    verify_timeout_s: float = 120.0  # how long DNS, certificates and warming targets may take to answer


@dataclass(frozen=True)
class LoadedApp:
    app: App
    manifest: dict[str, Any]
    stack: StackName

    @property
    def secrets(self) -> list[Any]:
        found = {s.name: s for s in self.app.secrets}
        for function in self.app.registered_functions.values():
            found.update({s.name: s for s in function.spec.secrets})
            found.update({b.secret.name: b.secret for _, b in function.spec.bucket_mounts if b.secret is not None})
        return [found[name] for name in sorted(found)]


def load_app_for_deploy(app: App, options: DeployOptions) -> LoadedApp:
    from toolkit.deploy.errors import DeployError
    from toolkit.manifest import build

    if not app.name:
        raise DeployError("Deploying needs an app name: create it as toolkit.App('my-app'), or name it on the "
                          "command line with --name my-app.")
    manifest = build(app, ephemeral=options.ephemeral, environment=options.environment)
    region = naming_region(options.target, options.region)
    _check_regions(app, options)
    return LoadedApp(app, manifest.to_dict(), stack_name(app.name, manifest.environment, region=region,
                                                         ephemeral=options.ephemeral))


def _check_regions(app: App, options: DeployOptions) -> None:
    """Functions with region= must agree with the deploy's region (only once one is configured:
    an offline plan without one has no region to disagree with)."""
    from toolkit.deploy.errors import DeployError, RegionError
    from toolkit.deploy.target import resolve_target
    from toolkit.exception import InvalidError
    from toolkit.options import check_regions

    try:
        region = resolve_target(options.target, options.region).region
    except RegionError:
        return
    try:
        check_regions(app.registered_functions.values(), region)
    except InvalidError as exc:
        raise DeployError(str(exc)) from None


@dataclass
class DeployOutcome:
    stack: StackName
    deployed: DeployedApp
    changes: dict[str, int]
    images: dict[str, str] = field(default_factory=dict)
    secrets_written: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if c.failed]

    def to_json(self) -> dict[str, Any]:
        return {"stack": str(self.stack), "changes": self.changes, "images": self.images,
                "secrets_written": self.secrets_written, "verification": [c.to_json() for c in self.checks],
                **self.deployed.to_json()}


def _config_map(values: dict[str, str]) -> dict[str, Any]:
    from pulumi.automation import ConfigValue

    return {key: ConfigValue(value=value) for key, value in values.items()}


@dataclass
class Deployer:
    options: DeployOptions
    progress: Progress = field(default_factory=Progress)
    publisher: ImagePublisher | None = None

    # -- wiring ----------------------------------------------------------------------------

    def target(self, *, needs_credentials: bool = True) -> Target:
        """Preflight, cheapest fix first: the CLI, then the region, then credentials."""
        ensure_cli()
        target = resolve_target(self.options.target, self.options.region)
        if needs_credentials:
            check_credentials(target)
        return target

    def state_store(self) -> StackStateStore:
        return resolve_state_store(self.options.state_url)

    def session(self, loaded: LoadedApp, target: Target) -> PulumiSession:
        return PulumiSession(loaded.stack, self.state_store(), target.env(), target.region)

    # -- operations ------------------------------------------------------------------------

    def plan(self, loaded: LoadedApp) -> ResourcePlan:
        """Offline: no CLI, no credentials; a region is only needed to name things."""
        target = Target(self.options.target, naming_region(self.options.target, self.options.region),
                        resolve_target("localstack").endpoint if self.options.target == "localstack" else None)
        config = stack_config(loaded.manifest, target, images=placeholder_images(loaded.manifest))
        return plan_offline(loaded.stack, config)

    def deploy(self, loaded: LoadedApp) -> DeployOutcome:
        target = self.target()
        self._preflight(loaded, target)
        session = self.session(loaded, target)
        self.progress.step(f"Stack {loaded.stack} ({target.kind}, {target.region}, state in {session.state.url})")
        stack = session.open(create=True)
        session.install_provider(stack)
        images = self._images(loaded, session, stack, target)
        self.progress.step("Deploying resources")
        self._set_config(session, stack, self._config(loaded, target, images=images))
        result = session.run("up", lambda: stack.up(on_output=self.progress.on_output,
                                                    on_event=self.progress.on_event, color="never"))
        changes = dict((result.summary.resource_changes if result.summary else None) or self.progress.changes)
        self.progress.changes = changes
        self.progress.summary("Resources")
        deployed = parse_outputs(result.outputs)
        written = self._secrets(loaded, deployed, target)
        checks = self._verify(deployed, target) if self.options.verify else []
        return DeployOutcome(loaded.stack, deployed, changes, images, written, checks)

    def preview(self, loaded: LoadedApp) -> dict[str, int]:
        target = self.target()
        session = self.session(loaded, target)
        stack = session.open(create=True)
        session.install_provider(stack)
        # The last deploy's digests where there are some: a preview of an unchanged app shows no changes.
        images = {**placeholder_images(loaded.manifest), **existing_images(session, stack)}
        self._set_config(session, stack, self._config(loaded, target, images=images))
        result = session.run("preview", lambda: stack.preview(on_output=self.progress.on_output,
                                                              on_event=self.progress.on_event, color="never"))
        self.progress.changes = dict(result.change_summary or {})
        self.progress.summary("Preview")
        return self.progress.changes

    def destroy(self, loaded: LoadedApp, *, delete_volumes: bool = False) -> dict[str, int]:
        """Delete the stack.  Its volume bucket stays (user data) unless ``delete_volumes``."""
        target = self.target()
        session = self.session(loaded, target)
        stack = session.open(create=False)
        volume_bucket = parse_outputs(session.run("stack output", stack.outputs)).volume_bucket
        self.progress.step(f"Destroying stack {loaded.stack}")
        result = session.run("destroy", lambda: stack.destroy(on_output=self.progress.on_output,
                                                              on_event=self.progress.on_event, color="never"))
        changes = dict((result.summary.resource_changes if result.summary else None) or self.progress.changes)
        session.run("stack rm", lambda: stack.workspace.remove_stack(loaded.stack.stack))
        if volume_bucket and delete_volumes:
            delete_volume_bucket(target.client("s3"), volume_bucket, self.progress.detail)
        elif volume_bucket:
            self.progress.detail(kept_message(volume_bucket))
        self.progress.changes = changes
        self.progress.summary("Destroyed")
        return changes

    def outputs(self, loaded: LoadedApp) -> DeployedApp:
        """What is deployed now (reads state only: no credentials needed)."""
        target = self.target(needs_credentials=False)
        session = self.session(loaded, target)
        stack = session.open(create=False)
        return parse_outputs(session.run("stack output", stack.outputs))

    # -- phases ----------------------------------------------------------------------------

    def _preflight(self, loaded: LoadedApp, target: Target) -> None:
        """Checks that need the account but change nothing: a failure here leaves every
        resource as it was (a missing named secret used to surface after `pulumi up`)."""
        from toolkit.deploy.aws_secrets import check_named_secrets
        from toolkit.deploy.localstack import check_localstack

        if target.endpoint is not None:
            check_localstack(target, loaded.manifest)
        named = [s.name for s in loaded.secrets if s.source == "named"]
        if named:
            self.progress.step("Checking named secrets")
            check_named_secrets(target.client("secretsmanager"), named)

    def _config(self, loaded: LoadedApp, target: Target, *, images: dict[str, str] | None = None,
                registry_only: bool = False) -> dict[str, str]:
        manifests = workspace_dir(loaded.stack.project) / "manifests" / loaded.stack.stack
        return stack_config(loaded.manifest, target, images=images, registry_only=registry_only,
                            manifest_dir=manifests)

    def _set_config(self, session: PulumiSession, stack: Any, values: dict[str, str]) -> None:
        session.run("config set-all", lambda: stack.set_all_config(_config_map(values)))

    def _images(self, loaded: LoadedApp, session: PulumiSession, stack: Any, target: Target) -> dict[str, str]:
        publisher = self.publisher or ToolkitImages()
        repository: str | None = None
        if publisher.needs_registry:
            repository = self._repository(loaded, session, stack, target)
        self.progress.step("Images")
        with target.applied():  # each build a task with its steps counted and its time (toolkit.progress)
            return publisher.publish(loaded.manifest, repository, self.progress.display())

    def _repository(self, loaded: LoadedApp, session: PulumiSession, stack: Any, target: Target) -> str | None:
        """The stack's ECR repository, created first when the stack's state has none."""
        found = parse_outputs(session.run("stack output", stack.outputs)).repository_url
        if found:
            return found
        state = stack_state(session, stack)
        if state.repository_url:  # outputs lost (a failed update), resources intact
            return state.repository_url
        self._registry_phase(loaded, session, stack, target, targeted=state.owns_resources)
        return parse_outputs(session.run("stack output", stack.outputs)).repository_url or \
            stack_state(session, stack).repository_url

    def _registry_phase(self, loaded: LoadedApp, session: PulumiSession, stack: Any, target: Target, *,
                        targeted: bool) -> None:
        """``registryOnly`` declares one repository: on a stack that owns other resources an
        untargeted ``up`` of it would delete them all, so that case runs with ``--target``."""
        targets = registry_targets(loaded.stack.stack, loaded.stack.project) if targeted else None
        self.progress.step("Creating the image registry" + (" (targeted: other resources untouched)" if targeted
                                                            else " (first deploy of this stack)"))
        self._set_config(session, stack, self._config(loaded, target, registry_only=True))
        session.run("up", lambda: stack.up(target=targets, on_output=self.progress.on_output,
                                           on_event=self.progress.on_event, color="never"))

    def _verify(self, deployed: DeployedApp, target: Target) -> list[Check]:
        if not deployed.endpoints and not deployed.functions:
            return []
        self.progress.step(f"Verifying (endpoints answer, call paths; up to {self.options.verify_timeout_s:.0f} s)")
        checks = verify(deployed, target.client, timeout_s=self.options.verify_timeout_s)
        self.progress.table("Verification", ("endpoint", "URL", "status", "latency", "result"),
                            [c.row() for c in checks], err=True)
        return checks

    def _secrets(self, loaded: LoadedApp, deployed: DeployedApp, target: Target) -> list[str]:
        if not deployed.secret_arns:
            return []
        from toolkit.deploy.aws_secrets import sync_stack_secrets

        self.progress.step("Secrets")
        written = sync_stack_secrets(target.client("secretsmanager"), loaded.secrets, deployed.secret_arns,
                                     self.progress.detail)
        if written:
            self._restart(loaded, deployed, target, written)
        return written

    def _restart(self, loaded: LoadedApp, deployed: DeployedApp, target: Target, written: list[str]) -> None:
        """Containers read secrets at start: restart the ECS services that use a changed one."""
        from toolkit.deploy.restarts import functions_using, restart_services

        tags = functions_using(loaded.manifest, written)
        definitions = {t: str(deployed.function_outputs.get(t, {}).get("task_definition_arn")) for t in tags
                       if deployed.function_outputs.get(t, {}).get("task_definition_arn")}
        restart_services(target.client("ecs"), deployed.cluster_arn, definitions, self.progress.detail)
        on_lambda = sorted(set(tags) - set(definitions))
        if on_lambda:
            self.progress.detail(f"{', '.join(on_lambda)}: Lambda reads the new value in new execution "
                                 "environments (cold starts); warm ones keep the old value until recycled")


def stack_state(session: PulumiSession, stack: Any) -> StackState:
    """The resources in the stack's state (``pulumi stack export``)."""
    exported = session.run("stack export", stack.export_stack)
    return StackState.from_deployment(exported.deployment)


def existing_images(session: PulumiSession, stack: Any) -> dict[str, str]:
    """The images the last deploy used (its ``toolkit:images`` config), for a faithful preview."""
    import json

    values = session.run("config get", lambda: stack.get_all_config())
    raw = values.get("toolkit:images")
    return dict(json.loads(raw.value)) if raw is not None and raw.value else {}
