"""A function that mounts a bucket syncs it in its own worker with boto3, so its image's local
environment carries boto3 (before: ModuleNotFoundError in the worker, seen with a public dataset
program); functions without mounts keep the smaller environment."""

from __future__ import annotations

from pathlib import Path

import toolkit
from toolkit.images.local_env import BUCKET_MOUNT_REQUIREMENTS, plan_env, with_worker_needs
from toolkit.manifest import build


def _app() -> toolkit.App:
    image = toolkit.Image.debian_slim().uv_pip_install("pyyaml")
    bucket = toolkit.CloudBucketMount("my-bucket", read_only=True)
    app = toolkit.App("bucket-env")

    @app.function(image=image, volumes={"/data": bucket})
    def reads(path: str) -> int:
        return len(path)

    @app.function(image=image)
    def plain(x: int) -> int:
        return x

    return app


def test_only_a_function_with_a_bucket_mount_gets_boto3_in_its_environment(tmp_path: Path) -> None:
    from runtime.manifest import load

    entries = {fn.tag: fn for fn in load(build(_app()).to_dict()).functions}
    specs = {tag: with_worker_needs({"base": dict(fn.image.base), "steps": list(fn.image.steps),
                                     "spec_hash": fn.image.spec_hash}, bool(fn.bucket_mounts))
             for tag, fn in entries.items() if fn.image is not None}
    mounted, plain = plan_env(specs["reads"], tmp_path), plan_env(specs["plain"], tmp_path)
    assert set(BUCKET_MOUNT_REQUIREMENTS) <= set(mounted.requirements)
    assert not any(r.startswith("boto3") for r in plain.requirements)
    assert "pyyaml" in mounted.requirements and "pyyaml" in plain.requirements
    assert mounted.key != plain.key  # two environments for the one image
    assert with_worker_needs(specs["plain"], False) is specs["plain"]
