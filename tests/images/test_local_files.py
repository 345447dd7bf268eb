"""``add_local_*`` remote paths for local workers (issue 15 item 4): mirrored under
``$TOOLKIT_HOME/files/<hash>`` by links, with the worker's directory at the image's workdir, so
relative paths that work in the container work under `toolkit run` / `toolkit serve` too."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import toolkit
from toolkit.images.errors import ImageError, MissingLocalPathError
from toolkit.images.local_files import mirror_files

APP = textwrap.dedent("""
    import os

    import toolkit

    image = (toolkit.Image.debian_slim()
             .add_local_file("data/answer.txt", "/srv/answer.txt")
             .add_local_dir("assets", "/srv/assets")
             .workdir("/srv"))
    app = toolkit.App("files-demo", image=image)


    @app.function()
    def read() -> str:
        with open("answer.txt") as a, open("assets/greeting.txt") as g:
            return a.read() + "|" + g.read() + "|" + os.getcwd()
""")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data/answer.txt").write_text("42")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets/greeting.txt").write_text("hello")
    (tmp_path / "files_app.py").write_text(APP)
    return tmp_path


def toolkit_run(project: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLKIT_HOME": str(home), "TOOLKIT_LOCAL_ENV": "current"}
    return subprocess.run([sys.executable, "-m", "toolkit.cli", "run", "files_app.py::read"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)


def test_relative_paths_from_the_workdir_work_for_local_workers(project: Path, tmp_path: Path) -> None:
    done = toolkit_run(project, tmp_path / "home")
    assert done.returncode == 0, done.stderr
    answer, greeting, cwd = done.stdout.strip().split("|")
    assert (answer, greeting) == ("42", "hello")
    assert Path(cwd).parent.parent == tmp_path / "home" / "files" and Path(cwd).name == "srv"
    (project / "data/answer.txt").write_text("43")  # a link, not a copy: edits are seen at once
    assert toolkit_run(project, tmp_path / "home").stdout.startswith("43|")


def test_the_mirror_links_each_remote_path(project: Path, tmp_path: Path) -> None:
    spec = (toolkit.Image.debian_slim().add_local_file("data/answer.txt", "/srv/answer.txt")
            .add_local_dir("assets", "/opt/assets").to_dict())
    files = mirror_files(spec, project, tmp_path / "home")
    assert files is not None and files.cwd is None  # no workdir: the worker's directory is unchanged
    assert (files.root / "srv/answer.txt").resolve() == (project / "data/answer.txt").resolve()
    assert (files.root / "opt/assets/greeting.txt").read_text() == "hello"
    assert mirror_files(toolkit.Image.debian_slim().pip_install("six").to_dict(), project, tmp_path) is None


def test_a_file_inside_an_added_directory_is_refused_with_the_fix(project: Path, tmp_path: Path) -> None:
    spec = (toolkit.Image.debian_slim().add_local_dir("assets", "/srv/assets")
            .add_local_file("data/answer.txt", "/srv/assets/answer.txt").to_dict())
    with pytest.raises(ImageError, match=r"'/srv/assets/answer.txt'\) lands inside the directory added at "
                                         "'/srv/assets'.*outside it"):
        mirror_files(spec, project, tmp_path / "home")
    assert not (project / "assets/answer.txt").exists()  # nothing written into the user's directory


def test_a_missing_source_names_it(project: Path, tmp_path: Path) -> None:
    spec = toolkit.Image.debian_slim().add_local_file("nope.txt", "/srv/nope.txt").to_dict()
    with pytest.raises(MissingLocalPathError, match="no such file .*nope.txt"):
        mirror_files(spec, project, tmp_path / "home")
