"""Planning without an engine: Containerfile order, hashing, references, mirrors, bad input."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

import toolkit
from toolkit.images import MissingLocalPathError, PlanOptions, plan_app
from toolkit.images.containerfile import split_steps
from toolkit.images.context import BuildContext, ignored
from toolkit.images.errors import ImageError
from toolkit.images.refs import ImageRef, apply_mirrors, parse_mirrors
from toolkit.manifest import build_manifest


def manifest_for(tmp_path: Path, image: toolkit.Image, *, gpu: str | None = None, body: str = "1") -> dict[str, Any]:
    """A one-function app written to ``tmp_path/app.py`` and its manifest."""
    (tmp_path / "app.py").write_text(f"def f():\n    return {body}\n")
    app = toolkit.App("plan-test", image=image)
    app.function(gpu=gpu)(_f)
    manifest = build_manifest(app, source={"kind": "file", "path": "app.py", "module": None, "app_variable": "app"})
    return manifest


def _f() -> int:
    return 1


def plans(tmp_path: Path, image: toolkit.Image, **kw: Any) -> list[Any]:
    return plan_app(manifest_for(tmp_path, image, **kw), PlanOptions(root=tmp_path))


def test_layers_go_deps_then_runtime_then_code(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n")
    image = (toolkit.Image.debian_slim("3.12").apt_install("ffmpeg").pip_install("numpy==2.0.0")
             .env({"A": "1"}).add_local_file("data.csv", "/app/data.csv"))
    text = plans(tmp_path, image)[0].containerfile
    order = [text.index(s) for s in ("FROM docker.io/library/python:3.12-slim-bookworm", "'boto3>=1.34'",
                                     "apt-get install -y --no-install-recommends ffmpeg", "numpy==2.0.0",
                                     'COPY ["toolkit-runtime/"', "compileall -q -j 0 /opt/toolkit", "ENV A=", "/app/data.csv", 'COPY ["app/"',
                                     'ENTRYPOINT ["/opt/toolkit/toolkit-entrypoint"]')]
    assert order == sorted(order), text


def test_local_file_used_by_a_later_run_stays_before_it(tmp_path: Path) -> None:
    (tmp_path / "setup.sh").write_text("echo hi\n")
    image = toolkit.Image.debian_slim().add_local_file("setup.sh", "/setup.sh").run_commands("sh /setup.sh")
    early, tail = split_steps(image.to_dict()["steps"])
    assert [s["op"] for s in early] == ["add_local_file", "run_commands"] and tail == []


def test_same_inputs_same_tag_and_code_change_changes_it(tmp_path: Path) -> None:
    image = toolkit.Image.debian_slim()
    first, again = plans(tmp_path, image)[0], plans(tmp_path, image)[0]
    assert first.tag == again.tag and first.containerfile == again.containerfile
    changed = plans(tmp_path, image, body="2")[0]
    assert changed.tag != first.tag and changed.containerfile == first.containerfile


def test_hash_ignores_mtime_but_not_mode_or_content(tmp_path: Path) -> None:
    f = tmp_path / "x"
    f.write_text("one")
    ctx = BuildContext()
    ctx.add_file("a/x", f, what="test")
    base = ctx.digest("FROM x")
    os.utime(f, (1, 1))
    assert ctx.digest("FROM x") == base
    f.chmod(0o755)
    ctx.add_file("a/x", f, what="test")
    assert ctx.digest("FROM x") != base


def test_ignore_patterns_match_names_paths_and_directories() -> None:
    assert ignored("pkg/__pycache__/m.pyc", ["__pycache__"])
    assert ignored("data/big/file.bin", ["data/big"])
    assert ignored("notes.md", ["*.md"])
    assert not ignored("src/main.py", ["*.md", "data/big"])


def test_add_local_dir_respects_ignore(tmp_path: Path) -> None:
    (tmp_path / "assets/skip").mkdir(parents=True)
    (tmp_path / "assets/keep.txt").write_text("k")
    (tmp_path / "assets/skip/no.txt").write_text("n")
    (tmp_path / "assets/x.log").write_text("l")
    plan = plans(tmp_path, toolkit.Image.debian_slim().add_local_dir("assets", "/srv/assets", ignore=["skip", "*.log"]))[0]
    added = [k for k in plan.context.files if k.startswith("local/")]
    assert added == ["local/1/keep.txt"]
    assert 'COPY ["local/1/", "/srv/assets/"]' in plan.containerfile


def test_add_local_python_source_copies_the_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers/__init__.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plan = plans(tmp_path, toolkit.Image.debian_slim().add_local_python_source("helpers"))[0]
    assert "local/1/helpers/__init__.py" in plan.context.files
    assert 'COPY ["local/1/helpers/", "/var/task/helpers/"]' in plan.containerfile


@pytest.mark.parametrize("image, message", [
    (toolkit.Image.debian_slim().add_local_file("nope.txt", "/x"), "no such file"),
    (toolkit.Image.debian_slim().add_local_dir("nodir", "/x"), "no such directory"),
    (toolkit.Image.debian_slim().add_local_python_source("no_such_module_xyz"), "no module 'no_such_module_xyz'"),
])
def test_missing_local_inputs_fail_while_planning(tmp_path: Path, image: toolkit.Image, message: str) -> None:
    with pytest.raises(MissingLocalPathError, match=message):
        plans(tmp_path, image)


def test_gpu_functions_get_their_own_image_with_nvidia_env(tmp_path: Path) -> None:
    plan = plans(tmp_path, toolkit.Image.debian_slim().pip_install("torch"), gpu="A10G")[0]
    assert "NVIDIA_VISIBLE_DEVICES=\"all\"" in plan.containerfile
    assert plan.base.ref == "docker.io/library/python:3.11-slim-bookworm"  # slim base, CUDA from the wheels
    assert plan.labels["dev.toolkit.gpu"] == "true"


def test_gpu_base_override_adds_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_GPU_BASE", "nvidia/cuda:12.4.1-runtime-ubuntu22.04")
    plan = plans(tmp_path, toolkit.Image.debian_slim("3.11"), gpu="T4")[0]
    assert plan.containerfile.startswith("FROM docker.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04")
    assert "sys.version_info[:2] != (3, 11)" in plan.containerfile


def test_registry_base_is_redirected_through_mirrors(tmp_path: Path) -> None:
    manifest = manifest_for(tmp_path, toolkit.Image.from_registry("python:3.12-slim"))
    plan = plan_app(manifest, PlanOptions(root=tmp_path, mirrors={"docker.io/library/python": "localhost:5000/python"}))[0]
    assert plan.containerfile.startswith("FROM localhost:5000/python:3.12-slim\n")


def test_env_values_are_not_expanded_at_build_time(tmp_path: Path) -> None:
    text = plans(tmp_path, toolkit.Image.debian_slim().env({"A": 'x $HOME "q"'}))[0].containerfile
    assert 'ENV A="x \\$HOME \\"q\\""' in text


def test_ca_bundle_is_mounted_not_copied(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("cert")
    manifest = manifest_for(tmp_path, toolkit.Image.debian_slim().pip_install("six"))
    plan = plan_app(manifest, PlanOptions(root=tmp_path, ca_bundle=ca))[0]
    assert "RUN --mount=type=secret,id=toolkit-ca" in plan.containerfile
    assert all(f.source != ca for f in plan.context.files.values())


def test_manifest_in_image_points_at_the_copied_source(tmp_path: Path) -> None:
    import json

    plan = plans(tmp_path, toolkit.Image.debian_slim())[0]
    inside = json.loads(plan.context.files["app/toolkit-manifest.json"].read())
    assert inside["app"]["source"]["path"] == "app.py" and "app/app.py" in plan.context.files


def test_runtime_layer_leaves_out_build_time_code(tmp_path: Path) -> None:
    plan = plans(tmp_path, toolkit.Image.debian_slim())[0]
    runtime_files = [k for k in plan.context.files if k.startswith("toolkit-runtime/")]
    assert "toolkit-runtime/runtime/lambda_handler.py" in runtime_files
    assert "toolkit-runtime/toolkit-entrypoint" in runtime_files
    assert not [k for k in runtime_files if k.startswith(("toolkit-runtime/toolkit/cli/", "toolkit-runtime/toolkit/images/"))]
    size = sum(len(plan.context.files[k].read()) for k in runtime_files)
    assert size < 5 * 1024 * 1024


@pytest.mark.parametrize("ref, parsed", [
    ("python:3.11", ("docker.io", "library/python", "3.11")),
    ("localhost:5000/team/img", ("localhost:5000", "team/img", "latest")),
    ("localhost/toolkit-test-base:x", ("localhost", "toolkit-test-base", "x")),
    ("ghcr.io/o/r@sha256:" + "a" * 64, ("ghcr.io", "o/r", None)),
])
def test_references_normalise_like_docker(ref: str, parsed: tuple[str, str, str | None]) -> None:
    r = ImageRef.parse(ref)
    assert (r.registry, r.repository, r.tag) == parsed


def test_mirror_rules_exact_before_prefix() -> None:
    rules = parse_mirrors("docker.io/library/python=m/python, python:3.11-slim=m/special:1")
    assert apply_mirrors("python:3.11-slim", rules) == "m/special:1"
    assert apply_mirrors("python:3.12", rules) == "m/python:3.12"
    assert apply_mirrors("docker.io/library/pythonista:1", rules) == "docker.io/library/pythonista:1"


@pytest.mark.parametrize("bad", ["UPPER/case", "has space", ""])
def test_malformed_reference_names_the_value(bad: str) -> None:
    with pytest.raises(ImageError, match="is not an image reference"):
        ImageRef.parse(bad)


def test_bad_mirror_rule_shows_the_format() -> None:
    with pytest.raises(ImageError, match="FROM=TO"):
        parse_mirrors("docker.io/library/python")


def test_import_toolkit_stays_free_of_the_image_builder() -> None:
    import subprocess

    code = "import sys, toolkit; sys.exit('toolkit.images' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
