"""Manifest -> image plans: one image per distinct (image spec, GPU or not), shared by the
functions that use it, each with its Containerfile, build context, inputs hash and tag.

Planning reads files but runs nothing, so a no-op ``toolkit build`` costs a hash and one
registry lookup per image.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.manifest import FunctionEntry, ImageSpec, Manifest, Source, dumps, load, sandbox_image_key
from toolkit.images import runtime_layer as rt
from toolkit.images.bases import Base, select_base
from toolkit.images.builders.platform import PLATFORM_LABEL, platform_for
from toolkit.images.containerfile import Layout, Renderer, render
from toolkit.images.context import BuildContext
from toolkit.images.errors import MissingLocalPathError
from toolkit.images.refs import ImageRef, apply_mirrors, mirrors_from_env
from toolkit.loader import module_name_for
from toolkit.version import __version__

CA_BUNDLE_ENV = "TOOLKIT_BUILD_CA_BUNDLE"
TAG_LENGTH = 24  # hex digits of the inputs hash: 96 bits, ample for one repository's tags


@dataclass(frozen=True)
class PlanOptions:
    root: Path = field(default_factory=Path.cwd)        # relative local paths are read from here
    mirrors: Mapping[str, str] = field(default_factory=dict)
    ca_bundle: Path | None = None                         # CA bundle mounted into RUN steps

    @staticmethod
    def from_env(mirrors: Mapping[str, str] | None = None, ca_bundle: str | None = None) -> PlanOptions:
        ca = ca_bundle or os.environ.get(CA_BUNDLE_ENV)
        return PlanOptions(Path.cwd(), mirrors_from_env(mirrors), Path(ca) if ca else None)


@dataclass(frozen=True)
class ImagePlan:
    app: str
    functions: tuple[str, ...]
    base: Base
    base_ref: str                  # the base after mirrors: what FROM says
    containerfile: str
    context: BuildContext
    inputs_hash: str
    repository: str                # e.g. toolkit/hello; the registry is chosen at push time
    labels: dict[str, str]
    ca_bundle: Path | None

    @property
    def tag(self) -> str:
        return self.inputs_hash[:TAG_LENGTH]

    def ref(self, registry: str | None) -> str:
        """``registry/repository:tag``, or podman's local-only ``localhost/...`` without one."""
        return f"{registry or 'localhost'}/{self.repository}:{self.tag}"


def plan_app(manifest: Manifest | Mapping[str, Any], options: PlanOptions) -> list[ImagePlan]:
    app = load(manifest)
    groups: dict[tuple[str, bool], list[FunctionEntry]] = {}
    for fn in (*app.functions, *_sandbox_image_entries(app)):
        groups.setdefault((_image_of(fn).spec_hash, bool(fn.resources.gpu)), []).append(fn)
    app_files = _app_files(app, options.root)
    return [_plan_image(app, fns, app_files, options) for fns in groups.values()]


def _sandbox_image_entries(app: Manifest) -> list[FunctionEntry]:
    """Sandbox-only images, planned as a CPU image each under their ``toolkit:images`` key (docs/sandboxes.md)."""
    return [FunctionEntry(sandbox_image_key(i.spec_hash), sandbox_image_key(i.spec_hash), "function", image=i)
            for i in app.sandbox_images]


def _image_of(fn: FunctionEntry) -> ImageSpec:
    if fn.image is None:
        raise MissingLocalPathError(f"function {fn.tag!r} has no image in the manifest; regenerate it with "
                                    "`toolkit manifest app.py`.")
    return fn.image


def _plan_image(manifest: Manifest, functions: list[FunctionEntry],
                app_files: BuildContext, options: PlanOptions) -> ImagePlan:
    spec = _image_of(functions[0])
    gpu = bool(functions[0].resources.gpu)
    base = select_base(spec.base, gpu=gpu, root=options.root)
    base_ref = apply_mirrors(base.ref, options.mirrors)
    app_name = manifest.app_name or "app"
    tags = tuple(fn.tag for fn in functions)
    labels = {"dev.toolkit.app": app_name, "dev.toolkit.functions": ",".join(tags),
              "dev.toolkit.runtime": __version__, "dev.toolkit.base": base.ref, "dev.toolkit.gpu": str(gpu).lower(),
              PLATFORM_LABEL: platform_for(gpu=gpu)}  # in the inputs hash: an arm64 build gets its own tag
    context = BuildContext(dict(app_files.files))
    rt.add_runtime(context)
    renderer = Renderer(context, options.root, with_ca=options.ca_bundle is not None)
    layout = Layout(base_ref, base.add_python, gpu, labels, spec_hash=spec.spec_hash, base_spec=spec.base,
                    mirror=lambda ref: apply_mirrors(ref, options.mirrors),
                    volume_paths=_mount_paths(functions))
    text = render(renderer, spec.steps, layout)
    return ImagePlan(app_name, tags, base, base_ref, text, context, context.digest(text),
                     f"toolkit/{_repo_name(app_name)}", labels, options.ca_bundle)


def _repo_name(app: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in app.lower()).strip("._-")
    return cleaned or "app"


# -- the app's own code and the manifest the runtime reads ---------------------------------------

def _app_files(manifest: Manifest, root: Path) -> BuildContext:
    """The app's source (its file, or its top-level package) under ``app/``, and the manifest
    rewritten so that the runtime finds that source relative to the task root."""
    context = BuildContext()
    source = manifest.source
    if source.kind == "file" and source.path:
        source = _add_file_source(context, root / source.path, source)
    elif source.module:
        _add_module_source(context, source.module)
    context.add_bytes("app/toolkit-manifest.json", dumps(manifest.with_source(source)).encode())
    return context


def _add_file_source(context: BuildContext, path: Path, source: Source) -> Source:
    if not path.is_file():
        raise MissingLocalPathError(f"The app's source file {str(path)!r} is missing; build from the directory "
                                    "the manifest's source path is relative to.")
    dotted, _ = module_name_for(path)
    if "." not in dotted:
        context.add_file(f"app/{path.name}", path, what="app source")
        return source._replace(path=path.name, module=None)
    _add_module_source(context, dotted)  # a file inside a package: import it by its dotted name
    return source._replace(kind="module", module=dotted, path=None)


def _add_module_source(context: BuildContext, module: str) -> None:
    top = module.split(".")[0]
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.origin:
        raise MissingLocalPathError(f"The app's module {module!r} is not importable from {os.getcwd()!r}; "
                                    "run toolkit build from the directory that contains it.")
    if spec.submodule_search_locations:
        context.add_tree(f"app/{top}", Path(list(spec.submodule_search_locations)[0]), what="app source")
    else:
        context.add_file(f"app/{top}.py", Path(spec.origin), what="app source")


def check_base_ref(plan: ImagePlan) -> ImageRef:
    """The parsed base reference (raises on a malformed one before anything runs)."""
    return ImageRef.parse(plan.base_ref)


def _mount_paths(functions: list[FunctionEntry]) -> tuple[str, ...]:
    """Paths of the functions' volumes and bucket mounts: the image links each into /tmp (read-only Lambda FS)."""
    volumes = {m.path for fn in functions for m in fn.volumes}
    return tuple(sorted(volumes | {b.path for fn in functions for b in fn.bucket_mounts}))
