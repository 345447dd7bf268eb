"""App -> manifest: the plain-JSON description every later phase reads (see docs/manifest.md).

The schema is `runtime.manifest` (typed records, ``load``); this module fills those records
from the app's `FunctionSpec` s, applying every default once, and returns their JSON.
Deterministic by construction: functions sorted by tag, keys sorted on output, no
timestamps, no secret values.
"""

from __future__ import annotations

import os
from typing import Any

from runtime import manifest as schema
from runtime.manifest import SCHEMA_VERSION, Manifest
from toolkit import config, urls
from toolkit.app import App
from toolkit.exception import InvalidError
from toolkit.functions import Function
from toolkit.spec import FunctionSpec

__all__ = ["SCHEMA_VERSION", "build", "build_manifest", "dumps"]


def _source(app: App, source_ref: dict[str, Any] | None) -> schema.Source:
    if source_ref is not None:
        return schema.Source(**source_ref)
    specs = [f.spec for f in app.registered_functions.values()]
    if not specs:
        return schema.Source(kind="module")
    spec = specs[0]
    path = os.path.relpath(spec.source_file) if spec.source_file else None
    return schema.Source("file" if path else "module", spec.module, path, None)


def _cls(spec: FunctionSpec) -> schema.ClsSpec | None:
    if spec.cls is None:
        return None
    return schema.ClsSpec(spec.cls.name, tuple(schema.ClsParameter(n, t, d) for n, t, d in spec.cls.parameters))


def _web(function: Function, ephemeral: bool, environment: str | None) -> schema.WebConfig | None:
    web = function.spec.web
    if web is None:
        return None
    label = web.label or urls.default_label(function.spec.app_name, function.spec.tag)
    host = urls.host_label(label, workspace=config.setting("workspace") or "default",
                           environment=environment, ephemeral=ephemeral)
    return schema.WebConfig(
        label=label, host=host, method=web.method, docs=web.docs, user_label=web.label is not None,
        requires_proxy_auth=web.requires_proxy_auth, custom_domains=tuple(sorted(web.custom_domains)),
        port=web.port, startup_timeout=web.startup_timeout, url=urls.web_url(host),
    )


def _image(spec: FunctionSpec) -> schema.ImageSpec:
    image = spec.image.to_dict()
    return schema.ImageSpec(image["base"], tuple(image["steps"]), image["spec_hash"])


def _function(function: Function, ephemeral: bool, environment: str | None) -> schema.FunctionEntry:
    spec = function.spec
    retries = spec.retries
    return schema.FunctionEntry(
        tag=spec.tag, name=spec.name, kind=spec.kind, is_async=spec.is_async, is_generator=spec.is_generator,
        cls=_cls(spec), backend=spec.backend, image=_image(spec),
        resources=schema.Resources(spec.cpu, spec.memory, spec.gpu, spec.timeout, spec.ephemeral_disk),
        scaling=schema.Scaling(spec.min_containers, spec.max_containers, spec.buffer_containers,
                               spec.scaledown_window, spec.max_inputs, spec.target_inputs),
        retries=None if retries is None else schema.Retries(
            retries.max_retries, retries.backoff_coefficient, retries.initial_delay, retries.max_delay),
        secrets=tuple(sorted((schema.SecretRef(s.name, s.source, tuple(sorted(s.keys))) for s in spec.secrets),
                             key=lambda s: s.name)),
        web=_web(function, ephemeral, environment), schedule=_schedule(spec),
        volumes=tuple(schema.VolumeMount(*mount) for mount in spec.volumes),
        bucket_mounts=tuple(bucket.manifest_entry(path) for path, bucket in spec.bucket_mounts), proxy=spec.proxy,
    )


def _schedule(spec: FunctionSpec) -> schema.ScheduleSpec | None:
    if spec.schedule is None:
        return None
    data = spec.schedule.to_dict()
    if data["kind"] == "cron":
        return schema.ScheduleSpec("cron", data["cron_string"], data["timezone"])
    return schema.ScheduleSpec("period", period=tuple((k, v) for k, v in data.items() if k != "kind"))


def build(app: App, *, ephemeral: bool = False, environment: str | None = None,
          source: dict[str, Any] | None = None) -> Manifest:
    """The typed manifest of ``app``.  ``source`` overrides how the runtime should find the app again."""
    environment = environment if environment is not None else config.setting("environment")
    functions = tuple(_function(app.registered_functions[tag], ephemeral, environment)
                      for tag in sorted(app.registered_functions)) + _variants(app, ephemeral, environment)
    _check_unique_hosts(app, functions)
    return Manifest(
        app_name=app.name, source=_source(app, source), functions=functions,
        workspace=urls.source(config.setting("workspace") or "default"), environment=environment,
        ephemeral=ephemeral, sandbox_images=_sandbox_images(app, functions), uses_sandboxes=_uses_sandboxes(app),
    )


def _sandbox_images(app: App, functions: tuple[schema.FunctionEntry, ...]) -> tuple[schema.ImageSpec, ...]:
    """Images declared for sandboxes that no function uses: the deploy builds them too (docs/sandboxes.md)."""
    from toolkit.sandboxes.declared import sandbox_only_images

    used = [fn.image.spec_hash for fn in functions if fn.image]
    return tuple(schema.ImageSpec(i["base"], tuple(i["steps"]), i["spec_hash"]) for i in sandbox_only_images(app, used))


def _uses_sandboxes(app: App) -> bool:
    from toolkit.sandboxes.declared import refers_to_sandboxes

    return refers_to_sandboxes(app)


def build_manifest(app: App, *, ephemeral: bool = False, environment: str | None = None,
                   source: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of ``app`` as JSON data (`build` gives the typed form)."""
    return build(app, ephemeral=ephemeral, environment=environment, source=source).to_dict()


def _variants(app: App, ephemeral: bool, environment: str | None) -> tuple[schema.FunctionEntry, ...]:
    """Each module-level ``with_options`` variant as a function of its own, under its deployed tag."""
    from toolkit.variants import registered_variants

    found = registered_variants(app)
    return tuple(_function(Function(found[tag].spec), ephemeral, environment)._replace(tag=tag) for tag in sorted(found))


def _check_unique_hosts(app: App, functions: tuple[schema.FunctionEntry, ...]) -> None:
    seen: dict[str, str] = {}
    for entry in functions:
        if entry.web is None:
            continue
        host = entry.web.host
        if host in seen:
            raise InvalidError(
                f"App {app.app_name!r}: {seen[host]!r} and {entry.tag!r} would both be served at {host!r}; "
                "give one of them a different label=..."
            )
        seen[host] = entry.tag


dumps = schema.dumps
