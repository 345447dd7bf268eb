"""The keyword options of ``@app.function`` and ``@app.cls``, validated and normalised once.

``App.function``/``App.cls`` spell every option out as a typed keyword (so completion, mypy and
``inspect.signature`` see them, as users of the hosted platform expect) and hand them here.  Each
option does one of two things:

* it works: ``image``, ``env`` (an inline secret), ``secrets``, ``gpu`` (a list means "any of these":
  toolkit takes the first), ``cpu``/``memory`` (a ``(request, limit)`` pair sizes the container at the
  request for cpu and at the limit for memory, because AWS gives a fixed size and a container must
  not be killed below the limit its author allowed), ``timeout``, the container counts, ``retries``;
* it is accepted and has no effect on toolkit: a one-line `NotSupportedWarning` at the decorator says
  so and why (``NO_EFFECT``).

``volumes`` works too (`toolkit.volume`): it becomes (mount path, volume name, create_if_missing, read_only);
a `CloudBucketMount` there becomes a bucket mount (synced, `toolkit.cloud_bucket_mount`), and
``network_file_systems`` (the platform's deprecated NFS, `toolkit.network_file_system`) mounts like a volume.
``proxy`` (`toolkit.proxy`) is kept by name for the deploy; locally it says once that it has no effect.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from toolkit.cloud_bucket_mount import CloudBucketMount
from toolkit.exception import InvalidError, NotSupportedWarning
from toolkit.image import Image
from toolkit.secret import Secret

# Options accepted for compatibility whose effect toolkit cannot give, with the reason users see.
NO_EFFECT: dict[str, str] = {
    "serialized": "toolkit always ships the function's source file in the image",
    "routing_region": "a deployed app runs in its stack's region (toolkit deploy --region)",
    "nonpreemptible": "GPU capacity uses spot with on-demand fallback",
    "enable_memory_snapshot": "toolkit's images do not implement Lambda SnapStart's snapshot lifecycle (toolkit plan "
                              "lists each function that asks)",
    "block_network": "containers keep their network; put the function in a VPC without egress instead",
    "restrict_modal_access": "deployed functions use their own least-privilege IAM role",
    "i6pn": "there is no private IPv6 network between containers",
    "include_source": "toolkit always ships the function's source file in the image",
    "experimental_options": "the hosted platform's experimental options have no AWS counterpart",
    "_experimental_restrict_output": "the hosted platform's experimental options have no AWS counterpart",
    "startup_timeout": "a container's start is bounded by the function's timeout",
}


@dataclass(frozen=True)
class FunctionOptions:
    """Options shared by ``@app.function`` and ``@app.cls`` after normalisation."""

    image: Image | None = None
    gpu: str | None = None
    cpu: float | None = None
    memory: int | None = None
    ephemeral_disk: int | None = None
    timeout: int = 300
    secrets: tuple[Secret, ...] = ()
    min_containers: int = 0
    max_containers: int | None = None
    buffer_containers: int = 0
    scaledown_window: int = 60
    retries: Any = None  # int | Retries | None, checked by spec.as_retries
    backend: str = "auto"
    is_generator: bool | None = None
    cloud: str | None = None
    inputs_per_container: int | None = None  # single_use_containers=True is 1; max_inputs=N is N
    regions: tuple[str, ...] = ()  # region=: checked against the deploy's region (`check_regions`)
    volumes: tuple[tuple[str, str, bool, bool], ...] = ()  # (mount path, name, create_if_missing, read_only), by path
    bucket_mounts: tuple[tuple[str, CloudBucketMount], ...] = ()  # (mount path, bucket), by path
    proxy: str | None = None  # the name of proxy=toolkit.Proxy.from_name(...)
    memory_snapshot: bool = False  # enable_memory_snapshot=: not applied, but `toolkit plan` says so per function


# Options the platform's client dropped in 1.0, still common in older programs: what replaced them.
RENAMED_OPTIONS = {
    "keep_warm": "use min_containers=N instead",
    "concurrency_limit": "use max_containers=N instead",
    "container_idle_timeout": "use scaledown_window=SECONDS instead",
    "allow_concurrent_inputs": "use @toolkit.concurrent(max_inputs=N) below the decorator instead",
    "mounts": "use the image's add_local_file/add_local_dir/add_local_python_source instead",
    # Public dataset-import programs still pass it; a Volume commits when its container stops without it.
    "_allow_background_volume_commits": "remove it: a Volume's writes are committed when the container "
                                        "stops (and by vol.commit()) without it",
}


def normalise(decorator: str, given: Mapping[str, Any], unknown: Mapping[str, Any]) -> FunctionOptions:
    """Check ``given`` (the keywords of ``decorator``, in signature order) and build the options toolkit uses."""
    if unknown:
        name = sorted(unknown, key=lambda k: (k not in RENAMED_OPTIONS, k))[0]
        if name in RENAMED_OPTIONS:
            raise InvalidError(f"{decorator}({name}={unknown[name]!r}) is an option the platform's client removed "
                               f"in 1.0; {RENAMED_OPTIONS[name]}.")
        known = ", ".join(given)
        raise InvalidError(f"{decorator}() got an unknown option {name!r}; options are: {known}.")
    _warn_no_effect(decorator, given)
    image = given.get("image")
    if image is not None and not isinstance(image, Image):
        raise InvalidError(f"{decorator}(image=...) must be a toolkit.Image, got {image!r}.")
    cloud = given.get("cloud")
    if cloud not in (None, "aws"):
        raise InvalidError(f"{decorator}(cloud={cloud!r}): toolkit runs on AWS; remove cloud= or set cloud='aws'.")
    return FunctionOptions(
        image=image, gpu=_one_gpu(decorator, given.get("gpu")),
        cpu=_sized(decorator, "cpu", given.get("cpu"), pick=0),
        memory=_sized(decorator, "memory", given.get("memory"), pick=1),
        ephemeral_disk=given.get("ephemeral_disk"), timeout=given.get("timeout", 300),
        secrets=_secrets(decorator, given.get("secrets"), given.get("env")),
        min_containers=_or(given.get("min_containers"), 0), max_containers=given.get("max_containers"),
        buffer_containers=_or(given.get("buffer_containers"), 0),
        scaledown_window=_or(given.get("scaledown_window"), 60), retries=given.get("retries"),
        backend=given.get("backend", "auto"), is_generator=given.get("is_generator"), cloud=cloud,
        inputs_per_container=_inputs_per_container(decorator, given.get("single_use_containers"),
                                                   given.get("max_inputs")),
        regions=_regions(decorator, given.get("region")),
        **_mounts(decorator, given.get("volumes"), given.get("network_file_systems")),
        proxy=_proxy(decorator, given.get("proxy")),
        memory_snapshot=bool(given.get("enable_memory_snapshot")),
    )


def _inputs_per_container(decorator: str, single_use: Any, max_inputs: Any) -> int | None:
    """How many inputs a worker (container) takes before it retires; None: no limit."""
    if max_inputs is not None and (isinstance(max_inputs, bool) or not isinstance(max_inputs, int)
                                   or max_inputs < 1):
        raise InvalidError(f"{decorator}(max_inputs={max_inputs!r}) must be an int of at least 1 (inputs a "
                           "container takes before it stops), e.g. max_inputs=1.")
    if single_use and max_inputs not in (None, 1):
        raise InvalidError(f"{decorator}(single_use_containers=True, max_inputs={max_inputs}) disagree; "
                           "keep single_use_containers=True (one input per container) and drop max_inputs.")
    return 1 if single_use else max_inputs


def _regions(decorator: str, region: Any) -> tuple[str, ...]:
    """``region="us-east-1"`` or a list of them; broad names (``"us"``, ``"eu-west"``) match by prefix."""
    if region is None:
        return ()
    names = (region,) if isinstance(region, str) else tuple(region)
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise InvalidError(f"{decorator}(region={region!r}) must be a region name or a list of them, "
                               "e.g. region='us-east-1'.")
    wanted = tuple(name.strip().lower() for name in names)
    _refuse_non_aws_regions(decorator, region, wanted)
    return wanted


def _refuse_non_aws_regions(decorator: str, region: Any, wanted: tuple[str, ...]) -> None:
    """Refuse, at the decorator, a region= that no AWS region agrees with (the platform's ``us-central``,
    ``uk``, a GCP ``europe-west4``): no deploy could honour it.  Whether it agrees with *the* deploy region
    is known only at ``toolkit plan``/``deploy`` (`check_regions`)."""
    known = aws_regions()
    if not known:
        return  # no botocore (toolkit without its aws extra): nothing deploys from here; plan/deploy check
    for name in wanted:
        if not any(region_agrees(name, r) for r in known):
            examples = sorted({r.rsplit("-", 1)[0] for r in known if r.startswith(name.split("-")[0] + "-")
                               and "-iso" not in r and "-gov-" not in r})  # the commercial regions
            hint = f" (AWS has {', '.join(examples)})" if examples else ""
            raise InvalidError(f"{decorator}(region={region!r}): no AWS region is {name!r}; toolkit deploys into one "
                               f"AWS region{hint}. Name an AWS region or its prefix, e.g. region='us-east-1' or "
                               "region='eu', or remove region=.")


@functools.cache
def aws_regions() -> tuple[str, ...]:
    """Every AWS region botocore knows, read once from its endpoints file (1.2 MB of JSON, ~40 ms; importing
    botocore would cost more); () without botocore."""
    import importlib.util
    import json
    from pathlib import Path

    spec = importlib.util.find_spec("botocore")
    if spec is None or spec.origin is None:
        return ()
    data = json.loads((Path(spec.origin).parent / "data" / "endpoints.json").read_text())
    return tuple(r for partition in data["partitions"] for r in partition["regions"])


def region_agrees(wanted: str, region: str) -> bool:
    """``us-east-1`` agrees with ``us-east-1``, ``us-east`` and ``us``; not with ``us-west`` or ``eu``."""
    return region == wanted or region.startswith(wanted + "-")


def check_regions(functions: Collection[Any], region: str) -> None:
    """Refuse a deploy to ``region`` when a function asked (``region=``) to run elsewhere: toolkit deploys
    an app into one region, its stack's."""
    for function in functions:
        wanted = function.spec.regions
        if wanted and not any(region_agrees(w, region) for w in wanted):
            raise InvalidError(
                f"{function.spec.tag} asks for region={list(wanted)!r}, but this deploy is to {region!r}: toolkit "
                f"deploys an app into one region. Deploy with --region {wanted[0]} (if it names a region), "
                f"or change region= to include {region!r}.")


def _or(value: Any, default: Any) -> Any:
    # The hosted platform's defaults are None ("the platform decides"); toolkit's decision is `default`.
    return default if value is None else value


def _proxy(decorator: str, proxy: Any) -> str | None:
    from toolkit.context import is_local
    from toolkit.proxy import Proxy, warn_local

    if proxy is None:
        return None
    if not isinstance(proxy, Proxy):
        raise InvalidError(f"{decorator}(proxy={proxy!r}) must be a toolkit.Proxy, e.g. "
                           "proxy=toolkit.Proxy.from_name('my-static-ip').")
    if is_local():
        warn_local(decorator, proxy, stacklevel=4)  # this function, normalise, App.function/cls, the user's line
    return proxy.name


def _warn_no_effect(decorator: str, given: Mapping[str, Any]) -> None:
    for option, why in NO_EFFECT.items():
        if given.get(option) not in (None, False, {}, ()):
            # stacklevel 4: this function, normalise, App.function/cls, then the user's decorator line.
            warnings.warn(f"{decorator}({option}=...) has no effect on toolkit: {why}.",
                          NotSupportedWarning, stacklevel=4)


def _one_gpu(decorator: str, gpu: Any) -> str | None:
    if isinstance(gpu, (list, tuple)):
        if not gpu:
            raise InvalidError(f"{decorator}(gpu=[]) names no GPU; pass e.g. gpu='L4' or gpu=['L4', 'A10G'].")
        return gpu[0]  # type: ignore[no-any-return]  # checked with the rest by spec.check_resources
    return gpu  # type: ignore[no-any-return]


def _sized(decorator: str, option: str, value: Any, *, pick: int) -> Any:
    """``(request, limit)`` pairs: AWS sizes a container once, so take ``pick`` of the pair."""
    if isinstance(value, tuple) and len(value) == 2:
        request, limit = value
        if isinstance(request, (int, float)) and isinstance(limit, (int, float)) and limit < request:
            raise InvalidError(f"{decorator}({option}={value!r}): a (request, limit) pair needs limit >= request.")
        return value[pick]
    return value


def _mounts(decorator: str, volumes: Mapping[Any, Any] | None, nfs: Mapping[Any, Any] | None) -> dict[str, Any]:
    """``volumes`` (Volumes and CloudBucketMounts) and ``network_file_systems``, as the options'
    ``volumes`` and ``bucket_mounts``: inert data for the manifest, sorted by path."""
    from toolkit.network_file_system import NetworkFileSystem

    mounts = _mapping(decorator, "volumes", volumes)
    for path, fs in _mapping(decorator, "network_file_systems", nfs).items():
        if not isinstance(fs, NetworkFileSystem):
            raise InvalidError(f"{decorator}(network_file_systems={{{path!r}: {fs!r}}}): mount a "
                               "toolkit.NetworkFileSystem (or, better, a toolkit.Volume under volumes=).")
        if path in mounts:
            raise InvalidError(f"{decorator}: {path!r} is in both volumes= and network_file_systems=; mount one "
                               "thing per path.")
        mounts[path] = fs.volume
    _refuse_nested(decorator, sorted(mounts))
    found: dict[str, tuple[str, bool, bool]] = {}
    buckets: dict[str, CloudBucketMount] = {}
    for path, volume in mounts.items():
        if isinstance(volume, CloudBucketMount):
            buckets[path] = volume
        else:
            found[path] = _volume(decorator, path, volume)
    return {"volumes": tuple((path, *mount) for path, mount in sorted(found.items())),
            "bucket_mounts": tuple(sorted(buckets.items()))}


def _mapping(decorator: str, option: str, mounts: Mapping[Any, Any] | None) -> dict[str, Any]:
    """``{path: thing}`` with each path checked and normalised."""
    if not mounts:
        return {}
    if not isinstance(mounts, Mapping):
        raise InvalidError(f"{decorator}({option}={mounts!r}) must be a dict of mount paths to volumes, "
                           "e.g. volumes={'/data': toolkit.Volume.from_name('my-data', create_if_missing=True)}.")
    checked: dict[str, Any] = {}
    for path, thing in mounts.items():
        text = str(path)
        if not text.startswith("/") or PurePosixPath(text) == PurePosixPath("/") or ".." in PurePosixPath(text).parts:
            raise InvalidError(f"{decorator}({option}={{{text!r}: ...}}): the mount path must be an absolute path "
                               "below '/', without '..', e.g. '/data'.")
        checked[str(PurePosixPath(text))] = thing
    return checked


def _volume(decorator: str, path: str, volume: Any) -> tuple[str, bool, bool]:
    from toolkit.volume import Volume

    if not isinstance(volume, Volume):
        raise InvalidError(f"{decorator}(volumes={{{path!r}: {volume!r}}}): mount a toolkit.Volume or a "
                           "toolkit.CloudBucketMount, e.g. toolkit.Volume.from_name('my-data', create_if_missing=True).")
    return volume.name, volume.creates_if_missing, volume.is_read_only


def _refuse_nested(decorator: str, paths: list[str]) -> None:
    for outer, inner in itertools.combinations(paths, 2):  # sorted, so an outer path comes first
        if PurePosixPath(inner).is_relative_to(outer):
            raise InvalidError(f"{decorator}(volumes=...): {inner!r} is inside {outer!r}; mount volumes at paths "
                               "that do not contain each other.")


def _secrets(decorator: str, secrets: Collection[Secret] | None, env: Mapping[str, str | None] | None
             ) -> tuple[Secret, ...]:
    found: list[Secret] = []
    for secret in secrets or ():
        if not isinstance(secret, Secret):
            raise InvalidError(f"{decorator}: secrets must be toolkit.Secret objects, got {secret!r} "
                               "(e.g. toolkit.Secret.from_name('my-secret')).")
        found.append(secret)
    if env:
        if not isinstance(env, Mapping):
            raise InvalidError(f"{decorator}(env={env!r}) must be a dict of variable names to str values.")
        found.append(Secret.from_dict(env))  # the platform makes env an inline secret too
    return tuple(found)
