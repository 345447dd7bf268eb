"""CloudBucketMount (issue 22 item 2) against a real S3 endpoint (moto server): the synced copy on its own
(`runtime.volumes.buckets`), then real worker processes reading and writing through the mount."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from volume_support import APPS, REPO

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
    assert _keys(s3, name) == {"in/a.txt": b"edited", "in/new/c.txt": b"gamma", "other/x.txt": b"not mounted"}


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
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # only the mount's secret signs
    env.update(BUCKET_TEST_ENDPOINT=moto_endpoint, BUCKET_TEST_NAME=name, BUCKET_TEST_MOUNT=str(tmp_path / "mnt" / "rw"),
               BUCKET_TEST_RO_MOUNT=str(tmp_path / "mnt" / "ro"), BUCKET_TEST_APP=f"buckets-{uuid.uuid4().hex[:8]}")
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
    import http.client
    import json
    import socket
    import time

    name, s3 = bucket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(BUCKET_TEST_ENDPOINT=moto_endpoint, BUCKET_TEST_NAME=name, BUCKET_TEST_MOUNT=str(tmp_path / "mnt" / "rw"),
               BUCKET_TEST_RO_MOUNT=str(tmp_path / "mnt" / "ro"), BUCKET_TEST_APP=f"buckets-{uuid.uuid4().hex[:8]}")
    serve = subprocess.Popen([sys.executable, "-m", "toolkit.cli.__main__", "serve", str(APPS / "bucket_app.py"),
                              "--port", str(port)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline, endpoints = time.monotonic() + 60, None
        while endpoints is None:
            assert time.monotonic() < deadline and serve.poll() is None, "serve did not come up"
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/endpoints")
                endpoints = json.loads(conn.getresponse().read())
            except OSError:
                time.sleep(0.3)
        host = endpoints[0]["url"].split("//", 1)[1]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/?name=web.txt", headers={"Host": host})
        response = conn.getresponse()
        assert (response.status, json.loads(response.read())) == (200, {"files": ["a.txt", "deep", "web.txt"]})
        assert _keys(s3, name)["in/web.txt"] == b"visited"  # uploaded before the response ended
    finally:
        serve.terminate()
        serve.wait(timeout=30)
