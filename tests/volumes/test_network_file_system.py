"""NetworkFileSystem (issue 22 item 3): the platform's deprecated NFS as an alias of Volume storage, with the
platform's deprecation warning; mounted by real workers through ``network_file_systems=``."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest
from volume_support import APPS, toolkit_run

import toolkit

pytestmark = pytest.mark.timeout(180)


def test_from_name_warns_as_the_platform_does_and_names_volume() -> None:
    with pytest.warns(DeprecationWarning, match=r"NetworkFileSystem is deprecated.*Use toolkit.Volume instead") as got:
        toolkit.NetworkFileSystem.from_name("warned", create_if_missing=True)
    assert got[0].filename == __file__  # pointed at the caller's line
    with pytest.warns(DeprecationWarning), toolkit.NetworkFileSystem.ephemeral() as nfs:
        nfs.write_file("/x.txt", io.BytesIO(b"x"))
        assert [e.path for e in nfs.listdir("/")] == ["x.txt"]


def test_the_file_api_writes_lists_reads_and_removes(tmp_path: Path) -> None:
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "sub" / "b.txt").write_text("beta")
    (tmp_path / "a.txt").write_text("alpha")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        nfs = toolkit.NetworkFileSystem.from_name("files", create_if_missing=True)
    assert nfs.write_file("/dir/", open(tmp_path / "a.txt", "rb")) == 5  # noqa: SIM115 - the platform's API
    nfs.add_local_file(tmp_path / "a.txt")
    nfs.add_local_dir(tmp_path / "tree")
    assert sorted(e.path for e in nfs.listdir("/")) == ["a.txt", "dir", "tree"]
    assert [e.path for e in nfs.listdir("**/*.txt")] == ["a.txt", "dir/a.txt", "tree/sub/b.txt"]
    assert b"".join(nfs.read_file("/tree/sub/b.txt")) == b"beta"
    nfs.remove_file("/tree", recursive=True)
    assert sorted(e.path for e in nfs.listdir("/")) == ["a.txt", "dir"]
    # its own namespace: the volume behind it is nfs.files, a Volume named "files" is another one
    assert [e.path for e in toolkit.Volume.from_name("nfs.files").listdir("/dir")] == ["dir/a.txt"]
    with pytest.raises(toolkit.exception.NotFoundError, match="'files'"):
        toolkit.Volume.from_name("files").listdir("/")
    toolkit.NetworkFileSystem.delete("files")
    with pytest.raises(toolkit.exception.NotFoundError):
        toolkit.Volume.from_name("nfs.files").listdir("/")


def test_workers_share_files_through_network_file_systems(mount_path: Path) -> None:
    shared = str(APPS / "nfs_app.py")
    toolkit_run(shared + "::write", "--name", "note.txt", "--text", "from one worker")
    assert "from one worker" in toolkit_run(shared + "::read", "--name", "note.txt")
    assert mount_path.is_symlink()
