"""The app manifest as types: the one module that parses it (docs/manifest.md is the prose).

`toolkit.manifest` writes a `Manifest` built from these records (``to_dict()`` is the JSON);
``toolkit serve``, the image planner, the Pulumi program and the container runtime read it
with `load`, which checks ``schema_version`` and every field's type, and names the field and
the fix when one is wrong.  Readers use the typed fields and never re-default: a field the
JSON leaves out takes the default declared here, once (hand-written manifests in tests and
older files omit what they do not use; the writer always writes every field).

Stdlib only, and NamedTuples rather than dataclasses: every Lambda cold start defines these
classes (bench/bench_runtime.py).

Front door (``runtime.FRONT_DOORS``): the SDK imports the typed manifest (`Manifest`,
`FunctionEntry`, ...), `load` and `dumps`: the writer in ``toolkit.manifest`` builds these records
and every reader loads them; `__all__` is what it offers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar, cast

from runtime import params as codec

__all__ = [
    "BucketMount",
    "COMPUTE_TARGETS",
    "ComputeTarget",
    "DEFAULT_TIMEOUT_S",
    "KINDS",
    "Kind",
    "SANDBOX_IMAGE_PREFIX",
    "SCHEMA_VERSION",
    "ClsParameter",
    "ClsSpec",
    "FunctionEntry",
    "ImageSpec",
    "Manifest",
    "ManifestError",
    "Resources",
    "Retries",
    "Scaling",
    "ScheduleSpec",
    "SecretRef",
    "Source",
    "VolumeMount",
    "WebConfig",
    "dumps",
    "load",
    "sandbox_image_key",
]

SCHEMA_VERSION = 1
Kind = Literal["function", "fastapi_endpoint", "asgi_app", "wsgi_app", "web_server"]
KINDS: tuple[Kind, ...] = ("function", "fastapi_endpoint", "asgi_app", "wsgi_app", "web_server")
ComputeTarget = Literal["lambda", "ecs", "gpu"]  # where a function runs
COMPUTE_TARGETS: tuple[ComputeTarget, ...] = ("lambda", "ecs", "gpu")  # resolved: "auto" never reaches a manifest
PARAMETER_TYPES = tuple(codec.TYPE_NAMES.values())
DEFAULT_TIMEOUT_S = 300
_FIX = "regenerate it with `toolkit manifest app.py` (the schema is docs/manifest.md)"
SANDBOX_IMAGE_PREFIX = "sandbox-image:"  # toolkit:images keys of sandbox-only images (not function tags)



class ManifestError(ValueError):
    """The manifest cannot be used: the message names the field, the value and the fix."""


class Source(NamedTuple):
    """How the runtime finds the app again: a file (``path``, relative) or an importable ``module``."""

    kind: str = "module"
    module: str | None = None
    path: str | None = None
    app_variable: str | None = None


class ClsParameter(NamedTuple):
    name: str
    type: str  # int | str | bool | bytes
    default: Any = None  # int | str | bool | bytes, decoded: a bytes default is bytes here, hex in the JSON


class ClsSpec(NamedTuple):
    name: str
    parameters: tuple[ClsParameter, ...] = ()


class Resources(NamedTuple):
    cpu: float | None = None
    memory: int | None = None
    gpu: str | None = None
    timeout: int = DEFAULT_TIMEOUT_S
    ephemeral_disk: int | None = None


class Scaling(NamedTuple):
    min_containers: int = 0
    max_containers: int | None = None
    buffer_containers: int = 0
    scaledown_window: int = 60
    max_inputs: int = 1
    target_inputs: int | None = None


class Retries(NamedTuple):
    max_retries: int
    backoff_coefficient: float = 2.0
    initial_delay: float = 1.0
    max_delay: float = 60.0


class SecretRef(NamedTuple):
    name: str
    source: str = "named"  # named | dict | dotenv ...: where the values came from (never the values)
    keys: tuple[str, ...] = ()


class VolumeMount(NamedTuple):
    """``volumes={path: vol}`` of a function: the container mounts volume ``name`` at ``path``."""

    path: str  # absolute, normalised
    name: str
    create_if_missing: bool = False  # from_name(..., create_if_missing=True): the first mount creates it
    read_only: bool = False  # vol.read_only(): never committed; deployed, the function may not write it


class BucketMount(NamedTuple):
    """``volumes={path: CloudBucketMount(...)}``: the container syncs objects under ``key_prefix`` of an S3
    bucket to ``path`` (runtime.volumes.buckets).  ``secret`` names the toolkit Secret whose AWS_* keys
    sign the requests; without one, the container's own credentials (deployed: the function's role)."""

    path: str  # absolute, normalised
    bucket_name: str
    endpoint_url: str | None = None  # an S3-compatible endpoint; None: AWS S3
    key_prefix: str = ""  # "" or ending in "/"
    secret: str | None = None
    oidc_auth_role_arn: str | None = None  # a role to assume with the container's credentials
    read_only: bool = False
    requester_pays: bool = False
    force_path_style: bool = False


class ImageSpec(NamedTuple):
    """The image recipe.  Its base and steps stay JSON objects: the image planner renders them op by op."""

    base: Mapping[str, Any]
    steps: tuple[Mapping[str, Any], ...] = ()
    spec_hash: str = ""


class WebConfig(NamedTuple):
    label: str
    host: str = ""  # <workspace>[-<env>]--<label>[-dev]: the DNS label the endpoint answers to
    method: str | None = None  # fastapi_endpoint only
    docs: bool = False
    user_label: bool = False
    requires_proxy_auth: bool = False
    custom_domains: tuple[str, ...] = ()
    port: int | None = None  # web_server only
    startup_timeout: float | None = None  # web_server only, seconds
    url: str | None = None


class ScheduleSpec(NamedTuple):
    """``schedule=`` of a function (`toolkit.schedule`); JSON: the flat ``to_dict()`` of Period/Cron."""

    kind: str  # "period" | "cron"
    cron_string: str | None = None
    timezone: str = "UTC"
    period: tuple[tuple[str, float], ...] = ()  # (unit, count), e.g. (("minutes", 5),)

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "cron":
            return {"kind": "cron", "cron_string": self.cron_string, "timezone": self.timezone}
        return {"kind": "period", **dict(self.period)}


class FunctionEntry(NamedTuple):
    tag: str  # function name, or "Cls.method"
    name: str
    kind: Kind
    is_async: bool = False
    is_generator: bool = False
    cls: ClsSpec | None = None
    backend: ComputeTarget = "lambda"  # after `_placement`; named as the user option `backend=` and the key
    image: ImageSpec | None = None
    resources: Resources = Resources()
    scaling: Scaling = Scaling()
    retries: Retries | None = None
    secrets: tuple[SecretRef, ...] = ()
    web: WebConfig | None = None
    schedule: ScheduleSpec | None = None
    volumes: tuple[VolumeMount, ...] = ()
    bucket_mounts: tuple[BucketMount, ...] = ()  # CloudBucketMounts among volumes=
    proxy: str | None = None  # proxy=toolkit.Proxy.from_name(name): egress through that static IP (infra)

    @property
    def is_web(self) -> bool:
        return self.web is not None and self.kind != "function"

    @property
    def is_method(self) -> bool:
        return self.cls is not None

    @property
    def timeout(self) -> int:
        return self.resources.timeout


class Manifest(NamedTuple):
    app_name: str | None
    source: Source
    functions: tuple[FunctionEntry, ...] = ()
    workspace: str = "default"
    environment: str | None = None
    ephemeral: bool = False
    schema_version: int = SCHEMA_VERSION
    # images declared for sandboxes that no function uses (docs/sandboxes.md): the deploy builds each
    sandbox_images: tuple[ImageSpec, ...] = ()
    # the app's code refers to Sandbox: the deploy plans the AWS side of sandboxes (docs/sandboxes.md)
    uses_sandboxes: bool = False

    def function(self, tag: str) -> FunctionEntry:
        for entry in self.functions:
            if entry.tag == tag:
                return entry
        known = ", ".join(f.tag for f in self.functions) or "none"
        raise ManifestError(f"function {tag!r} is not in the manifest; it has: {known}.")

    def with_source(self, source: Source) -> Manifest:
        return self._replace(source=source)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (docs/manifest.md); ``load(m.to_dict()) == m``."""
        return {
            "schema_version": self.schema_version,
            "app": {"name": self.app_name, "source": self.source._asdict()},
            "workspace": self.workspace,
            "environment": self.environment,
            "ephemeral": self.ephemeral,
            "functions": [_function_dict(f) for f in self.functions],
            "sandbox_images": [_image_dict(i) for i in self.sandbox_images],
            "uses_sandboxes": self.uses_sandboxes,
        }


def dumps(manifest: Manifest | Mapping[str, Any]) -> str:
    """Canonical text: sorted keys, so the same app always gives byte-identical output."""
    data = manifest.to_dict() if isinstance(manifest, Manifest) else manifest
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


# -- writing -------------------------------------------------------------------------------------

def _function_dict(entry: FunctionEntry) -> dict[str, Any]:
    data = entry._asdict()
    data["cls"] = None if entry.cls is None else {
        "name": entry.cls.name, "parameters": [_parameter_dict(p) for p in entry.cls.parameters]}
    data["image"] = None if entry.image is None else _image_dict(entry.image)
    data["resources"], data["scaling"] = entry.resources._asdict(), entry.scaling._asdict()
    data["retries"] = None if entry.retries is None else entry.retries._asdict()
    data["secrets"] = [{**s._asdict(), "keys": list(s.keys)} for s in entry.secrets]
    data["web"] = None if entry.web is None else {**entry.web._asdict(),
                                                  "custom_domains": list(entry.web.custom_domains)}
    data["schedule"] = None if entry.schedule is None else entry.schedule.to_dict()
    data["volumes"] = [mount._asdict() for mount in entry.volumes]
    data["bucket_mounts"] = [mount._asdict() for mount in entry.bucket_mounts]
    return data


def _image_dict(image: ImageSpec) -> dict[str, Any]:
    return {"base": dict(image.base), "steps": [dict(s) for s in image.steps], "spec_hash": image.spec_hash}


def sandbox_image_key(spec_hash: str) -> str:
    """The ``toolkit:images`` key of a sandbox-only image: its digest-pinned URI is stored under it."""
    return SANDBOX_IMAGE_PREFIX + spec_hash


def _parameter_dict(parameter: ClsParameter) -> dict[str, Any]:
    return {"name": parameter.name, "type": parameter.type, "default": codec.value_to_json(parameter.default)}


# -- reading -------------------------------------------------------------------------------------

def load(source: Manifest | Mapping[str, Any] | str | os.PathLike[str]) -> Manifest:
    """The typed manifest from its JSON (a mapping, a path, or JSON text); raises `ManifestError`."""
    if isinstance(source, Manifest):
        return source
    data = _read(source) if isinstance(source, (str, os.PathLike)) else source
    if not isinstance(data, Mapping):
        raise ManifestError(f"the manifest must be a JSON object, got {type(data).__name__}; {_FIX}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ManifestError(f"manifest schema_version {version!r} is not supported (this toolkit reads "
                            f"{SCHEMA_VERSION}); {_FIX} with this toolkit's version.")
    app = _optional_object(data, "app", "app") or {}  # readers that need a name or a source say so
    return Manifest(
        app_name=_get(app, "name", str, None, "app.name"),
        source=_source(_optional_object(app, "source", "app.source") or {}),
        functions=tuple(_function(f, f"functions[{i}]") for i, f in enumerate(_list(data, "functions", "functions"))),
        workspace=_get(data, "workspace", str, "default", "workspace") or "default",
        environment=_get(data, "environment", str, None, "environment"),
        ephemeral=_get(data, "ephemeral", bool, False, "ephemeral"),
        sandbox_images=tuple(_sandbox_image(raw, f"sandbox_images[{i}]")
                             for i, raw in enumerate(_list(data, "sandbox_images", "sandbox_images"))),
        uses_sandboxes=_get(data, "uses_sandboxes", bool, False, "uses_sandboxes"),
    )


def _read(source: str | os.PathLike[str]) -> Any:
    text = str(source)
    if not text.lstrip().startswith("{"):
        try:
            text = Path(source).read_text()
        except OSError as exc:
            raise ManifestError(f"cannot read the manifest at {str(source)!r} ({exc.strerror}); pass its path "
                                "or its JSON text") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ManifestError(f"the manifest is not valid JSON ({exc}); {_FIX}") from None
    return data


def _wrong(path: str, expected: str, value: Any) -> ManifestError:
    return ManifestError(f"manifest {path}: expected {expected}, got {value!r}; {_FIX}")


_CHECKS: dict[type, Callable[[Any], bool]] = {
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    str: lambda v: isinstance(v, str),
    bool: lambda v: isinstance(v, bool),
}


def _get(data: Mapping[str, Any], key: str, kind: type, default: Any, path: str) -> Any:
    """``data[key]`` checked to be a ``kind`` (or None where the default is None), else the default."""
    if key not in data:
        return default
    value = data[key]
    if value is None and default is None:
        return None
    if not _CHECKS[kind](value):
        raise _wrong(path, kind.__name__ + (" or null" if default is None else ""), value)
    return value  # as written (an int where a float is allowed stays an int: the JSON text round-trips)


def _required(data: Mapping[str, Any], key: str, kind: type, path: str) -> Any:
    if key not in data:
        raise ManifestError(f"manifest {path} is missing; {_FIX}")
    value = data[key]
    if not _CHECKS[kind](value):
        raise _wrong(path, kind.__name__, value)
    return value


def _object(data: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise _wrong(path, "an object", value)
    return value


def _optional_object(data: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
    return None if data.get(key) is None else _object(data, key, path)


def _list(data: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong(path, "a list", value)
    return value


def _strings(data: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    values = _list(data, key, path)
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise _wrong(f"{path}[{i}]", "str", value)
    return tuple(values)


def _one_of(value: Any, allowed: tuple[str, ...], path: str) -> str:
    if value not in allowed:
        raise _wrong(path, "one of " + ", ".join(allowed), value)
    return str(value)


def _source(raw: Mapping[str, Any]) -> Source:
    return Source(**{key: _get(raw, key, str, default, f"app.source.{key}")
                     for key, default in Source._field_defaults.items()})


def _function(raw: Any, path: str) -> FunctionEntry:
    if not isinstance(raw, Mapping):
        raise _wrong(path, "an object", raw)
    tag = _required(raw, "tag", str, f"{path}.tag")
    path = f"{path} ({tag!r})"
    kind = cast(Kind, _one_of(_required(raw, "kind", str, f"{path}.kind"), KINDS, f"{path}.kind"))
    resources = _resources(_optional_object(raw, "resources", f"{path}.resources") or {}, f"{path}.resources")
    return FunctionEntry(
        tag=tag, name=_required(raw, "name", str, f"{path}.name"), kind=kind,
        is_async=_get(raw, "is_async", bool, False, f"{path}.is_async"),
        is_generator=_get(raw, "is_generator", bool, False, f"{path}.is_generator"),
        cls=_cls(_optional_object(raw, "cls", f"{path}.cls"), f"{path}.cls"),
        # the compute target keeps the key "backend": the user option is backend=..., and stored manifests use it
        backend=_placement(kind, _one_of(raw.get("backend", "lambda"), COMPUTE_TARGETS, f"{path}.backend"), resources.gpu),
        image=_image(_optional_object(raw, "image", f"{path}.image"), f"{path}.image"),
        resources=resources,
        scaling=_numbers(Scaling, _optional_object(raw, "scaling", f"{path}.scaling") or {}, f"{path}.scaling"),
        retries=_retries(_optional_object(raw, "retries", f"{path}.retries"), f"{path}.retries"),
        secrets=tuple(_secret(s, f"{path}.secrets[{i}]") for i, s in enumerate(_list(raw, "secrets", f"{path}.secrets"))),
        web=_web(_optional_object(raw, "web", f"{path}.web"), f"{path}.web"),
        schedule=_schedule(_optional_object(raw, "schedule", f"{path}.schedule"), f"{path}.schedule"),
        volumes=tuple(_volume(v, f"{path}.volumes[{i}]") for i, v in enumerate(_list(raw, "volumes", f"{path}.volumes"))),
        bucket_mounts=tuple(_bucket_mount(v, f"{path}.bucket_mounts[{i}]")
                            for i, v in enumerate(_list(raw, "bucket_mounts", f"{path}.bucket_mounts"))),
        proxy=_get(raw, "proxy", str, None, f"{path}.proxy"),
    )


_PERIOD_UNITS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")


def _schedule(raw: Mapping[str, Any] | None, path: str) -> ScheduleSpec | None:
    if raw is None:
        return None
    kind = _one_of(raw.get("kind"), ("period", "cron"), f"{path}.kind")
    if kind == "cron":
        return ScheduleSpec("cron", _required(raw, "cron_string", str, f"{path}.cron_string"),
                            _get(raw, "timezone", str, "UTC", f"{path}.timezone"))
    for key in raw:
        if key != "kind":
            _one_of(key, _PERIOD_UNITS, f"{path} key")
    return ScheduleSpec("period", period=tuple((unit, _get(raw, unit, float, 0, f"{path}.{unit}"))
                                               for unit in _PERIOD_UNITS if raw.get(unit)))


def _placement(kind: str, target: str, gpu: str | None) -> ComputeTarget:
    """Where a function runs, the one place this is derived past the decorator: a GPU needs GPU
    capacity, and a ``web_server`` is a long-lived process, never a Lambda."""
    if gpu:
        return "gpu"
    return "ecs" if kind == "web_server" and target == "lambda" else cast(ComputeTarget, target)


_FIELD_TYPES: dict[str, type] = {
    "cpu": float, "memory": int, "gpu": str, "timeout": int, "ephemeral_disk": int,
    "min_containers": int, "max_containers": int, "buffer_containers": int, "scaledown_window": int,
    "max_inputs": int, "target_inputs": int,
    "max_retries": int, "backoff_coefficient": float, "initial_delay": float, "max_delay": float,
}
N = TypeVar("N", Resources, Scaling, Retries)


def _numbers(record: type[N], raw: Mapping[str, Any], path: str) -> N:
    defaults = record._field_defaults
    values = {key: _get(raw, key, _FIELD_TYPES[key], defaults.get(key), f"{path}.{key}") for key in record._fields}
    for key in record._fields:  # null where the schema declares a default means that default
        if values[key] is None and defaults.get(key) is not None:
            values[key] = defaults[key]
    return record(**values)


def _resources(raw: Mapping[str, Any], path: str) -> Resources:
    return _numbers(Resources, raw, path)


def _retries(raw: Mapping[str, Any] | None, path: str) -> Retries | None:
    if raw is None:
        return None
    _required(raw, "max_retries", int, f"{path}.max_retries")
    return _numbers(Retries, raw, path)


def _cls(raw: Mapping[str, Any] | None, path: str) -> ClsSpec | None:
    if raw is None:
        return None
    params = _list(raw, "parameters", f"{path}.parameters")
    return ClsSpec(_required(raw, "name", str, f"{path}.name"),
                   tuple(_parameter(p, f"{path}.parameters[{i}]") for i, p in enumerate(params)))


def _parameter(raw: Any, path: str) -> ClsParameter:
    if not isinstance(raw, Mapping):
        raise _wrong(path, "an object", raw)
    type_name = _one_of(raw.get("type"), PARAMETER_TYPES, f"{path}.type")
    try:
        default = codec.value_from_json(type_name, raw.get("default"))
    except (TypeError, ValueError):
        raise _wrong(f"{path}.default", "hex digits (a bytes default)", raw.get("default")) from None
    if default is not None and codec.type_name_of(default) != type_name:
        raise _wrong(f"{path}.default", type_name, default)
    return ClsParameter(_required(raw, "name", str, f"{path}.name"), type_name, default)


def _image(raw: Mapping[str, Any] | None, path: str) -> ImageSpec | None:
    if raw is None:
        return None
    steps = _list(raw, "steps", f"{path}.steps")
    for i, step in enumerate(steps):
        if not (isinstance(step, Mapping) and isinstance(step.get("op"), str)):
            raise _wrong(f"{path}.steps[{i}]", 'an object with "op"', step)
    return ImageSpec(_object(raw, "base", f"{path}.base"), tuple(steps),
                     _get(raw, "spec_hash", str, "", f"{path}.spec_hash"))


def _sandbox_image(raw: Any, path: str) -> ImageSpec:
    if not isinstance(raw, Mapping):
        raise _wrong(path, "an object", raw)
    image = _image(raw, path)
    if image is None or not image.spec_hash:
        raise _wrong(f"{path}.spec_hash", "the image's spec hash", raw.get("spec_hash"))
    return image


def _secret(raw: Any, path: str) -> SecretRef:
    if not isinstance(raw, Mapping):
        raise _wrong(path, "an object", raw)
    return SecretRef(_required(raw, "name", str, f"{path}.name"), _get(raw, "source", str, "named", f"{path}.source"),
                     _strings(raw, "keys", f"{path}.keys"))


def _volume(raw: Any, path: str) -> VolumeMount:
    if not isinstance(raw, Mapping):
        raise _wrong(path, "an object", raw)
    mount = VolumeMount(_required(raw, "path", str, f"{path}.path"), _required(raw, "name", str, f"{path}.name"),
                        _get(raw, "create_if_missing", bool, False, f"{path}.create_if_missing"),
                        _get(raw, "read_only", bool, False, f"{path}.read_only"))
    if not mount.path.startswith("/"):
        raise _wrong(f"{path}.path", "an absolute path", mount.path)
    return mount


def _bucket_mount(raw: Any, path: str) -> BucketMount:
    if not isinstance(raw, Mapping):
        raise _wrong(path, "an object", raw)
    text = {key: _get(raw, key, str, None, f"{path}.{key}") for key in ("endpoint_url", "secret", "oidc_auth_role_arn")}
    flags = {key: _get(raw, key, bool, False, f"{path}.{key}") for key in ("read_only", "requester_pays",
                                                                             "force_path_style")}
    mount = BucketMount(_required(raw, "path", str, f"{path}.path"), _required(raw, "bucket_name", str,
                        f"{path}.bucket_name"), key_prefix=_get(raw, "key_prefix", str, "", f"{path}.key_prefix"),
                        **text, **flags)
    if not mount.path.startswith("/"):
        raise _wrong(f"{path}.path", "an absolute path", mount.path)
    if mount.key_prefix and not mount.key_prefix.endswith("/"):
        raise _wrong(f"{path}.key_prefix", 'a prefix ending in "/"', mount.key_prefix)
    return mount


def _web(raw: Mapping[str, Any] | None, path: str) -> WebConfig | None:
    if raw is None:
        return None
    g = _get
    return WebConfig(
        label=_required(raw, "label", str, f"{path}.label"), host=g(raw, "host", str, "", f"{path}.host"),
        method=g(raw, "method", str, None, f"{path}.method"), docs=g(raw, "docs", bool, False, f"{path}.docs"),
        user_label=g(raw, "user_label", bool, False, f"{path}.user_label"),
        requires_proxy_auth=g(raw, "requires_proxy_auth", bool, False, f"{path}.requires_proxy_auth"),
        custom_domains=_strings(raw, "custom_domains", f"{path}.custom_domains"),
        port=g(raw, "port", int, None, f"{path}.port"),
        startup_timeout=g(raw, "startup_timeout", float, None, f"{path}.startup_timeout"),
        url=g(raw, "url", str, None, f"{path}.url"),
    )
