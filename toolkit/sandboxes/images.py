"""A sandbox's ``image=`` -> a reference in the local engine's store.

An image without build steps is its base (after ``TOOLKIT_BASE_MIRRORS``): nothing is built,
so creating a sandbox costs what ``podman run`` costs.  An image with steps is rendered with the
same step renderers as functions' images (`toolkit.images.containerfile`) but without toolkit's
runtime layer (a sandbox runs your command, not a function), and built once per inputs hash
with the same builder.  A missing base is pulled; if that fails the error names the image.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from toolkit.exception import InvalidError
from toolkit.image import Image

SANDBOX_REPOSITORY = "toolkit/sandbox"
PULL_TIMEOUT_S = 600


class SandboxImageError(InvalidError):
    """The sandbox's image cannot be found, pulled or built."""


def resolve(image: Image | None, engine: str) -> str:
    from toolkit.images.bases import select_base
    from toolkit.images.refs import apply_mirrors, mirrors_from_env
    from toolkit.sandboxes.declared import default_image

    image = image if image is not None else default_image()
    if not isinstance(image, Image):
        raise InvalidError(f"Sandbox.create(image=...) takes a toolkit.Image, got {image!r}; "
                           "e.g. image=toolkit.Image.debian_slim().pip_install('numpy').")
    base = select_base(image.base, gpu=False, root=Path.cwd())
    ref = apply_mirrors(base.ref, mirrors_from_env())
    plain = not image.steps and not base.add_python and image.base.get("kind") != "dockerfile"
    if plain and not image.base.get("setup"):
        ensure_present(engine, ref)
        return ref
    return build(image, engine, ref)


_present: set[tuple[str, str]] = set()  # (engine, ref) seen in the store by this process


def ensure_present(engine: str, ref: str) -> None:
    """Once per process and image: a `<engine> image exists` costs about as much as a tenth of a create."""
    from toolkit.sandboxes.engine import image_exists

    if (engine, ref) in _present:
        return
    if image_exists(engine, ref):
        _present.add((engine, ref))
        return
    done = subprocess.run([engine, "pull", ref], capture_output=True, text=True, timeout=PULL_TIMEOUT_S)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SandboxImageError(f"Sandbox image {ref!r} is not in {engine}'s local store and could not be pulled "
                                f"({last}); fix the reference, pull or build it, or redirect it with "
                                "TOOLKIT_BASE_MIRRORS=FROM=TO.")
    _present.add((engine, ref))


def build(image: Image, engine: str, base_ref: str) -> str:
    """Render the spec's steps (no runtime layer) and build it once per inputs hash."""
    from toolkit.images import ImageError, build_images, pick_builder
    from toolkit.images.bases import select_base
    from toolkit.images.containerfile import (
        BASE_ENV,
        Layout,
        Renderer,
        add_python_check,
        render_base,
        render_step,
    )
    from toolkit.images.context import BuildContext
    from toolkit.images.plan import ImagePlan, PlanOptions
    from toolkit.images.refs import apply_mirrors, mirrors_from_env

    context, root = BuildContext(), Path.cwd()
    ca_bundle = PlanOptions.from_env().ca_bundle  # TOOLKIT_BUILD_CA_BUNDLE, as function images take it
    renderer = Renderer(context, root, with_ca=ca_bundle is not None)
    base = select_base(image.base, gpu=False, root=root)
    mirrors = mirrors_from_env()
    render_base(renderer, Layout(base_ref, base.add_python, False, {}, base_spec=image.base,
                           mirror=lambda ref: apply_mirrors(ref, mirrors)))
    renderer.env(BASE_ENV)
    if base.add_python:
        add_python_check(renderer, base.add_python)
    for step in image.steps:
        render_step(renderer, step)
    text = renderer.text()
    digest = context.digest(text)
    plan = ImagePlan("sandbox", (), base, base_ref, text, context, digest, SANDBOX_REPOSITORY,
                     {"dev.toolkit.sandbox-image": "true"}, ca_bundle)
    try:
        return build_images([plan], pick_builder(engine), None)[0].ref
    except ImageError as exc:  # the builders' own errors name the failing step
        raise SandboxImageError(f"Building the sandbox image from {base_ref!r} failed: {exc}") from None


def forget(engine: str, ref: str) -> None:
    """The engine did not find ``ref`` after all (removed since): check it again next time."""
    _present.discard((engine, ref))
