"""Variants of a function with other options: ``fn.with_options(...)``, ``with_concurrency``, ``with_batching``.

A variant is the same code with another `FunctionSpec`; the handle it gives runs in a worker
pool of its own locally (`toolkit.local.runner` keys pools by these settings), as the hosted
platform gives it containers of its own.  Options are checked as ``@app.function`` checks them.
Locally, ``cpu``/``memory``/``gpu`` size nothing (workers are processes).

On AWS a variant is a function of its own: each variant made while the app's module is imported
(``big = f.with_options(gpu="A10G")`` at module level) is recorded on its App (`registered_variants`)
under a tag derived from the function's and the options' (`deployed_tag`: ``f~1a2b3c4d``), the manifest
lists it beside the function, and deploy gives it its own Lambda or ECS task and worker, sized by
the variant.  ``.remote`` on the variant inside AWS calls that one.  A variant first made at run time
inside a deployed function is not deployed: calling it names the tag to declare at module level.
Variants of web endpoints are not deployed separately (they would share the endpoint's URL).

The hash covers only the options in which the variant differs from its function (`deployed_options`,
plain JSON values), so a process that looked the app up by name (`toolkit.deployed_apps`), whose
handle knows the function's options from the call map and nothing of its code, computes the same tag
from the same ``with_options(...)`` and calls that deployed variant; one that was not deployed is
refused there and then, naming the variants that were.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, NamedTuple

from runtime.manifest import ComputeTarget
from toolkit.deployed_code import bound_runner
from toolkit.exception import InvalidError, NotFoundError
from toolkit.options import normalise
from toolkit.partial import BatchConfig, PartialFunction, batched, concurrent
from toolkit.spec import FunctionSpec, as_retries, check_resources, resolve_compute_target

# with_options keywords -> the FunctionSpec fields they set (from the normalised options)
_FIELDS = {
    "cpu": ("cpu",), "memory": ("memory",), "gpu": ("gpu",), "timeout": ("timeout",),
    "max_containers": ("max_containers",), "min_containers": ("min_containers",),
    "buffer_containers": ("buffer_containers",), "scaledown_window": ("scaledown_window",),
    "volumes": ("volumes", "bucket_mounts"), "region": ("regions",),
}




class Variant(NamedTuple):
    """A variant recorded on its App for deploy (the runtime finds its code through ``spec.raw_f``)."""

    spec: FunctionSpec


def deployed_options(spec: FunctionSpec) -> dict[str, Any]:
    """What a deployed variant differs by (its own resources, scaling, retries, secrets, volumes, batching),
    as plain JSON values: `runtime.callmap.deployed_options` gives the same keys and forms from the
    manifest (but ``batch`` and ``regions``, which the manifest does not carry)."""
    retries, batch = spec.retries, spec.batch
    return {
        "cpu": None if spec.cpu is None else float(spec.cpu), "memory": spec.memory, "gpu": spec.gpu,
        "timeout": spec.timeout, "min_containers": spec.min_containers, "max_containers": spec.max_containers,
        "buffer_containers": spec.buffer_containers, "scaledown_window": spec.scaledown_window,
        "max_inputs": spec.max_inputs, "target_inputs": spec.target_inputs, "backend": spec.backend,
        "retries": None if retries is None else [retries.max_retries, float(retries.backoff_coefficient),
                                                 float(retries.initial_delay), float(retries.max_delay)],
        "secrets": sorted(s.name for s in spec.secrets), "volumes": [list(v) for v in spec.volumes],
        "bucket_mounts": [list(bucket.manifest_entry(path)) for path, bucket in spec.bucket_mounts],
        "batch": None if batch is None else [batch.max_batch_size, batch.wait_ms], "regions": list(spec.regions),
    }


def _options_key(original: FunctionSpec, spec: FunctionSpec) -> str | None:
    """The variant's hash over the options it changes; None when it changes none (it is the function)."""
    base, mine = deployed_options(original), deployed_options(spec)
    changed = {name: value for name, value in mine.items() if base[name] != value}
    if not changed:
        return None
    return hashlib.sha256(json.dumps(changed, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:8]


def _app_of(spec: FunctionSpec) -> Any:
    """The App holding the function ``spec`` is a variant of: the one whose function has the same code
    (a deployed app looked up here and a local app may share a name), else the first of that name."""
    from toolkit.loaded import loaded_apps

    apps = [a for a in loaded_apps() if a.name == spec.app_name and spec.tag in a.registered_functions]
    same_code = (a for a in apps if a.registered_functions[spec.tag].spec.raw_f is spec.raw_f)
    return next(same_code, apps[0] if apps else None)


def deployed_tag(spec: FunctionSpec) -> str:
    """The tag this handle's function is deployed under: the function's own, or its variant's."""
    app = _app_of(spec)
    key = _options_key(app.registered_functions[spec.tag].spec, spec) if app is not None else None
    return spec.tag if key is None else f"{spec.tag}~{key}"


def registered_variants(app: Any) -> dict[str, Variant]:
    """The variants made of ``app``'s functions so far, by deployed tag."""
    found: dict[str, Variant] = vars(app).setdefault("registered_variants", {})
    return found


def _register(spec: FunctionSpec, given: Mapping[str, Any]) -> FunctionSpec:
    runner = bound_runner(spec.raw_f)
    if runner is not None:  # a looked-up deployed function: the variant must have been deployed with the app
        _check_deployed(spec, runner.transport.targets, given)
        return spec
    app = _app_of(spec)
    tag = deployed_tag(spec)
    if app is not None and spec.web is None and tag != spec.tag:
        registered_variants(app)[tag] = Variant(spec)
    return spec


def _check_deployed(spec: FunctionSpec, targets: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """Refuse a variant of a looked-up function that its app's deploy did not deploy (a web endpoint's
    variants are never deployed apart: they answer at the endpoint's URL, and its calls refuse anyway)."""
    tag = deployed_tag(spec)
    if spec.web is not None or tag in targets:
        return
    options = ", ".join(f"{k}={v!r}" for k, v in given.items() if v is not None)
    variants = sorted(t for t in targets if t.startswith(f"{spec.tag}~"))
    owner = spec.cls.name if spec.cls is not None else spec.name  # a method's variants are made of its class
    raise NotFoundError(
        f"{spec.app_name}.{spec.tag}.with_options({options}) would call the deployed variant {tag!r}, which app "
        f"{spec.app_name!r} does not have (its variants of {spec.tag!r}: {', '.join(variants) or 'none'}). A variant "
        "is deployed only when the app's module makes it at import: add e.g. "
        f"`{owner}_variant = {owner}.with_options({options})` beside the function and run `toolkit deploy` "
        "again (an app deployed before call maps recorded options needs that redeploy too).")


def with_options(spec: FunctionSpec, given: Mapping[str, Any]) -> FunctionSpec:
    """``spec`` with the options the caller set, recorded on its App for deploy."""
    return _register(_with_options(spec, given), given)


def _with_options(spec: FunctionSpec, given: Mapping[str, Any]) -> FunctionSpec:
    """``spec`` with the options the caller set (None means "keep"); ``secrets``/``env`` replace the
    function's secrets, as on the hosted platform."""
    where = f"{spec.app_name}.{spec.tag}.with_options"
    set_options = {k: v for k, v in given.items() if v is not None}
    opts = normalise(where, set_options, {})
    changes: dict[str, Any] = {}
    for option, fields in _FIELDS.items():
        if option in set_options:
            changes.update({f: getattr(opts, f) for f in fields})
    if "retries" in set_options:
        changes["retries"] = as_retries(where, set_options["retries"])
    if "secrets" in set_options or "env" in set_options:
        changes["secrets"] = opts.secrets
    variant = replace(spec, **changes)
    check_resources(where, gpu=variant.gpu, cpu=variant.cpu, memory=variant.memory, timeout=variant.timeout,
                    min_containers=variant.min_containers, max_containers=variant.max_containers)
    return replace(variant, backend=_compute_target(where, variant))


def _compute_target(where: str, spec: FunctionSpec) -> ComputeTarget:
    # keep the function's compute target while it can still run the variant; otherwise choose again
    try:
        return resolve_compute_target(where, spec.backend, spec.gpu, spec.web, spec.timeout)
    except InvalidError:
        return resolve_compute_target(where, "auto", spec.gpu, spec.web, spec.timeout)


def with_concurrency(spec: FunctionSpec, max_inputs: int, target_inputs: int | None) -> FunctionSpec:
    """``spec`` taking up to ``max_inputs`` inputs at once per worker (``@toolkit.concurrent``'s checks)."""
    if spec.batch is not None:
        raise InvalidError(f"{spec.tag!r} is @toolkit.batched; with_concurrency() does not apply to it "
                           "(use with_batching() to change its batch size).")
    concurrent(max_inputs=max_inputs, target_inputs=target_inputs)  # validates; the decorator is not applied
    variant = replace(spec, max_inputs=max_inputs, target_inputs=target_inputs)
    return _register(variant, {"max_inputs": max_inputs, "target_inputs": target_inputs})


def with_batching(spec: FunctionSpec, max_batch_size: int, wait_ms: int) -> FunctionSpec:
    """``spec`` collecting its inputs into batches (``@toolkit.batched``'s checks): enables batching, or
    changes its sizes; the function must be written over lists."""
    if spec.max_inputs > 1:
        raise InvalidError(f"{spec.tag!r} is @toolkit.concurrent; with_batching() does not apply to it "
                           "(a batched function already takes many inputs at once).")
    batched(max_batch_size=max_batch_size, wait_ms=wait_ms)(PartialFunction(spec.raw_f, spec.web))  # checks
    variant = replace(spec, batch=BatchConfig(max_batch_size, wait_ms))
    return _register(variant, {"max_batch_size": max_batch_size, "wait_ms": wait_ms})
