"""CloudBucketMount (issue 22 item 2) against a real S3 endpoint (moto server): the synced copy on its own
(`runtime.volumes.buckets`), then real worker processes reading and writing through the mount."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from loopback import free_port
from volume_support import APPS, REPO, get, serving

import toolkit
from runtime.manifest import BucketMount
from runtime.volumes.buckets import BucketCopy, copy_directory, s3_client

pytestmark = pytest.mark.timeout(240)
KEYS = {"AWS_ACCESS_KEY_ID": "bucket-key", "AWS_SECRET_ACCESS_KEY": "bucket-secret", "AWS_REGION": "us-east-1"}


@pytest.fixture
def bucket(moto_endpoint: str) -> tuple[str, Any]:
    """A fresh bucket holding ``in/a.txt``, ``in/deep/b.txt`` and ``other/x.txt``; and a client of it."""
    mount = BucketMount("/unused", f"mounted-{uuid.uuid4().hex[:8]}", endpoint_url=moto_endpoint, force_path_style=True)
    s3 = s3_client(mount, KEYS)
    s3.create_bucket(Bucket=mount.bucket_name)
    for key, body in (("in/a.txt", b"alpha"), ("in/deep/b.txt", b"beta"), ("other/x.txt", b"not mounted")):
        s3.put_object(Bucket=mount.bucket_name, Key=key, Body=body)
    return mount.bucket_name, s3


def _keys(s3: Any, name: str) -> dict[str, bytes]:
    found = s3.list_objects_v2(Bucket=name).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=name, Key=o["Key"])["Body"].read() for o in found}


def _copy(moto_endpoint: str, name: str, cache: Path, **options: Any) -> BucketCopy:
    mount = BucketMount("/unused", name, endpoint_url=moto_endpoint, key_prefix="in/", force_path_style=True, **options)
    return BucketCopy(mount, copy_directory(cache, mount), s3_client(mount, KEYS))


def _without_aws(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` less its AWS_* variables: only the mount's own secret signs."""
    return {k: v for k, v in environ.items() if not k.startswith("AWS_")}


def _bucket_app_env(moto_endpoint: str, name: str, mount: Path, **more: str) -> dict[str, str]:
    """What tests/volumes/apps/bucket_app.py and bucket_web_server.py read: the bucket, its mount path, an app name."""
    return dict(BUCKET_TEST_ENDPOINT=moto_endpoint, BUCKET_TEST_NAME=name, BUCKET_TEST_MOUNT=str(mount),
                BUCKET_TEST_APP=f"buckets-{uuid.uuid4().hex[:8]}", **more)


def test_a_copy_holds_the_prefix_only_and_pushes_new_edited_and_removed_files(
        moto_endpoint: str, bucket: tuple[str, Any], tmp_path: Path) -> None:
    name, s3 = bucket
    copy = _copy(moto_endpoint, name, tmp_path)
    copy.pull()
    files = sorted(p.relative_to(copy.directory).as_posix() for p in copy.directory.rglob("*") if p.is_file())
    assert files == ["a.txt", "deep/b.txt"]  # other/ is outside the key prefix
    (copy.directory / "a.txt").write_text("edited")
    (copy.directory / "deep" / "b.txt").unlink()
    (copy.directory / "new" / "c.txt").parent.mkdir()
    (copy.directory / "new" / "c.txt").write_text("gamma")
    assert copy.push() == []
    # deep/ is left empty: S3 keeps it as a zero-byte marker object (empty directories survive a sync)
    assert _keys(s3, name) == {"in/a.txt": b"edited", "in/deep/": b"", "in/new/c.txt": b"gamma",
                               "other/x.txt": b"not mounted"}


def test_sync_after_an_invocation_also_brings_what_others_wrote(
        moto_endpoint: str, bucket: tuple[str, Any], tmp_path: Path) -> None:
    name, s3 = bucket
    copy = _copy(moto_endpoint, name, tmp_path)
    copy.pull()
    s3.put_object(Bucket=name, Key="in/from-elsewhere.txt", Body=b"hello")
    s3.delete_object(Bucket=name, Key="in/a.txt")
    copy.sync()
    assert (copy.directory / "from-elsewhere.txt").read_text() == "hello"
    assert not (copy.directory / "a.txt").exists()


def test_a_read_only_copy_uploads_nothing_and_names_what_it_kept(
        moto_endpoint: str, bucket: tuple[str, Any], tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    name, s3 = bucket
    before = _keys(s3, name)
    copy = _copy(moto_endpoint, name, tmp_path, read_only=True)
    copy.pull()
    (copy.directory / "a.txt").write_text("changed")
    (copy.directory / "extra.txt").write_text("new")
    (copy.directory / "deep" / "b.txt").unlink()
    assert copy.push() == ["a.txt", "deep/b.txt", "extra.txt"]
    assert _keys(s3, name) == before
    err = capfd.readouterr().err
    assert "3 file(s) changed under /unused were not uploaded" in err and "read_only=True" in err


def test_the_client_signs_with_the_secret_and_pays_when_asked(moto_endpoint: str, bucket: tuple[str, Any]) -> None:
    name, _ = bucket
    mount = BucketMount("/unused", name, endpoint_url=moto_endpoint, force_path_style=True, requester_pays=True)
    s3 = s3_client(mount, KEYS)
    sent: list[dict[str, str]] = []
    s3.meta.events.register("before-send.s3.*", lambda request, **_: sent.append(
        {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}))
    s3.list_objects_v2(Bucket=name, Prefix="in/")
    assert "Credential=bucket-key/" in sent[0]["Authorization"]  # the secret's key, not the process's
    assert sent[0]["x-amz-request-payer"] == "requester"


def test_cloud_bucket_mount_checks_its_arguments() -> None:
    with pytest.raises(toolkit.InvalidError, match=r"key_prefix='data' must end with '/'.*key_prefix='data/'"):
        toolkit.CloudBucketMount("b", key_prefix="data")
    with pytest.raises(toolkit.InvalidError, match=r"requester_pays=True needs credentials.*secret="):
        toolkit.CloudBucketMount("b", requester_pays=True)
    with pytest.raises(toolkit.InvalidError, match=r"mount a toolkit.Volume or a toolkit.CloudBucketMount"):
        toolkit.App("x").function(volumes={"/data": "my-bucket"})(lambda: None)


def _run(target: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "toolkit.cli.__main__", "run", target, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_workers_read_and_write_the_bucket_through_the_mount(
        moto_endpoint: str, bucket: tuple[str, Any], tmp_path: Path) -> None:
    name, s3 = bucket
    env = {**_without_aws(os.environ), **_bucket_app_env(moto_endpoint, name, tmp_path / "mnt" / "rw",
                                                         BUCKET_TEST_RO_MOUNT=str(tmp_path / "mnt" / "ro"))}
    app_file = str(APPS / "bucket_app.py")
    shouted = _run(f"{app_file}::shout", "--name", "a.txt", env=env)
    assert '["deep", "loud"]' in shouted.stdout  # a.txt read, then removed; loud/ written
    assert _keys(s3, name) == {"in/deep/b.txt": b"beta", "in/loud/a.txt": b"ALPHA", "other/x.txt": b"not mounted"}
    scribbled = _run(f"{app_file}::scribble", "--name", "a.txt", env=env)
    assert "ALPHA" in scribbled.stdout  # read through the read-only mount
    assert "in/scribbled.txt" not in _keys(s3, name)
    # The write is refused on disk (a read-only bind in the worker), no longer only left un-uploaded (the
    # message naming what was not uploaded is tested above, where a copy is written without a worker).
    assert f'"refused": {errno.EROFS}' in scribbled.stdout, scribbled.stdout + scribbled.stderr


def test_a_deployed_container_mounts_with_the_secret_it_reads_by_arn_and_syncs_after_each_invocation(
        volume_bucket: str, moto_endpoint: str, bucket: tuple[str, Any], tmp_path: Path) -> None:
    """The AWS path (`mount_deployed`): the secret comes from Secrets Manager by the ARN infra passes in
    TOOLKIT_BUCKET_SECRET_ARNS, never from os.environ; `commit_all` (the Lambda handler's, after each
    invocation) uploads the writes."""
    import json
    import shutil

    from runtime.awsclients import client
    from runtime.environment import ContainerEnv
    from runtime.manifest import FunctionEntry
    from runtime.volumes.buckets import DEFAULT_CACHE
    from runtime.volumes.mounts import MountError, commit_all, mount_deployed, unmount_all

    name, s3 = bucket
    arn = client("secretsmanager").create_secret(Name=f"keys-{name}", SecretString=json.dumps(KEYS))["ARN"]
    path = str(tmp_path / "deployed")
    mount = BucketMount(path, name, endpoint_url=moto_endpoint, key_prefix="in/", secret="partner-keys",
                        force_path_style=True)
    entry = FunctionEntry("f", "f", "function", bucket_mounts=(mount,))
    try:
        with pytest.raises(MountError, match=r"uses secret 'partner-keys'.*TOOLKIT_BUCKET_SECRET_ARNS"):
            mount_deployed(entry, ContainerEnv())
        mount_deployed(entry, ContainerEnv(bucket_secret_arns=json.dumps({"partner-keys": arn})))
        assert Path(path, "a.txt").read_text() == "alpha"
        assert os.environ.get("AWS_ACCESS_KEY_ID") != KEYS["AWS_ACCESS_KEY_ID"]  # the secret stays out of the env
        Path(path, "from-lambda.txt").write_text("invocation 1")
        commit_all()
        assert _keys(s3, name)["in/from-lambda.txt"] == b"invocation 1"
    finally:
        unmount_all()
        shutil.rmtree(copy_directory(DEFAULT_CACHE, mount), ignore_errors=True)


def test_a_served_web_endpoint_uploads_its_writes_before_its_response_ends(
        moto_endpoint: str, bucket: tuple[str, Any], tmp_path: Path) -> None:
    import json

    name, s3 = bucket
    env = {**_without_aws(os.environ), **_bucket_app_env(moto_endpoint, name, tmp_path / "mnt" / "rw",
                                                         BUCKET_TEST_RO_MOUNT=str(tmp_path / "mnt" / "ro"))}
    with serving(APPS / "bucket_app.py", env) as (port, host):
        status, body = get(port, host, "/?name=web.txt")
        assert (status, json.loads(body)) == (200, {"files": ["a.txt", "deep", "web.txt"]})
        assert _keys(s3, name)["in/web.txt"] == b"visited"  # uploaded before the response ended


def _bucket_app(moto_endpoint: str, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """tests/volumes/apps/bucket_app.py imported here (afresh), its env set for its workers."""
    from toolkit.loader import import_path, module_name_for

    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)  # only the mount's secret signs
    for key, value in _bucket_app_env(moto_endpoint, name, tmp_path / "mnt" / "rw",
                                      BUCKET_TEST_RO_MOUNT=str(tmp_path / "mnt" / "ro")).items():
        monkeypatch.setenv(key, value)
    name = module_name_for(APPS / "bucket_app.py")[0]
    monkeypatch.delitem(sys.modules, name, raising=False)  # imported afresh with this test's env, dropped after
    module = import_path(str(APPS / "bucket_app.py"))
    monkeypatch.setitem(sys.modules, name, module)
    return module


def test_an_async_functions_bucket_sync_does_not_block_its_workers_event_loop(
        moto_endpoint: str, bucket: tuple[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sync after an async input used to run on the worker's event loop: while it waited on S3, every other
    input of that worker stood still.  Here the copy's sync lock is held by this test, so the sync after the
    "write" input cannot finish; the same worker must still stream another input's ticks meanwhile."""
    import fcntl
    import queue
    import threading

    from toolkit.config import home

    name, s3 = bucket
    module = _bucket_app(moto_endpoint, name, tmp_path, monkeypatch)
    mount = module._bucket(False).manifest_entry(os.environ["BUCKET_TEST_MOUNT"])
    lock_file = copy_directory(home() / "bucket-mounts", mount) / ".lock"
    ticks: queue.Queue[object] = queue.Queue()

    def drain(mode: str) -> None:
        for item in module.work.remote_gen(mode):
            ticks.put(item)

    with module.app.run():
        assert list(module.work.remote_gen("2")) == [0, 1]  # the worker is up, the bucket mounted and synced
        with lock_file.open("a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)  # every sync of this copy now waits for us
            threading.Thread(target=drain, args=("write",), daemon=True).start()
            assert ticks.get(timeout=30) == "written"  # the input ended: its sync is waiting on the lock
            threading.Thread(target=drain, args=("10",), daemon=True).start()
            assert [ticks.get(timeout=10) for _ in range(10)] == list(range(10))  # the loop kept running
            assert "in/slow.txt" not in _keys(s3, name)
        deadline = time.monotonic() + 30  # the lock released: the held sync uploads
        while "in/slow.txt" not in _keys(s3, name):
            assert time.monotonic() < deadline, "the held sync never uploaded slow.txt"
            time.sleep(0.1)
    assert _keys(s3, name)["in/slow.txt"] == b"synced off the loop"


@pytest.mark.parametrize("every_s", ["0.5", "3600"])
def test_a_served_web_server_uploads_its_writes_periodically_and_when_it_stops(
        every_s: str, moto_endpoint: str, bucket: tuple[str, Any], tmp_path: Path) -> None:
    """A local web_server's requests go to the user's own server, never through toolkit, so nothing used to
    upload what they wrote into a bucket mount.  Now its worker syncs every TOOLKIT_BUCKET_SYNC_S seconds
    (0.5 here: uploaded while serving) and once more when it stops (3600: only the stop uploads it)."""
    name, s3 = bucket
    env = {**_without_aws(os.environ), **_bucket_app_env(moto_endpoint, name, tmp_path / "mnt" / "web",
                                                         BUCKET_TEST_WEB_PORT=str(free_port()),
                                                         TOOLKIT_BUCKET_SYNC_S=every_s)}
    with serving(APPS / "bucket_web_server.py", env) as (port, host):
        assert get(port, host, "/first")[0] == 200
        if every_s == "0.5":
            deadline = time.monotonic() + 30
            while "in/first.txt" not in _keys(s3, name):
                assert time.monotonic() < deadline, "the periodic sync never uploaded first.txt"
                time.sleep(0.2)
        else:
            time.sleep(1.0)
            assert "in/first.txt" not in _keys(s3, name)  # no request ends in toolkit, no period has passed
    assert _keys(s3, name)["in/first.txt"] == b"GET /first"


def test_a_deployed_ecs_task_uploads_its_bucket_mounts_periodically_a_lambda_per_invocation(
        moto_endpoint: str, bucket: tuple[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ECS task used to upload its bucket mounts only when it stopped (a service's requests never end an
    invocation; a worker's call may run for hours).  `mount_deployed` outside Lambda now syncs every
    TOOLKIT_BUCKET_SYNC_S; in a Lambda (AWS_LAMBDA_FUNCTION_NAME set) the handler's per-invocation sync does."""
    import shutil
    import threading

    from runtime.environment import ContainerEnv
    from runtime.manifest import FunctionEntry
    from runtime.volumes.buckets import DEFAULT_CACHE
    from runtime.volumes.mounts import mount_deployed, unmount_all

    name, s3 = bucket
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    path = str(tmp_path / "ecs")
    mount = BucketMount(path, name, endpoint_url=moto_endpoint, key_prefix="in/", force_path_style=True)
    entry = FunctionEntry("f", "f", "function", bucket_mounts=(mount,))
    syncers = lambda: [t for t in threading.enumerate() if t.name == "toolkit-bucket-sync"]  # noqa: E731
    try:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "f")
        mount_deployed(entry, ContainerEnv(bucket_sync_s=0.2))
        assert syncers() == []  # a Lambda: its handler syncs after each invocation
        unmount_all()
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
        mount_deployed(entry, ContainerEnv(bucket_sync_s=0.2))
        Path(path, "from-ecs.txt").write_text("no invocation ended")
        deadline = time.monotonic() + 20
        while "in/from-ecs.txt" not in _keys(s3, name):
            assert time.monotonic() < deadline, "the ECS task's periodic sync never uploaded from-ecs.txt"
            time.sleep(0.1)
    finally:
        unmount_all()
        shutil.rmtree(copy_directory(DEFAULT_CACHE, mount), ignore_errors=True)
    deadline = time.monotonic() + 5
    while syncers():  # unmount_all stopped it
        assert time.monotonic() < deadline, "the periodic sync thread outlived unmount_all"
        time.sleep(0.05)


def test_the_s3_consoles_folder_objects_are_directories_and_are_left_alone(
        moto_endpoint: str, bucket: tuple[str, Any], tmp_path: Path) -> None:
    """The console's "Create folder" makes zero-byte ``folder/`` objects (the prefix's own too).  They used to be
    downloaded as files named like the folder, breaking the files under it; now each is a directory, and a push
    deletes one only when its directory is removed here."""
    name, s3 = bucket
    for key in ("in/", "in/folder/", "in/folder/x.txt", "in/empty/"):
        s3.put_object(Bucket=name, Key=key, Body=b"x" if key.endswith(".txt") else b"")
    copy = _copy(moto_endpoint, name, tmp_path)
    copy.pull()
    assert (copy.directory / "folder" / "x.txt").read_text() == "x" and (copy.directory / "empty").is_dir()
    assert copy.push() == []
    before = _keys(s3, name)
    assert {"in/", "in/folder/", "in/empty/"} <= set(before)  # nothing removed here: the folders stay
    (copy.directory / "empty").rmdir()
    copy.push()
    assert set(before) - set(_keys(s3, name)) == {"in/empty/"}


def test_a_with_options_variant_mounts_its_own_bucket_locally_and_in_the_manifest(
        moto_endpoint: str, bucket: tuple[str, Any], tmp_path: Path) -> None:
    """The variant's CloudBucketMount (prefix ``other/``), not its function's (``in/``): its workers list
    ``x.txt``, and the manifest deploys the variant apart, with its own mount."""
    name, _ = bucket
    env = {**_without_aws(os.environ), **_bucket_app_env(moto_endpoint, name, tmp_path / "mnt" / "v")}
    app_file = str(APPS / "bucket_variant_app.py")
    ran = _run(app_file, env=env)
    assert "function ['a.txt', 'deep'] variant ['x.txt']" in ran.stdout, ran.stdout + ran.stderr
    script = ("import json, sys; from toolkit.loader import import_path; from toolkit.manifest import build;"
              f"m = import_path({app_file!r}); manifest = build(m.app);"
              "print(json.dumps({f.tag: [b.key_prefix for b in f.bucket_mounts] for f in manifest.functions}))")
    planned = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert planned.returncode == 0, planned.stderr
    prefixes = json.loads(planned.stdout.strip().splitlines()[-1])
    assert prefixes.pop("listing") == ["in/"]
    assert list(prefixes.values()) == [["other/"]], prefixes  # one variant, listing~<hash>, with its own mount
