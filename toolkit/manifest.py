"""App -> manifest: the plain-JSON description every later phase reads (see docs/manifest.md).

Deterministic by construction: functions sorted by tag, keys sorted on output, no
timestamps, no secret values.
"""

from __future__ import annotations

import json
import os
from typing import Any

from toolkit import config, urls
from toolkit.app import App
from toolkit.exception import InvalidError
from toolkit.functions import Function
from toolkit.spec import FunctionSpec

SCHEMA_VERSION = 1


def _source(app: App, source_ref: dict[str, Any] | None) -> dict[str, Any]:
    if source_ref is not None:
        return source_ref
    specs = [f.spec for f in app.registered_functions.values()]
    if not specs:
        return {"kind": "module", "module": None, "path": None, "app_variable": None}
    spec = specs[0]
    path = os.path.relpath(spec.source_file) if spec.source_file else None
    return {"kind": "file" if path else "module", "module": spec.module, "path": path, "app_variable": None}


def _cls(spec: FunctionSpec) -> dict[str, Any] | None:
    if spec.cls is None:
        return None
    params = [{"name": n, "type": t, "default": d.hex() if isinstance(d, bytes) else d}
              for n, t, d in spec.cls.parameters]
    return {"name": spec.cls.name, "parameters": params}


def _web(function: Function, ephemeral: bool, environment: str | None) -> dict[str, Any] | None:
    web = function.spec.web
    if web is None:
        return None
    label = web.label or urls.default_label(function.spec.app_name, function.spec.tag)
    host = urls.host_label(label, workspace=config.setting("workspace") or "default",
                           environment=environment, ephemeral=ephemeral)
    return {
        "method": web.method, "docs": web.docs, "label": label, "user_label": web.label is not None,
        "requires_proxy_auth": web.requires_proxy_auth, "custom_domains": sorted(web.custom_domains),
        "port": web.port, "startup_timeout": web.startup_timeout, "host": host, "url": urls.web_url(host),
    }


def _function(function: Function, ephemeral: bool, environment: str | None) -> dict[str, Any]:
    spec = function.spec
    return {
        "tag": spec.tag, "name": spec.name, "kind": spec.kind, "is_async": spec.is_async,
        "is_generator": spec.is_generator, "cls": _cls(spec), "backend": spec.backend,
        "image": spec.image.to_dict(),
        "resources": {"cpu": spec.cpu, "memory": spec.memory, "gpu": spec.gpu, "timeout": spec.timeout,
                      "ephemeral_disk": spec.ephemeral_disk},
        "scaling": {"min_containers": spec.min_containers, "max_containers": spec.max_containers,
                    "buffer_containers": spec.buffer_containers, "scaledown_window": spec.scaledown_window,
                    "max_inputs": spec.max_inputs, "target_inputs": spec.target_inputs},
        "retries": None if spec.retries is None else {
            "max_retries": spec.retries.max_retries, "backoff_coefficient": spec.retries.backoff_coefficient,
            "initial_delay": spec.retries.initial_delay, "max_delay": spec.retries.max_delay},
        "secrets": sorted((s.to_dict() for s in spec.secrets), key=lambda s: s["name"]),
        "web": _web(function, ephemeral, environment),
    }


def build_manifest(app: App, *, ephemeral: bool = False, environment: str | None = None,
                   source: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of ``app``.  ``source`` overrides how the runtime should find the app again."""
    environment = environment if environment is not None else config.setting("environment")
    functions = [_function(app.registered_functions[tag], ephemeral, environment)
                 for tag in sorted(app.registered_functions)]
    _check_unique_hosts(app, functions)
    return {
        "schema_version": SCHEMA_VERSION,
        "app": {"name": app.name, "source": _source(app, source)},
        "workspace": urls.source(config.setting("workspace") or "default"),
        "environment": environment,
        "ephemeral": ephemeral,
        "functions": functions,
    }


def _check_unique_hosts(app: App, functions: list[dict[str, Any]]) -> None:
    seen: dict[str, str] = {}
    for entry in functions:
        if entry["web"] is None:
            continue
        host = entry["web"]["host"]
        if host in seen:
            raise InvalidError(
                f"App {app.app_name!r}: {seen[host]!r} and {entry['tag']!r} would both be served at {host!r}; "
                "give one of them a different label=..."
            )
        seen[host] = entry["tag"]


def dumps(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"
