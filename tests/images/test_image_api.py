"""The image builder API (issue 15): each method's Containerfile lines, what changes the hashes, and
misuse that names the value and the fix.  Planning only: no engine runs here."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import toolkit
from toolkit.exception import InvalidError, NotSupportedError, NotSupportedWarning
from toolkit.images import MissingLocalPathError, PlanOptions, plan_app
from toolkit.images.errors import ImageError
from toolkit.manifest import build_manifest


def plan(root: Path, image: toolkit.Image, **options: Any) -> Any:
    """The one image plan of a one-function app whose source is ``root/app.py``."""
    if not (root / "app.py").exists():
        (root / "app.py").write_text("def f():\n    return 1\n")
    app = toolkit.App("api-test", image=image)
    app.function()(_f)
    manifest = build_manifest(app, source={"kind": "file", "path": "app.py", "module": None, "app_variable": "app"})
    return plan_app(manifest, PlanOptions(root=root, **options))[0]


def _f() -> int:
    return 1


def containerfile(root: Path, image: toolkit.Image) -> str:
    return str(plan(root, image).containerfile)


def in_order(text: str, *parts: str) -> None:
    positions = []
    for part in parts:
        assert part in text, f"{part!r} not in:\n{text}"
        positions.append(text.index(part))
    assert positions == sorted(positions), text


def image_steps(text: str) -> str:
    """The Containerfile between the runtime's dependencies and its own layer: the user's steps."""
    return text.split("# image steps", 1)[1].split("# toolkit runtime\n", 1)[0]


# -- Python packages ---------------------------------------------------------------------------------

def test_pip_install_flags_in_the_platforms_order(tmp_path: Path) -> None:
    image = toolkit.Image.debian_slim().pip_install(
        "torch==2.3", ["numpy"], find_links="https://x/wheels", index_url="https://i/simple",
        extra_index_url="https://e/simple", pre=True, extra_options="--no-build-isolation")
    assert ("RUN python3 -m pip install numpy torch==2.3 --find-links https://x/wheels --index-url https://i/simple "
            "--extra-index-url https://e/simple --pre --no-build-isolation") in containerfile(tmp_path, image)


def test_uv_pip_install_installs_uv_once_and_targets_the_images_python(tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs/requirements.txt").write_text("attrs\n")
    image = (toolkit.Image.debian_slim().uv_pip_install("httpx", pre=True, index_url="https://i/simple")
             .uv_pip_install(requirements=["reqs/requirements.txt"]))
    text = image_steps(containerfile(tmp_path, image))
    assert text.count("python3 -m pip install --target /.uv uv\n") == 1
    in_order(text, "RUN /.uv/bin/uv pip install --python $(command -v python3) --break-system-packages "
                   "--compile-bytecode --index-url https://i/simple --prerelease allow httpx",
             'COPY ["local/1/requirements.txt", "/.uv/1/0/requirements.txt"]',
             "--requirements /.uv/1/0/requirements.txt")


def test_uv_version_pins_the_uv_that_is_installed(tmp_path: Path) -> None:
    text = containerfile(tmp_path, toolkit.Image.debian_slim().uv_pip_install("six", uv_version="0.8.4"))
    assert "RUN python3 -m pip install --target /.uv uv==0.8.4" in text
    with pytest.raises(InvalidError, match="uv_version='latest'.*like '0.8.4'"):
        toolkit.Image.debian_slim().uv_pip_install("six", uv_version="latest")


def test_uv_sync_copies_the_project_and_keeps_the_runtimes_packages(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj/pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\ndependencies = ["six"]\n')
    (tmp_path / "proj/uv.lock").write_text("version = 1\n")
    image = toolkit.Image.debian_slim().uv_sync("proj", groups=["ml"], extras=["gpu"])
    text = image_steps(containerfile(tmp_path, image))
    in_order(text, "RUN python3 -m pip install --target /.uv uv",
             'COPY ["local/1/pyproject.toml", "/.uv/pyproject.toml"]', 'COPY ["local/2/uv.lock", "/.uv/uv.lock"]',
             "UV_PROJECT_ENVIRONMENT=$(python3 -c 'import sys; print(sys.prefix)') /.uv/bin/uv sync --project=/.uv "
             "--no-install-workspace --inexact --compile-bytecode --frozen --group=ml --extra=gpu")


def test_uv_sync_without_a_lock_is_not_frozen_and_frozen_false_never_is(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\ndependencies = []\n')
    assert "--frozen" not in containerfile(tmp_path, toolkit.Image.debian_slim().uv_sync())
    (tmp_path / "uv.lock").write_text("version = 1\n")
    assert "--frozen" in containerfile(tmp_path, toolkit.Image.debian_slim().uv_sync())
    assert "--frozen" not in containerfile(tmp_path, toolkit.Image.debian_slim().uv_sync(frozen=False))


def test_pip_install_from_requirements_copies_the_file(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six\n")
    text = containerfile(tmp_path, toolkit.Image.debian_slim().pip_install_from_requirements(
        "requirements.txt", "https://x/wheels", pre=True))
    in_order(text, 'COPY ["local/1/requirements.txt", "/.toolkit-build/requirements-1.txt"]',
             "RUN python3 -m pip install -r /.toolkit-build/requirements-1.txt --find-links https://x/wheels --pre")


def test_pip_install_from_pyproject_reads_dependencies_and_optional_groups(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0"\ndependencies = ["requests>=2", "click"]\n'
        '[project.optional-dependencies]\ndev = ["pytest"]\ndocs = ["mkdocs"]\n')
    text = containerfile(tmp_path, toolkit.Image.debian_slim().pip_install_from_pyproject("pyproject.toml", ["dev"]))
    assert "RUN python3 -m pip install click pytest 'requests>=2'\n" in text and "mkdocs" not in text


# -- system steps and container settings -------------------------------------------------------------------

def test_build_env_applies_to_its_step_only(tmp_path: Path) -> None:
    image = (toolkit.Image.debian_slim().apt_install("git", env={"DEBIAN_PRIORITY": "critical"})
             .run_commands("echo $TOKEN", "make", env={"TOKEN": "a b"}))
    text = image_steps(containerfile(tmp_path, image))
    assert "RUN export DEBIAN_PRIORITY=critical && apt-get update && DEBIAN_FRONTEND=noninteractive" in text
    assert "RUN export TOKEN='a b' && echo $TOKEN\nRUN export TOKEN='a b' && make" in text
    assert "ENV TOKEN" not in text


def test_dockerfile_commands_and_shell_are_written_as_given(tmp_path: Path) -> None:
    (tmp_path / "motd").write_text("hi\n")
    image = (toolkit.Image.debian_slim().shell(["/bin/bash", "-c"])
             .dockerfile_commands(["COPY /motd /etc/motd", "RUN cat /etc/motd"], context_files={"/motd": "motd"},
                                  build_args={"V": "1"}))
    p = plan(tmp_path, image)
    in_order(image_steps(p.containerfile), 'SHELL ["/bin/bash", "-c"]', 'ARG V="1"', "COPY /motd /etc/motd",
             "RUN cat /etc/motd")
    assert p.context.files["motd"].read() == b"hi\n"


def test_dockerfile_commands_copy_from_the_context_dir_with_build_time_args(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf/app.ini").write_text("x=1")
    (tmp_path / "conf/local.secret").write_text("no")
    image = toolkit.Image.debian_slim().dockerfile_commands(
        "COPY conf /etc/conf", "RUN cat /etc/conf/app.ini", context_dir=tmp_path, ignore=["*.secret"],
        env={"MODE": "build"}, force_build=True)
    p = plan(tmp_path, image)
    in_order(image_steps(p.containerfile), 'ARG MODE="build"', "ARG TOOLKIT_FORCE_BUILD=",
             'COPY ["dockerfile/conf", "/etc/conf"]', "RUN cat /etc/conf/app.ini")
    assert sorted(k for k in p.context.files if k.startswith("dockerfile/")) == ["dockerfile/conf/app.ini"]
    assert plan(tmp_path, image).tag != p.tag  # force_build: a new nonce every plan


def test_entrypoint_wraps_the_runtime_and_empty_entrypoint_keeps_it(tmp_path: Path) -> None:
    wrapped = containerfile(tmp_path, toolkit.Image.debian_slim().entrypoint(["/usr/bin/tini", "--"]))
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/opt/toolkit/toolkit-entrypoint"]' in wrapped
    cleared = containerfile(tmp_path, toolkit.Image.from_registry("nvidia/cuda:12.4.1-runtime-ubuntu22.04",
                                                                  add_python="3.11").entrypoint([]))
    assert 'ENTRYPOINT ["/opt/toolkit/toolkit-entrypoint"]' in cleared


def test_cmd_has_no_effect_on_functions_but_is_recorded(tmp_path: Path) -> None:
    text = containerfile(tmp_path, toolkit.Image.debian_slim().cmd(["python", "serve.py"]))
    assert text.rstrip().endswith("CMD []")
    assert 'dev.toolkit.cmd="[\\"python\\", \\"serve.py\\"]"' in text


def test_the_last_workdir_is_where_functions_run(tmp_path: Path) -> None:
    early = containerfile(tmp_path, toolkit.Image.debian_slim().workdir("/srv").run_commands("touch x"))
    assert early.split("# toolkit runtime\n", 1)[1].count("WORKDIR /srv") == 1
    assert "WORKDIR /var/task" not in early
    late = containerfile(tmp_path, toolkit.Image.debian_slim().workdir("/srv"))
    in_order(late, "WORKDIR /var/task", "WORKDIR /srv", 'COPY ["app/"')


def test_a_late_pythonpath_keeps_the_runtime_importable(tmp_path: Path) -> None:
    text = containerfile(tmp_path, toolkit.Image.debian_slim().env({"PYTHONPATH": "/extra"}))
    tail = text.split("# local files", 1)[1]
    assert 'PYTHONPATH="/opt/toolkit:/extra"' in tail


def test_from_registry_setup_commands_follow_from(tmp_path: Path) -> None:
    image = toolkit.Image.from_registry("ubuntu:22.04", setup_dockerfile_commands=["RUN apt-get update"],
                                        add_python="3.11")
    in_order(containerfile(tmp_path, image), "FROM docker.io/library/ubuntu:22.04\nRUN apt-get update\n",
             "sys.version_info[:2] != (3, 11)")


def test_from_aws_ecr_is_from_registry(tmp_path: Path) -> None:
    ref = "123456789012.dkr.ecr.us-east-1.amazonaws.com/base:1"
    assert toolkit.Image.from_aws_ecr(ref) == toolkit.Image.from_registry(ref)


# -- local files ------------------------------------------------------------------------------------------

def test_add_local_file_to_a_directory_keeps_its_name(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("a: 1\n")
    text = containerfile(tmp_path, toolkit.Image.debian_slim().add_local_file(tmp_path / "config.yaml", "/etc/app/"))
    assert 'COPY ["local/1/config.yaml", "/etc/app/config.yaml"]' in text


def test_copy_true_is_recorded_and_either_way_the_file_is_copied(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("x")
    lazy = toolkit.Image.debian_slim().add_local_file("x.txt", "/x.txt")
    baked = toolkit.Image.debian_slim().add_local_file("x.txt", "/x.txt", copy=True)
    assert lazy.spec_hash != baked.spec_hash
    assert 'COPY ["local/1/x.txt", "/x.txt"]' in containerfile(tmp_path, baked)


def test_add_local_dir_takes_an_ignore_predicate(tmp_path: Path) -> None:
    (tmp_path / "assets/.venv/lib").mkdir(parents=True)
    (tmp_path / "assets/.venv/lib/big.so").write_text("x")
    (tmp_path / "assets/keep.txt").write_text("k")
    (tmp_path / "assets/skip.log").write_text("l")
    image = toolkit.Image.debian_slim().add_local_dir(
        tmp_path / "assets", "/assets", ignore=lambda p: p.is_relative_to(".venv") or p.suffix == ".log")
    files = [k for k in plan(tmp_path, image).context.files if k.startswith("local/")]
    assert files == ["local/1/keep.txt"]


def test_add_local_dir_with_everything_ignored_still_builds(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    text = containerfile(tmp_path, toolkit.Image.debian_slim().add_local_dir("empty", "/data"))
    assert "RUN mkdir -p /data/" in text and '"/data/"]' not in text


def test_add_local_python_source_copies_only_python_unless_told(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers/__init__.py").write_text("X = 1\n")
    (tmp_path / "helpers/data.json").write_text("{}")
    monkeypatch.syspath_prepend(str(tmp_path))
    default = plan(tmp_path, toolkit.Image.debian_slim().add_local_python_source("helpers")).context.files
    assert "local/1/helpers/__init__.py" in default and "local/1/helpers/data.json" not in default
    everything = plan(tmp_path, toolkit.Image.debian_slim().add_local_python_source("helpers", ignore=[]))
    assert "local/1/helpers/data.json" in everything.context.files


# -- from_dockerfile --------------------------------------------------------------------------------------

DOCKERFILE = """# syntax=docker/dockerfile:1
ARG PYV=3.11
FROM python:${PYV}-slim AS base
ARG FLAG
RUN apt-get update && \\
    apt-get install -y curl
COPY requirements.txt /req.txt
COPY --chown=1:1 ["conf", "/etc/conf/"]
"""


def test_from_dockerfile_is_the_first_stage_with_its_copies_in_the_context(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "requirements.txt").write_text("six\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf/a.ini").write_text("a")
    (tmp_path / "conf/secret.key").write_text("k")
    (tmp_path / ".dockerignore").write_text("*.key\n")
    (tmp_path / "unrelated.bin").write_text("never copied")
    image = toolkit.Image.from_dockerfile("Dockerfile", build_args={"FLAG": "on"}).pip_install("six")
    p = plan(tmp_path, image, mirrors={"docker.io/library/python": "localhost:5000/python"})
    in_order(p.containerfile, "FROM localhost:5000/python:3.11-slim AS base", 'ARG FLAG="on"',
             "RUN apt-get update &&  apt-get install -y curl", 'COPY ["dockerfile/requirements.txt", "/req.txt"]',
             'COPY --chown=1:1 ["dockerfile/conf", "/etc/conf/"]', "PIP_BREAK_SYSTEM_PACKAGES",
             "RUN python3 -m pip install six")
    assert sorted(k for k in p.context.files if k.startswith("dockerfile/")) == [
        "dockerfile/conf/a.ini", "dockerfile/requirements.txt"]
    assert p.base.ref == "python:3.11-slim"  # what check_base looks up before building


def test_from_dockerfile_changes_with_the_files_it_copies(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY data.txt /data.txt\n")
    (tmp_path / "data.txt").write_text("one")
    image = toolkit.Image.from_dockerfile("Dockerfile")
    first = plan(tmp_path, image).tag
    (tmp_path / "data.txt").write_text("two")
    assert plan(tmp_path, image).tag != first


def test_from_dockerfile_arg_without_default_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\n")
    with pytest.raises(ImageError, match=r"'\$\{BASE\}'.*build_args"):
        plan(tmp_path, toolkit.Image.from_dockerfile("Dockerfile"))
    assert "FROM docker.io/library/debian:12" in containerfile(
        tmp_path, toolkit.Image.from_dockerfile("Dockerfile", build_args={"BASE": "debian:12"}))


# -- hashes ----------------------------------------------------------------------------------------------

def _requirements(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("six\n")
    return path


SPEC_VARIANTS: list[tuple[str, Callable[[toolkit.Image], toolkit.Image], Callable[[toolkit.Image], toolkit.Image]]] = [
    ("pip_install", lambda i: i.pip_install("six"), lambda i: i.pip_install("six", pre=True)),
    ("pip_install index", lambda i: i.pip_install("six"), lambda i: i.pip_install("six", index_url="https://i")),
    ("uv_pip_install", lambda i: i.uv_pip_install("six"), lambda i: i.uv_pip_install("six", uv_version="0.8.4")),
    ("uv_sync", lambda i: i.uv_sync(), lambda i: i.uv_sync(groups=["dev"])),
    ("apt_install", lambda i: i.apt_install("git"), lambda i: i.apt_install("git", "curl")),
    ("run_commands", lambda i: i.run_commands("a"), lambda i: i.run_commands("a", env={"X": "1"})),
    ("entrypoint", lambda i: i.entrypoint([]), lambda i: i.entrypoint(["tini", "--"])),
    ("cmd", lambda i: i.cmd(["a"]), lambda i: i.cmd(["b"])),
    ("env", lambda i: i.env({"A": "1"}), lambda i: i.env({"A": "2"})),
    ("workdir", lambda i: i.workdir("/a"), lambda i: i.workdir("/b")),
    ("shell", lambda i: i.shell(["/bin/sh", "-c"]), lambda i: i.shell(["/bin/bash", "-c"])),
]


@pytest.mark.parametrize("name, one, other", SPEC_VARIANTS, ids=[v[0] for v in SPEC_VARIANTS])
def test_each_argument_is_part_of_the_spec_hash(name: str, one: Any, other: Any) -> None:
    base = toolkit.Image.debian_slim()
    assert one(base).spec_hash == one(toolkit.Image.debian_slim()).spec_hash
    assert one(base).spec_hash != other(base).spec_hash != base.spec_hash


def test_package_order_does_not_change_the_hash() -> None:
    image = toolkit.Image.debian_slim()
    assert image.pip_install("b", "a").spec_hash == image.pip_install(["a", "b"]).spec_hash


def test_file_contents_change_the_image_tag_not_the_spec(tmp_path: Path) -> None:
    path = _requirements(tmp_path)
    image = toolkit.Image.debian_slim().pip_install_from_requirements("requirements.txt")
    first = plan(tmp_path, image).tag
    path.write_text("six==1.16\n")
    assert plan(tmp_path, image).tag != first
    assert image.spec_hash == toolkit.Image.debian_slim().pip_install_from_requirements("requirements.txt").spec_hash


def test_force_build_rebuilds_every_time_with_a_stable_spec(tmp_path: Path) -> None:
    image = toolkit.Image.debian_slim().pip_install("six", force_build=True)
    first, second = plan(tmp_path, image), plan(tmp_path, image)
    assert first.tag != second.tag and "TOOLKIT_FORCE_BUILD=" in first.containerfile
    assert image.spec_hash == toolkit.Image.debian_slim().pip_install("six", force_build=True).spec_hash
    base_forced = plan(tmp_path, toolkit.Image.debian_slim(force_build=True))
    assert "RUN export TOOLKIT_FORCE_BUILD=" in base_forced.containerfile.split("# image steps")[0]


def test_the_image_knows_its_spec_hash(tmp_path: Path) -> None:
    image = toolkit.Image.debian_slim().pip_install("six")
    assert f'TOOLKIT_IMAGE_HASH="{image.spec_hash}"' in containerfile(tmp_path, image)


# -- misuse ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, message", [
    (lambda i: i.pip_install("--upgrade", "six"), InvalidError, "extra_options='--upgrade'"),
    (lambda i: i.uv_pip_install("-U"), InvalidError, "extra_options='-U'"),
    (lambda i: i.pip_install("six", extra_options=["--pre"]), InvalidError, "must be one string"),
    (lambda i: i.pip_install("six", secrets=[toolkit.Secret.from_dict({"A": "1"})]), NotSupportedError, "env="),
    (lambda i: i.run_commands("x", volumes={"/v": object()}), NotSupportedError, "cannot mount volumes"),
    (lambda i: i.run_commands("x", env={"A": 1}), InvalidError, "'A'=1"),
    (lambda i: i.env({"A-B": "1"}), InvalidError, "'A-B'"),
    (lambda i: i.workdir("app"), InvalidError, "absolute path, got 'app'"),
    (lambda i: i.add_local_file("x", "rel/x"), InvalidError, "absolute remote_path, got 'rel/x'"),
    (lambda i: i.add_local_dir(".", "/x", ignore="*.log"), InvalidError, r"ignore=\['\*.log'\]"),
    (lambda i: i.entrypoint("tini"), InvalidError, "list of strings"),
    (lambda i: i.cmd(["a", 1]), InvalidError, "list of strings"),
    (lambda i: i.uv_pip_install("six", requirements="r.txt"), InvalidError, "requirements='r.txt'"),
    (lambda i: i.dockerfile_commands("FROM debian"), InvalidError, "from_registry"),
    (lambda i: i.poetry_install_from_file("pyproject.toml"), NotSupportedError, "pip_install_from_requirements"),
    (lambda i: i.micromamba_install("numpy"), NotSupportedError, "run_commands"),
    (lambda i: i.pip_install_private_repos("github.com/o/r", git_user="me"), NotSupportedError, "git\\+https"),
    (lambda i: i.pipe(lambda image: "nope"), InvalidError, "must return a toolkit.Image, got str"),
    (lambda i: toolkit.Image.micromamba(), NotSupportedError, "debian_slim"),
    (lambda i: toolkit.Image.from_scratch(), NotSupportedError, "add_python"),
    (lambda i: toolkit.Image.from_registry("python:3.11", bogus=1), InvalidError, "unknown option 'bogus'"),
    (lambda i: toolkit.Image.debian_slim("2.7"), InvalidError, "'2.7'"),
])
def test_misuse_names_the_value_and_the_fix(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call(toolkit.Image.debian_slim())


def test_gpu_on_a_build_step_warns_that_it_has_no_effect() -> None:
    with pytest.warns(NotSupportedWarning, match="gpu='A10G'"):
        toolkit.Image.debian_slim().pip_install("torch", gpu="A10G")


@pytest.mark.parametrize("call, message", [
    (lambda: toolkit.Image.from_registry("python:3.11", secret=toolkit.Secret.from_dict({"A": "1"})),
     r"from_registry\(secret=...\) has no effect.*podman login"),
    (lambda: toolkit.Image.debian_slim().run_function(_f, cpu=4.0), r"run_function\(cpu=...\) has no effect"),
])
def test_options_without_effect_warn_at_the_call(call: Any, message: str) -> None:
    with pytest.warns(NotSupportedWarning, match=message):
        call()


@pytest.mark.parametrize("files, image, error, message", [
    ({}, lambda: toolkit.Image.debian_slim().pip_install_from_requirements("nope.txt"), MissingLocalPathError,
     "nope.txt"),
    ({}, lambda: toolkit.Image.debian_slim().uv_sync("proj"), MissingLocalPathError, "pyproject.toml"),
    ({"pyproject.toml": '[tool.poetry]\nname = "p"\n'},
     lambda: toolkit.Image.debian_slim().pip_install_from_pyproject("pyproject.toml"), ImageError,
     r"no \[project.dependencies\]"),
    ({"pyproject.toml": '[project]\ndependencies = []\n[project.optional-dependencies]\ndev = []\n'},
     lambda: toolkit.Image.debian_slim().pip_install_from_pyproject("pyproject.toml", ["test"]), ImageError,
     r"no optional-dependencies group 'test'; the file has \['dev'\]"),
    ({"pyproject.toml": '[project]\ndependencies = []\n[tool.uv.workspace]\nmembers = ["a"]\n'},
     lambda: toolkit.Image.debian_slim().uv_sync(), ImageError, "workspaces are not supported"),
    ({"pyproject.toml": "[project\n"}, lambda: toolkit.Image.debian_slim().uv_sync(), ImageError,
     "not valid TOML"),
    ({"Dockerfile": "FROM python:3.11-slim\nCOPY missing.txt /m\n"},
     lambda: toolkit.Image.from_dockerfile("Dockerfile"), MissingLocalPathError, "missing.txt.*context_dir"),
    ({}, lambda: toolkit.Image.from_dockerfile("Nope.Dockerfile"), MissingLocalPathError, "Nope.Dockerfile"),
])
def test_bad_local_inputs_fail_while_planning(tmp_path: Path, files: dict[str, str], image: Any,
                                              error: type[Exception], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(error, match=message):
        plan(tmp_path, image())


def test_every_step_kind_has_a_renderer() -> None:
    from toolkit.images.containerfile import STEP_RENDERERS

    ops = set(re.findall(r'"op": "(\w+)"', Path(toolkit.image.__file__).read_text()))
    assert ops <= set(STEP_RENDERERS), ops - set(STEP_RENDERERS)


def test_relative_local_paths_are_kept_relative_in_the_spec(tmp_path: Path) -> None:
    step = toolkit.Image.debian_slim().add_local_file("data/x.csv", "/x.csv").steps[0]
    assert step["local_path"] == "data/x.csv"  # the same spec (and hash) from any checkout location
    assert toolkit.Image.debian_slim().add_local_file("~/x", "/x").steps[0]["local_path"] == os.path.expanduser("~/x")
