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
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, NamedTuple

from runtime.manifest import ComputeTarget
from toolkit.exception import InvalidError
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


# what a deployed variant differs by: its own resources, scaling, retries and secrets
_DEPLOYED_FIELDS = ("cpu", "memory", "gpu", "timeout", "retries", "min_containers", "max_containers",
                    "buffer_containers", "scaledown_window", "backend", "max_inputs", "target_inputs", "batch",
                    "regions", "volumes")


class Variant(NamedTuple):
    """A variant recorded on its App for deploy (the runtime finds its code through ``spec.raw_f``)."""

    spec: FunctionSpec


def _options_key(spec: FunctionSpec) -> str:
    values = [repr(getattr(spec, name)) for name in _DEPLOYED_FIELDS] + [repr(sorted(s.name for s in spec.secrets))]
    return hashlib.sha256("\n".join(values).encode()).hexdigest()[:8]


def _app_of(spec: FunctionSpec) -> Any:
    from toolkit.loaded import loaded_apps

    return next((a for a in loaded_apps() if a.name == spec.app_name and spec.tag in a.registered_functions), None)


def deployed_tag(spec: FunctionSpec) -> str:
    """The tag this handle's function is deployed under: the function's own, or its variant's."""
    app = _app_of(spec)
    original = app.registered_functions[spec.tag].spec if app is not None else None
    if original is None or _options_key(original) == _options_key(spec):
        return spec.tag
    return f"{spec.tag}~{_options_key(spec)}"


def registered_variants(app: Any) -> dict[str, Variant]:
    """The variants made of ``app``'s functions so far, by deployed tag."""
    found: dict[str, Variant] = vars(app).setdefault("registered_variants", {})
    return found


def _register(spec: FunctionSpec) -> FunctionSpec:
    app = _app_of(spec)
    tag = deployed_tag(spec)
    if app is not None and spec.web is None and tag != spec.tag:
        registered_variants(app)[tag] = Variant(spec)
    return spec


def with_options(spec: FunctionSpec, given: Mapping[str, Any]) -> FunctionSpec:
    """``spec`` with the options the caller set, recorded on its App for deploy."""
    return _register(_with_options(spec, given))


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
    return _register(replace(spec, max_inputs=max_inputs, target_inputs=target_inputs))


def with_batching(spec: FunctionSpec, max_batch_size: int, wait_ms: int) -> FunctionSpec:
    """``spec`` collecting its inputs into batches (``@toolkit.batched``'s checks): enables batching, or
    changes its sizes; the function must be written over lists."""
    if spec.max_inputs > 1:
        raise InvalidError(f"{spec.tag!r} is @toolkit.concurrent; with_batching() does not apply to it "
                           "(a batched function already takes many inputs at once).")
    batched(max_batch_size=max_batch_size, wait_ms=wait_ms)(PartialFunction(spec.raw_f, spec.web))  # checks
    return _register(replace(spec, batch=BatchConfig(max_batch_size, wait_ms)))
