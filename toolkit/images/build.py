"""Plans -> images in a registry: check everything first, then build only what changed.

Order of work, so that bad input costs nothing: every plan exists (missing local paths fail
while planning), every base reference is checked, and only then does the first build
start.  An image whose tag (its inputs hash) is already in the registry, or in the local
store for unpushed builds, is neither built nor pushed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from toolkit.images.builders.base import Builder, Log
from toolkit.images.builders.steps import build_step
from toolkit.images.errors import BaseImageNotFoundError, RegistryError
from toolkit.images.plan import ImagePlan, check_base_ref
from toolkit.images.registry import ImageRegistry, manifest_digest
from toolkit.progress import Display


@dataclass(frozen=True)
class BuiltImage:
    plan: ImagePlan
    ref: str               # registry/repository:tag (localhost/... when not pushed)
    digest: str | None     # the registry's manifest digest, or the local image ID
    built: bool            # False: the tag was already there, nothing was built or pushed

    @property
    def functions(self) -> tuple[str, ...]:
        return self.plan.functions


def build_images(plans: Sequence[ImagePlan], builder: Builder, registry: ImageRegistry | None,
                 log: Log = lambda line: None) -> list[BuiltImage]:
    """Build what changed.  With a `toolkit.progress.Display` as ``log`` (and as the builder's),
    each build is a task: its steps counted from the builder's output, its time at the end."""
    for plan in plans:
        check_base(plan, builder, log)
    return [_build_one(plan, builder, registry, log) for plan in plans]


def existing_digest(plan: ImagePlan, builder: Builder, registry: ImageRegistry | None) -> str | None:
    ref = plan.ref(registry.host if registry else None)
    if registry is None:
        return builder.local_digest(ref)
    from toolkit.images.refs import ImageRef

    return manifest_digest(ImageRef.parse(ref), registry.credentials)


def _build_one(plan: ImagePlan, builder: Builder, registry: ImageRegistry | None, log: Log) -> BuiltImage:
    ref = plan.ref(registry.host if registry else None)
    digest = existing_digest(plan, builder, registry)
    if digest is not None:
        log(f"{ref}: up to date")
        return BuiltImage(plan, ref, digest, built=False)
    if registry is not None:
        registry.ensure_repository(plan.repository)
    if not isinstance(log, Display):
        log(f"{ref}: building with {builder.name} (functions: {', '.join(plan.functions)})")
        return BuiltImage(plan, ref, builder.build(plan, ref, registry), built=True)
    title = f"Building image {ref} with {builder.name} (functions: {', '.join(plan.functions)})"
    with log.task(title, steps=build_step):
        return BuiltImage(plan, ref, builder.build(plan, ref, registry), built=True)


def check_base(plan: ImagePlan, builder: Builder, log: Log) -> None:
    """Fail before any build when the base reference is malformed or known not to exist.
    An unreachable registry only warns: the engine may have its own mirrors configured."""
    ref = check_base_ref(plan)
    if builder.has_image(str(ref)):
        return
    fix = ("fix the reference in Image.from_registry(...), or redirect it with --base-mirror FROM=TO "
           "(TOOLKIT_BASE_MIRRORS)")
    if ref.is_local_only:
        raise BaseImageNotFoundError(f"Base image {plan.base_ref!r} is not in {builder.name}'s local store; {fix}.")
    try:
        found = manifest_digest(ref)
    except RegistryError as exc:
        log(f"warning: cannot check base image {plan.base_ref!r} ({exc}); the build will try to pull it.")
        return
    if found is None:
        raise BaseImageNotFoundError(f"Base image {plan.base_ref!r} does not exist in {ref.registry}; {fix}.")
