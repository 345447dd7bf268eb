"""Sandbox members that refused before and now work locally, through real podman containers:
``sb.logs`` (timed lines of the main command), ``reload_volumes`` (a live local Volume),
``snapshot_directory`` + ``mount_image`` / ``unmount_image`` (a copy in, the old contents back),
``filesystem.watch`` (changes found by comparing listings)."""

from __future__ import annotations

import io
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

import toolkit
from toolkit.exception import InvalidError, NotFoundError, NotSupportedError, SandboxTerminatedError

pytestmark = pytest.mark.timeout(240)


def _read(sb: toolkit.Sandbox, *cmd: str) -> str:
    process = sb.exec(*cmd)
    out = process.stdout.read()
    process.wait()
    return out


def test_logs_are_the_main_commands_lines_with_their_times(app, image):
    before = datetime.now(timezone.utc) - timedelta(seconds=1)  # the engine's clock vs ours: a second's slack
    sb = toolkit.Sandbox.create("sh", "-c", "echo one; echo two >&2; printf part; sleep 0.3; echo ial; sleep 0.3; "
                                "echo three", app=app, image=image, timeout=60)
    sb.exec("echo", "from-exec").wait()  # exec output is not the sandbox's log (as on the platform)
    sb.wait()
    after = datetime.now(timezone.utc) + timedelta(seconds=1)
    entries = sb.logs.tail()
    assert [(e.message, e.source) for e in entries] == [("one", "stdout"), ("two", "stderr"), ("partial", "stdout"),
                                                        ("three", "stdout")]
    assert all(before <= e.timestamp <= after and e.object_id == sb.object_id for e in entries)
    assert entries[3].timestamp > entries[0].timestamp  # each line keeps the time it was written
    assert [e.message for e in sb.logs.tail(2)] == ["partial", "three"]
    assert [e.message for e in sb.logs.tail(source="stderr")] == ["two"]
    assert sb.logs.tail(0) == [] and sb.logs.tail(source="system") == []
    assert [e.message for e in sb.logs.fetch(since=before, search_text="t")] == ["two", "partial", "three"]
    assert [e.message for e in sb.logs.fetch(since=entries[3].timestamp)] == ["three"]
    assert sb.logs.fetch(since=before, until=entries[0].timestamp) == []
    later = toolkit.Sandbox.from_id(sb.object_id)  # another handle, after the container is gone
    assert [e.message for e in later.logs.tail()] == ["one", "two", "partial", "three"]
    with pytest.raises(InvalidError, match=r"source='stdin'.*stdout, stderr, system"):
        sb.logs.tail(source="stdin")


def test_reload_volumes_returns_with_what_others_wrote_visible(app, image):
    volume = toolkit.Volume.from_name("sandbox-reload-volumes", create_if_missing=True)
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60, volumes={"/data": volume})
    with volume.batch_upload(force=True) as batch:  # a write from outside the sandbox, after it started
        batch.put_file(io.BytesIO(b"written outside\n"), "/news.txt")
    sb.reload_volumes()
    assert _read(sb, "cat", "/data/news.txt") == "written outside\n"
    sb.terminate(wait=True)
    with pytest.raises(SandboxTerminatedError, match=sb.object_id):
        sb.reload_volumes()


def test_snapshot_directory_mounts_into_another_sandbox_and_unmount_restores(app, image):
    source = toolkit.Sandbox.create(app=app, image=image, timeout=90)
    source.filesystem.make_directory("/work/sub")
    source.filesystem.write_text("alpha\n", "/work/a.txt")
    source.filesystem.write_text("beta\n", "/work/sub/b.txt")
    snapshot = source.snapshot_directory("/work")
    ref = snapshot.base["ref"]
    try:
        target = toolkit.Sandbox.create(app=app, image=image, timeout=90)
        target.filesystem.make_directory("/data")
        target.filesystem.write_text("mine\n", "/data/keep.txt")
        target.mount_image("/data", snapshot)
        assert _read(target, "cat", "/data/a.txt", "/data/sub/b.txt") == "alpha\nbeta\n"
        assert _read(target, "ls", "/data") == "a.txt\nsub\n"  # the mount replaces what was there
        target.filesystem.write_text("scratch\n", "/data/new.txt")
        toolkit.Sandbox.from_id(target.object_id).unmount_image("/data")  # any handle: the mount is recorded
        assert _read(target, "ls", "/data") == "keep.txt\n"  # the old contents back, writes under the mount gone
        target.mount_image("/fresh/dir", snapshot)  # a missing path is created
        assert _read(target, "cat", "/fresh/dir/a.txt") == "alpha\n"
        target.unmount_image("/fresh/dir")
        assert target.exec("test", "-e", "/fresh/dir").wait() == 1
        with pytest.raises(InvalidError, match=r"unmount_image\('/data'\): nothing is mounted there"):
            target.unmount_image("/data")
        with pytest.raises(InvalidError, match=r"path '/' must be an absolute directory other than '/'"):
            target.mount_image("/", snapshot)
        with pytest.raises(InvalidError, match=r"snapshot_directory\('/nowhere'\) failed in the sandbox"):
            source.snapshot_directory("/nowhere")
        with pytest.raises(NotSupportedError, match=r"_experimental_encryption_key.*leave it unset"):
            target.mount_image("/x", snapshot, _experimental_encryption_key=b"k")
        for sb in (source, target):
            sb.terminate(wait=True)
        with pytest.raises(SandboxTerminatedError):
            target.mount_image("/data", snapshot)
        left = subprocess.run(["podman", "ps", "-a", "--filter", f"ancestor={ref}", "--format", "{{.Names}}"],
                              capture_output=True, text=True, timeout=60).stdout.split()
        assert left == []  # mount_image's export container is removed
    finally:
        subprocess.run(["podman", "rmi", "--force", ref], capture_output=True, timeout=60)


def test_filesystem_watch_reports_creates_changes_and_removals(app, image):
    from toolkit.sandboxes.filesystem import FileWatchEventType as Kind

    sb = toolkit.Sandbox.create(app=app, image=image, timeout=120)
    fs = sb.filesystem
    fs.make_directory("/w/sub")
    fs.write_text("0\n", "/w/existing")
    fs.write_text("x\n", "/w/gone")
    changes = fs.watch("/w", timeout=3)  # its first look is taken now: what follows is change
    fs.write_text("new\n", "/w/new.txt")
    assert sb.exec("sh", "-c", "echo more >> /w/existing").wait() == 0
    fs.remove("/w/gone")
    fs.write_text("deep\n", "/w/sub/deep.txt")  # below an entry: not watched without recursive=True
    assert [(e.type, e.paths) for e in changes] == [
        (Kind.Create, ["/w/new.txt"]), (Kind.Modify, ["/w/existing"]), (Kind.Remove, ["/w/gone"])]
    deep = fs.watch("/w", recursive=True, filter=[Kind.Create], timeout=3)
    fs.write_text("deeper\n", "/w/sub/deeper.txt")
    fs.remove("/w/new.txt")  # a Remove: filtered out
    assert [(e.type, e.paths) for e in deep] == [(Kind.Create, ["/w/sub/deeper.txt"])]
    one_file = fs.watch("/w/existing", timeout=3)
    assert sb.exec("sh", "-c", "echo again >> /w/existing").wait() == 0
    assert [e.type for e in one_file] == [Kind.Modify]
    with pytest.raises(NotFoundError, match="cannot watch '/nowhere'"):
        fs.watch("/nowhere")
    endless = fs.watch("/w")  # no timeout: it ends when the sandbox does
    sb.terminate(wait=True)
    assert list(endless) == []
