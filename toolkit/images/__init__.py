"""Container images from ``toolkit.Image`` specs: plan, build, push, run.

    plans = plan_app(manifest, PlanOptions.from_env())   # Containerfile + context + inputs hash
    images = build_images(plans, pick_builder(), registry)  # skips tags already present
    handle = run_container(images[0].ref, 8123, {"TOOLKIT_FUNCTION": "square"})

Modules: `plan` (manifest -> plans), `containerfile` (steps -> instructions), `python_steps`
(pip/uv commands), `dockerfile` (``from_dockerfile``), `context` (files, hashing),
`runtime_layer` (what toolkit adds), `bases` (CPU/GPU bases), `refs` (references, mirrors),
`registry` (ECR, Distribution API), `builders/` (podman, docker, CodeBuild), `build`
(orchestration), `run` (local containers), `publish` (deploy's entry point), and for local
workers `local_env` (per-image environments built with uv) and `local_files` (``add_local_*``
paths).  docs/images.md maps every ``Image`` method.  Not imported by ``import toolkit``: it is
a build-time phase.
"""

from __future__ import annotations

from toolkit.images.build import BuiltImage, build_images
from toolkit.images.builders import pick_builder
from toolkit.images.errors import (
    BaseImageNotFoundError,
    BuilderUnavailableError,
    BuildFailedError,
    ImageError,
    MissingLocalPathError,
    RegistryError,
)
from toolkit.images.plan import ImagePlan, PlanOptions, plan_app
from toolkit.images.publish import publish
from toolkit.images.run import ContainerHandle, run_container

__all__ = [
    "BaseImageNotFoundError",
    "BuildFailedError",
    "BuilderUnavailableError",
    "BuiltImage",
    "ContainerHandle",
    "ImageError",
    "ImagePlan",
    "MissingLocalPathError",
    "PlanOptions",
    "RegistryError",
    "build_images",
    "pick_builder",
    "plan_app",
    "publish",
    "run_container",
]
