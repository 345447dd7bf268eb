"""Mount paths in a deployed image: a Lambda's image filesystem is read-only but for /tmp, so the
image links each mount path into /tmp and the container links that on to the volume's copy."""

from __future__ import annotations

import os
from pathlib import Path

import toolkit
from runtime.volumes.mounts import link, staged
from toolkit.images import PlanOptions, plan_app
from toolkit.manifest import build_manifest


def _weights() -> None: ...


def _plain() -> None: ...


def test_the_image_links_each_mount_path_into_tmp(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def f():\n    return 1\n")
    app = toolkit.App("mount-image")
    vol = toolkit.Volume.from_name("weights", create_if_missing=True)
    app.function(volumes={"/models/cache": vol, "/data": vol})(_weights)
    app.function(name="plain")(_plain)
    manifest = build_manifest(app, source={"kind": "file", "path": "app.py", "module": None, "app_variable": "app"})
    [plan] = plan_app(manifest, PlanOptions(root=tmp_path))  # one image for both functions
    lines = [line for line in plan.containerfile.splitlines() if "toolkit-mounts" in line]
    assert lines == ["RUN mkdir -p / && ln -sfn /tmp/toolkit-mounts/data /data",
                     "RUN mkdir -p /models && ln -sfn /tmp/toolkit-mounts/models/cache /models/cache"]
    assert plan.containerfile.index("toolkit-mounts") < plan.containerfile.index("# the app's code and manifest")


def test_the_container_follows_the_image_link_and_leaves_the_read_only_path_alone(tmp_path: Path) -> None:
    mount_path = tmp_path / "image-fs" / "data"
    mount_path.parent.mkdir()
    mount_path.symlink_to(staged(str(mount_path)))  # what the image's RUN line made
    copy = tmp_path / "copy"
    (copy / "sub").mkdir(parents=True)
    (copy / "sub" / "w.bin").write_bytes(b"weights")
    link(str(mount_path), copy)
    assert os.readlink(mount_path) == staged(str(mount_path))  # untouched: a Lambda could not change it
    assert os.readlink(staged(str(mount_path))) == str(copy)
    assert (mount_path / "sub" / "w.bin").read_bytes() == b"weights"
