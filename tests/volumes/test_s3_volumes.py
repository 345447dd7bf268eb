"""The deployed store (S3, one prefix per volume) on a moto server: the API's data path, and two
containers' working copies synced by commit and reload as a deployed function's would be."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import toolkit
from runtime.awsclients import client
from runtime.volumes.base import FileEntryType
from runtime.volumes.mounts import commit_all, mount, unmount_all
from runtime.volumes.s3 import S3VolumeStore
from toolkit.volume import BUCKET_ENV

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def deployed(volume_bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(BUCKET_ENV, volume_bucket)
    return volume_bucket


def _container(bucket: str, cache: Path) -> S3VolumeStore:
    """One container's view: its own /tmp copy of each volume."""
    return S3VolumeStore(bucket, cache=cache)


def test_the_api_reads_and_writes_the_bucket_under_the_volume_prefix(deployed: str, tmp_path: Path) -> None:
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a.txt").write_text("alpha")
    (tmp_path / "src" / "sub" / "b.txt").write_text("beta")
    vol = toolkit.Volume.from_name("data", create_if_missing=True)
    with vol.batch_upload() as batch:
        batch.put_directory(tmp_path / "src", "/in")
        batch.put_file(io.BytesIO(b"m" * 9_000_000), "/big.bin")  # multipart upload
    keys = sorted(o["Key"] for o in client("s3").list_objects_v2(Bucket=deployed)["Contents"])
    assert keys == ["volumes/data/.toolkit-volume", "volumes/data/files/big.bin", "volumes/data/files/in/a.txt",
                    "volumes/data/files/in/sub/b.txt"]
    assert [(e.path, e.type) for e in vol.listdir("/")] == [("big.bin", FileEntryType.FILE),
                                                           ("in", FileEntryType.DIRECTORY)]
    assert [e.path for e in vol.listdir("/in", recursive=True)] == ["in/a.txt", "in/sub", "in/sub/b.txt"]
    assert [e.size for e in vol.listdir("big.bin")] == [9_000_000]
    chunks = list(vol.read_file("/big.bin"))
    assert b"".join(chunks) == b"m" * 9_000_000 and max(map(len, chunks)) <= 1 << 20  # streamed
    vol.copy_files(["/in/a.txt"], "/out/")
    vol.copy_files(["/in"], "/tree", recursive=True)
    assert b"".join(vol.read_file("/out/a.txt")) == b"alpha"
    assert b"".join(vol.read_file("/tree/sub/b.txt")) == b"beta"
    with pytest.raises(toolkit.InvalidError, match="'/in' in volume 'data' is a directory that is not empty"):
        vol.remove_file("/in")
    vol.remove_file("/in", recursive=True)
    with pytest.raises(FileNotFoundError, match="'/in/a.txt'.*volume 'data'"):
        list(vol.read_file("/in/a.txt"))
    with pytest.raises(FileExistsError, match="'/big.bin' already exists"), vol.batch_upload() as batch:
        batch.put_file(io.BytesIO(b"x"), "/big.bin")
    toolkit.Volume.delete("data")
    assert client("s3").list_objects_v2(Bucket=deployed).get("KeyCount") == 0
    with pytest.raises(toolkit.NotFoundError, match="No Volume named 'data'"):
        toolkit.Volume.from_name("data").listdir("/")


def test_a_writer_container_commits_and_a_reader_container_reloads(deployed: str, tmp_path: Path) -> None:
    writer, reader = _container(deployed, tmp_path / "c1"), _container(deployed, tmp_path / "c2")
    writer.create("weights")
    w_copy, r_copy = writer.working_copy("weights"), reader.working_copy("weights")
    (w_copy / "model").mkdir()
    (w_copy / "model" / "w.bin").write_bytes(b"v1")
    reader.reload("weights")
    assert not (r_copy / "model" / "w.bin").exists()  # not committed yet: invisible elsewhere
    writer.commit("weights")
    assert not (r_copy / "model" / "w.bin").exists()  # committed, but the reader has not reloaded
    reader.reload("weights")
    assert (r_copy / "model" / "w.bin").read_bytes() == b"v1"

    (w_copy / "model" / "w.bin").write_bytes(b"v2, longer")
    (w_copy / "extra.txt").write_text("x")
    writer.commit("weights")
    (w_copy / "extra.txt").unlink()
    writer.commit("weights")  # a deletion is committed too
    reader.reload("weights")
    assert (r_copy / "model" / "w.bin").read_bytes() == b"v2, longer" and not (r_copy / "extra.txt").exists()


def test_concurrent_containers_writing_different_files_keep_each_others_work(deployed: str, tmp_path: Path) -> None:
    a, b = _container(deployed, tmp_path / "a"), _container(deployed, tmp_path / "b")
    a.create("shared")
    a.reload("shared")
    b.reload("shared")
    (a.working_copy("shared") / "from-a").write_text("a")
    (b.working_copy("shared") / "from-b").write_text("b")
    a.commit("shared")
    b.commit("shared")  # b never saw from-a: its commit must not delete it
    a.reload("shared")
    b.reload("shared")
    for store in (a, b):
        assert sorted(p.name for p in store.working_copy("shared").iterdir()) == ["from-a", "from-b"]
    assert sorted(e.path for e in toolkit.Volume.from_name("shared").listdir("/")) == ["from-a", "from-b"]


def test_a_container_mount_reloads_links_and_commits_at_stop(deployed: str, tmp_path: Path) -> None:
    """What a deployed container does around the user's code (runtime.volumes.mounts)."""
    vol = toolkit.Volume.from_name("cache", create_if_missing=True)
    with vol.batch_upload() as batch:
        batch.put_file(io.BytesIO(b"seeded by the CLI"), "/seed.txt")
    store, at = _container(deployed, tmp_path / "tmp"), tmp_path / "mnt" / "cache"
    mount(store, [(str(at), "cache", False, False)])
    try:
        assert (at / "seed.txt").read_text() == "seeded by the CLI" and at.is_symlink()
        (at / "made-in-container.txt").write_text("hello")
    finally:
        unmount_all()  # the container stops: its writes are committed
    assert b"".join(vol.read_file("/made-in-container.txt")) == b"hello"
    commit_all()  # nothing mounted any more: nothing to do


def test_a_read_only_mount_is_never_committed(deployed: str, tmp_path: Path) -> None:
    vol = toolkit.Volume.from_name("frozen", create_if_missing=True).hydrate()
    store, at = _container(deployed, tmp_path / "tmp"), tmp_path / "ro" / "frozen"
    mount(store, [(str(at), "frozen", False, True)])
    try:
        (at / "scribble.txt").write_text("not for others")
        vol.commit()  # a writable handle, but this container mounted the volume read-only
    finally:
        unmount_all()
    assert vol.listdir("/") == []


def test_a_deployed_lambda_mounts_at_init_and_commits_after_each_invocation(
        deployed: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real Lambda handler in a fresh process (a container): it mounts the function's volume
    from the bucket before importing the user's module, and the write is in S3 when it returns."""
    import json
    import os
    import subprocess
    import sys

    from volume_support import APPS, REPO

    from toolkit.loader import load_app
    from toolkit.manifest import build

    mount_at = tmp_path / "lambda-mnt" / "data"
    monkeypatch.setenv("VOLUME_TEST_MOUNT", str(mount_at))
    manifest = build(load_app(str(APPS / "shared_files.py")),
                     source={"kind": "file", "path": "shared_files.py", "app_variable": "app"})
    assert [tuple(m) for m in manifest.function("write").volumes] == [(str(mount_at), "shared", True, False)]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest.to_dict()))
    script = (
        "import base64, json, sys\n"
        "from runtime import lambda_handler\n"
        "from runtime.serialization import serialize\n"
        "payload = base64.b64encode(serialize((('hello.txt', 'from lambda'), {}))).decode()\n"
        "reply = lambda_handler.handler({'toolkit_event': 'call', 'function': 'write', 'payload_b64': payload}, None)\n"
        "print(json.dumps(reply, default=str))\n"
        "from runtime.awsclients import client\n"  # before this process exits (its atexit commit would hide a miss)
        "print('in S3 now:', client('s3').list_objects_v2(Bucket=sys.argv[1], Prefix='volumes/shared/files/')"
        ".get('KeyCount'))\n"
    )
    env = {**os.environ, "TOOLKIT_MANIFEST": str(path), "TOOLKIT_FUNCTION": "write", "TOOLKIT_APP_ROOT": str(APPS)}
    env.pop("TOOLKIT_HOME")  # a container has no local store: only the bucket
    proc = subprocess.run([sys.executable, "-c", script, deployed], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert "in S3 now: 1" in proc.stdout, proc.stdout  # committed after the invocation, not at exit
    assert mount_at.is_symlink() and "toolkit-volumes" in os.readlink(mount_at), proc.stdout
    assert b"".join(toolkit.Volume.from_name("shared").read_file("/hello.txt")) == b"from lambda", proc.stdout


def test_rename_moves_every_object_to_the_new_prefix(deployed: str) -> None:
    vol = toolkit.Volume.from_name("before", create_if_missing=True)
    with vol.batch_upload() as batch:
        batch.put_file(io.BytesIO(b"1"), "/a/one")
        batch.put_file(io.BytesIO(b"2"), "/two")
    toolkit.Volume.objects.create("taken")
    with pytest.raises(toolkit.InvalidError, match="a volume 'taken' exists"):
        toolkit.Volume.rename("before", "taken")
    toolkit.Volume.rename("before", "after")
    keys = sorted(o["Key"] for o in client("s3").list_objects_v2(Bucket=deployed)["Contents"])
    assert keys == ["volumes/after/.toolkit-volume", "volumes/after/files/a/one", "volumes/after/files/two",
                    "volumes/taken/.toolkit-volume"]
    assert [v.name for v in toolkit.Volume.objects.list()] == ["after", "taken"]


def test_a_streamed_function_url_reply_is_followed_by_a_commit(deployed: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The Function URL path (`lambda_handler.respond`, RESPONSE_STREAM): the endpoint writes into
    its mount and does not commit; the write is in S3 once the invocation is answered."""
    import json
    import os
    import subprocess
    import sys

    from volume_support import APPS, REPO

    from toolkit.loader import load_app
    from toolkit.manifest import build

    monkeypatch.setenv("VOLUME_TEST_MOUNT", str(tmp_path / "web-mnt" / "notes"))
    manifest = build(load_app(str(APPS / "web_volume.py")),
                     source={"kind": "file", "path": "web_volume.py", "app_variable": "app"})
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest.to_dict()))
    event = REPO / "tests" / "fixtures" / "aws-events" / "function-url-browser-get.json"
    script = (
        "import json, sys\n"
        "from runtime import lambda_handler\n"
        "class Reply:\n"
        "    answered, body = False, b''\n"
        "    def send(self, result): raise AssertionError('a Function URL event must be streamed')\n"
        "    def stream(self):\n"
        "        self.answered = True\n"
        "        return self\n"
        "    def write(self, data): self.body += data\n"
        "    def close(self): pass\n"
        "reply = Reply()\n"
        "lambda_handler.respond(json.load(open(sys.argv[1])), None, reply)\n"
        "print(reply.body.decode(errors='replace'))\n"
        "from runtime.awsclients import client\n"  # before this process exits (its atexit commit would hide a miss)
        "print('in S3 now:', client('s3').list_objects_v2(Bucket=sys.argv[2], Prefix='volumes/web-notes/files/')"
        ".get('KeyCount'))\n"
    )
    env = {**os.environ, "TOOLKIT_MANIFEST": str(path), "TOOLKIT_FUNCTION": "note", "TOOLKIT_APP_ROOT": str(APPS)}
    env.pop("TOOLKIT_HOME")
    proc = subprocess.run([sys.executable, "-c", script, str(event), deployed], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert '{"ok":true}' in proc.stdout and "in S3 now: 1" in proc.stdout, proc.stdout + proc.stderr
    assert b"".join(toolkit.Volume.from_name("web-notes").read_file("/visited.txt")) == b"streamed"


def test_empty_directories_and_symlinks_survive_a_commit_and_a_reload(deployed: str, tmp_path: Path) -> None:
    """S3 keeps objects only: an empty directory and a symbolic link used to vanish between containers (the
    link was uploaded as a copy of its target's bytes, a dangling one not at all).  Now an empty directory is a
    zero-byte ``dir/`` marker and a link an object carrying its target in ``toolkit-symlink-target``; both come
    back on reload, and go when removed."""
    import os

    writer, reader = _container(deployed, tmp_path / "c1"), _container(deployed, tmp_path / "c2")
    writer.create("tree")
    w, r = writer.working_copy("tree"), reader.working_copy("tree")
    (w / "outputs" / "empty").mkdir(parents=True)
    (w / "models").mkdir()
    (w / "models" / "v2.bin").write_bytes(b"weights")
    (w / "models" / "latest").symlink_to("v2.bin")
    (w / "dangling").symlink_to("/nowhere/é")  # a target S3 metadata cannot hold as it is (not ASCII)
    writer.commit("tree")
    s3, prefix = client("s3"), "volumes/tree/files/"
    assert s3.get_object(Bucket=deployed, Key=prefix + "outputs/empty/")["ContentLength"] == 0
    assert s3.head_object(Bucket=deployed, Key=prefix + "models/latest")["Metadata"] == {
        "toolkit-symlink-target": "v2.bin"}
    reader.reload("tree")
    assert (r / "outputs" / "empty").is_dir() and not any((r / "outputs" / "empty").iterdir())
    assert os.readlink(r / "models" / "latest") == "v2.bin" and (r / "models" / "latest").read_bytes() == b"weights"
    assert os.readlink(r / "dangling") == "/nowhere/é"
    vol = toolkit.Volume.from_name("tree")
    assert [(e.path, e.type) for e in vol.listdir("/outputs", recursive=True)] == [
        ("outputs/empty", FileEntryType.DIRECTORY)]
    assert vol.listdir("/outputs/empty") == []  # an empty directory lists as one, not as missing

    (r / "outputs" / "empty").rmdir()
    (r / "models" / "latest").unlink()
    (r / "models" / "latest").symlink_to("v3.bin")  # repointed
    reader.commit("tree")
    writer.reload("tree")
    assert not (w / "outputs" / "empty").exists() and (w / "outputs").is_dir()
    assert os.readlink(w / "models" / "latest") == "v3.bin"
    writer.commit("tree")  # nothing changed since that reload: nothing to upload, nothing deleted
    assert s3.head_object(Bucket=deployed, Key=prefix + "models/latest")["Metadata"] == {
        "toolkit-symlink-target": "v3.bin"}
