"""Volumes on the local store: the platform's API, and real worker processes sharing files."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from volume_support import APPS, REPO, get, serving, toolkit_run

import toolkit
from runtime.volumes.base import FileEntryType
from runtime.volumes.mounts import MountError, link
from toolkit.exception import InvalidError, NotFoundError

pytestmark = pytest.mark.timeout(180)
SHARED = str(APPS / "shared_files.py")


def _tree(root: Path) -> None:
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.txt").write_text("beta")
    (root / "sub" / "deep" / "c.bin").write_bytes(bytes(range(256)) * 10)


def test_from_name_needs_create_if_missing_and_names_the_fix() -> None:
    with pytest.raises(NotFoundError, match=r"No Volume named 'nope'.*create_if_missing=True.*toolkit volume create"):
        toolkit.Volume.from_name("nope").listdir("/")
    vol = toolkit.Volume.from_name("made", create_if_missing=True)
    assert vol.listdir("/") == [] and vol.object_id == "vo-made"
    assert toolkit.Volume.from_name("made").listdir("/") == []  # now it exists
    toolkit.Volume.delete("made")
    with pytest.raises(NotFoundError, match="No Volume named 'made' to delete"):
        toolkit.Volume.delete("made")


def test_batch_upload_of_a_directory_then_list_read_copy_remove(tmp_path: Path) -> None:
    _tree(tmp_path / "src")
    vol = toolkit.Volume.from_name("files", create_if_missing=True)
    with vol.batch_upload() as batch:
        batch.put_directory(tmp_path / "src", "/data")
        batch.put_file(io.BytesIO(b"from memory"), "/mem.txt")
        batch.put_file(tmp_path / "src" / "a.txt", "/top/a-copy.txt")
    top = vol.listdir("/")
    assert [(e.path, e.type) for e in top] == [("data", FileEntryType.DIRECTORY), ("mem.txt", FileEntryType.FILE),
                                              ("top", FileEntryType.DIRECTORY)]
    deep = [e.path for e in vol.listdir("/data", recursive=True)]
    assert deep == ["data/a.txt", "data/sub", "data/sub/b.txt", "data/sub/deep", "data/sub/deep/c.bin"]
    assert b"".join(vol.read_file("/data/sub/deep/c.bin")) == bytes(range(256)) * 10
    assert [e.size for e in vol.listdir("/data/sub/deep/c.bin")] == [2560]  # a file lists itself
    out = io.BytesIO()
    assert vol.read_file_into_fileobj("mem.txt", out) == 11 and out.getvalue() == b"from memory"

    vol.copy_files(["/data/a.txt", "/mem.txt"], "/copies")
    vol.copy_files(["/data/sub"], "/tree-copy", recursive=True)
    assert [e.path for e in vol.listdir("/copies")] == ["copies/a.txt", "copies/mem.txt"]
    assert b"".join(vol.read_file("/tree-copy/deep/c.bin")) == bytes(range(256)) * 10

    with pytest.raises(InvalidError, match=r"'/data' in volume 'files' is a directory that is not empty.*recursive=True"):
        vol.remove_file("/data")
    vol.remove_file("/data", recursive=True)
    vol.remove_file("/mem.txt")
    assert [e.path for e in vol.listdir("/")] == ["copies", "top", "tree-copy"]
    with pytest.raises(FileNotFoundError, match="'/mem.txt'.*volume 'files'"):
        b"".join(vol.read_file("/mem.txt"))


def test_batch_upload_refuses_existing_files_unless_forced_and_writes_nothing_on_error(tmp_path: Path) -> None:
    vol = toolkit.Volume.from_name("guarded", create_if_missing=True)
    with vol.batch_upload() as batch:
        batch.put_file(io.BytesIO(b"v1"), "/f.txt")
    refused = pytest.raises(FileExistsError, match=r"'/f.txt' already exists in volume 'guarded'.*force=True")
    with refused, vol.batch_upload() as batch:
        batch.put_file(io.BytesIO(b"new"), "/new.txt")
        batch.put_file(io.BytesIO(b"v2"), "/f.txt")
    assert [e.path for e in vol.listdir("/")] == ["f.txt"]  # checked before anything was written
    with pytest.raises(RuntimeError), vol.batch_upload(force=True) as batch:
        batch.put_file(io.BytesIO(b"v2"), "/f.txt")
        raise RuntimeError("the block failed: nothing is uploaded")
    with vol.batch_upload(force=True) as batch:
        batch.put_file(io.BytesIO(b"v2"), "/f.txt")
    assert b"".join(vol.read_file("f.txt")) == b"v2"
    with pytest.raises(FileNotFoundError, match="put_file: '.*missing' is not a file on this machine"):
        vol.batch_upload().put_file(tmp_path / "missing", "/x")


def test_paths_cannot_leave_the_volume() -> None:
    vol = toolkit.Volume.from_name("jail", create_if_missing=True)
    with pytest.raises(InvalidError, match=r"'../escape' leaves the volume"):
        vol.listdir("../escape")
    with pytest.raises(InvalidError, match="leaves the volume"), vol.batch_upload() as batch:
        batch.put_file(io.BytesIO(b"x"), "/a/../../escape")


def test_ephemeral_volume_is_deleted_when_the_block_ends() -> None:
    with toolkit.Volume.ephemeral() as vol:
        with vol.batch_upload() as batch:
            batch.put_file(io.BytesIO(b"x"), "x")
        assert [e.path for e in vol.listdir("/")] == ["x"]
        name = vol.name
    with pytest.raises(NotFoundError):
        toolkit.Volume.from_name(name).listdir("/")


def test_aio_variants() -> None:
    vol = toolkit.Volume.from_name("async", create_if_missing=True)

    async def main() -> tuple[list[str], bytes]:
        async with vol.batch_upload() as batch:
            batch.put_file(io.BytesIO(b"x" * 3_000_000), "/big")
        entries = await vol.listdir.aio("/")
        chunks = [chunk async for chunk in vol.read_file.aio("/big")]
        await vol.commit.aio()
        await vol.reload.aio()
        await vol.remove_file.aio("/big")
        return [e.path for e in entries], b"".join(chunks)

    paths, data = asyncio.run(main())
    assert paths == ["big"] and data == b"x" * 3_000_000
    assert vol.listdir("/") == []


def test_volumes_option_is_checked_and_recorded_in_the_manifest() -> None:
    from toolkit.manifest import build

    app = toolkit.App("vol-opts")
    vol = toolkit.Volume.from_name("weights", create_if_missing=True)
    with pytest.raises(InvalidError, match=r"volumes=\{'data': \.\.\.\}.*absolute path"):
        app.function(volumes={"data": vol})
    with pytest.raises(InvalidError, match=r"'/data/x' is inside '/data'"):
        app.function(volumes={"/data": vol, "/data-2": vol, "/data/x": vol})
    app.function(volumes={"/models/": vol, "/ro": vol.read_only()})(lambda: None)
    entry = build(app).functions[0]
    assert [tuple(v) for v in entry.volumes] == [("/models", "weights", True, False), ("/ro", "weights", True, True)]
    assert build(app).to_dict()["functions"][0]["volumes"] == [
        {"path": "/models", "name": "weights", "create_if_missing": True, "read_only": False},
        {"path": "/ro", "name": "weights", "create_if_missing": True, "read_only": True}]


# -- real workers ---------------------------------------------------------------------------------

def test_writer_commits_and_a_reader_in_another_process_sees_it(mount_path: Path) -> None:
    """Two `toolkit run` processes, each with its own worker pools: a function writes and commits in
    one, functions of the other (another pool, another process) read the file at the mount path."""
    toolkit_run(SHARED + "::write", "--name", "notes/hello.txt", "--text", "written by one worker")
    assert mount_path.is_symlink()  # the user's path, linked to the volume's directory
    out = toolkit_run(SHARED + "::read", "--name", "notes/hello.txt")
    assert "written by one worker" in out
    assert "notes" in toolkit_run(SHARED + "::listing")
    vol = toolkit.Volume.from_name("shared")
    assert b"".join(vol.read_file("/notes/hello.txt")) == b"written by one worker"


def test_concurrent_writers_to_different_files_all_land(mount_path: Path) -> None:
    """Several workers of one pool (map) and a second process's workers write at the same time."""
    script = textwrap.dedent(f"""
        import json, sys
        from toolkit.loader import load_app
        app = load_app({SHARED!r})
        prefix = sys.argv[1]
        pids = list(app.registered_functions["write_slowly"].map([f"{{prefix}}-{{i}}" for i in range(12)]))
        print(json.dumps(pids))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, prefix], cwd=REPO, env=dict(os.environ), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for prefix in ("left", "right")]
    pids = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        pids += json.loads(out)
    assert len(set(pids)) >= 3  # the writes really came from several worker processes
    vol = toolkit.Volume.from_name("shared")
    names = sorted(e.path for e in vol.listdir("/"))
    assert names == sorted(f"{side}-{i}" for side in ("left", "right") for i in range(12))
    assert all(b"".join(vol.read_file(n)) == n.upper().encode() for n in names)


def test_read_file_of_200_mb_streams_with_bounded_memory(tmp_path: Path) -> None:
    """The process's peak RSS grows by far less than the file while it is read (and checksummed)."""
    script = textwrap.dedent("""
        import hashlib, resource, toolkit
        vol = toolkit.Volume.from_name("big", create_if_missing=True)
        with vol.batch_upload() as batch:
            batch.put_file(open(__import__("sys").argv[1], "rb"), "/blob")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        digest, total = hashlib.sha256(), 0
        for chunk in vol.read_file("/blob"):
            digest.update(chunk)
            total += len(chunk)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(total, (after - before) // 1024, digest.hexdigest())
    """)
    blob = tmp_path / "blob"
    with blob.open("wb") as f:
        for i in range(200):
            f.write(bytes([i]) * (1 << 20))
    out = subprocess.run([sys.executable, "-c", script, str(blob)], cwd=REPO, env=dict(os.environ), text=True,
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    total, grew_mib, digest = out.stdout.split()
    import hashlib

    assert int(total) == 200 << 20 and digest == hashlib.sha256(blob.read_bytes()).hexdigest()
    assert int(grew_mib) < 32, f"reading 200 MiB grew the peak RSS by {grew_mib} MiB"


def test_a_mount_path_that_is_taken_or_forbidden_names_the_path_and_the_fix(tmp_path: Path) -> None:
    target = tmp_path / "volume"
    target.mkdir()
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(MountError, match=f"Cannot mount a volume at {taken}: it already exists and is not empty"):
        link(str(taken), target)
    assert (taken / "keep.txt").read_text() == "mine"  # never touched
    with pytest.raises(MountError, match=r"Cannot mount a volume at /proc/toolkit-volume-test: .*"
                                         r"`sudo ln -sfn .*volume /proc/toolkit-volume-test`"):
        link("/proc/toolkit-volume-test", target)
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    link(str(empty), target)  # an empty directory (an image step made it) becomes the link
    link(str(empty), target)  # and a second container reuses it
    assert empty.resolve() == target.resolve()


def test_a_worker_that_cannot_mount_reports_it_to_the_caller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "file").write_text("x")
    monkeypatch.setenv("VOLUME_TEST_MOUNT", str(taken))
    proc = subprocess.run([sys.executable, "-m", "toolkit.cli.__main__", "run", SHARED + "::listing"], cwd=REPO,
                          env=dict(os.environ), capture_output=True, text=True, timeout=90)
    assert proc.returncode != 0
    assert f"Cannot mount a volume at {taken}: it already exists and is not empty" in proc.stdout + proc.stderr


def test_the_platforms_other_volume_calls() -> None:
    """from_id, hydrate, objects.create/list/delete, rename, read_only, with_mount_options,
    read_file_into_fileobj's progress callback, and clear refusals for what toolkit has not."""
    vol = toolkit.Volume.from_name("first", create_if_missing=True).hydrate()  # exists now
    assert toolkit.Volume.from_id(vol.object_id).listdir("/") == []
    with pytest.raises(InvalidError, match="'first' is not a volume id"):
        toolkit.Volume.from_id("first")
    toolkit.Volume.objects.create("second")
    with pytest.raises(InvalidError, match="already exists; pass allow_existing=True"):
        toolkit.Volume.objects.create("second")
    assert [v.name for v in toolkit.Volume.objects.list()] == ["first", "second"]
    toolkit.Volume.objects.delete("second")
    toolkit.Volume.objects.delete("second", allow_missing=True)

    with vol.batch_upload() as batch:
        batch.put_file(io.BytesIO(b"abc" * 1_000_000), "/f")
    seen: list[int] = []
    assert vol.read_file_into_fileobj("/f", io.BytesIO(), progress_cb=lambda advance: seen.append(advance)) == 3_000_000
    assert sum(seen) == 3_000_000 and len(seen) == 3

    reader = vol.read_only()
    assert b"".join(reader.read_file("/f")) == b"abc" * 1_000_000
    with pytest.raises(InvalidError, match="remove_file on a read-only handle of volume 'first'"):
        reader.remove_file("/f")
    with pytest.raises(InvalidError, match="batch_upload on a read-only handle"):
        vol.with_mount_options(read_only=True).batch_upload()
    with pytest.raises(toolkit.exception.NotSupportedError, match="sub_path"):
        vol.with_mount_options(sub_path="/models")
    with pytest.raises(toolkit.exception.NotSupportedError, match="no dashboard"):
        vol.get_dashboard_url()

    toolkit.Volume.rename("first", "renamed")
    assert [e.path for e in toolkit.Volume.from_name("renamed").listdir("/")] == ["f"]
    with pytest.raises(NotFoundError, match="No Volume named 'first' to rename"):
        toolkit.Volume.rename("first", "again")


def test_a_served_web_endpoint_sees_its_volume_at_the_mount_path(mount_path: Path, tmp_path: Path) -> None:
    """`toolkit serve`'s web workers mount volumes as `toolkit run`'s do (the same load_callable)."""
    with serving(APPS / "web_volume.py", {**os.environ, "VOLUME_TEST_MOUNT": str(mount_path)}) as (port, host):
        status, body = get(port, host, "/", timeout=30)
        assert (status, json.loads(body)) == (200, {"ok": True})
    assert mount_path.is_symlink()
    assert b"".join(toolkit.Volume.from_name("web-notes").read_file("/visited.txt")) == b"streamed"


def test_a_read_only_mount_refuses_writes_on_disk_in_a_real_worker(mount_path: Path) -> None:
    """`vol.read_only()` used to be read-only only in that nothing was committed: a local worker's write
    went straight into the shared volume.  Now its worker sees a read-only bind (EROFS) and the volume keeps
    its files; the writable mount of the same volume in another worker still writes."""
    import errno

    app = str(APPS / "read_only_app.py")
    toolkit_run(app + "::seed", "--text", "seeded")
    out = toolkit_run(app + "::scribble")
    refused = {"create": errno.EROFS, "overwrite": errno.EROFS, "remove": errno.EROFS}
    assert json.loads(out.strip().splitlines()[-1]) == {"seed": "seeded", "refused": refused}, out
    assert sorted(e.path for e in toolkit.Volume.from_name("frozen").listdir("/")) == ["seed.txt"]
    assert b"".join(toolkit.Volume.from_name("frozen").read_file("seed.txt")) == b"seeded"
