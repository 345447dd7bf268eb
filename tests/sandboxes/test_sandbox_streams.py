"""Sandbox.create and exec through real podman containers: streams, stdin, exit codes, state, .aio."""

from __future__ import annotations

import asyncio
import time

import pytest

import toolkit
from toolkit.exception import SandboxTerminatedError
from toolkit.sandboxes.streams import StreamType


def test_main_command_streams_arrive_line_by_line_with_exit_code(app, image):
    sb = toolkit.Sandbox.create("sh", "-c", "echo one; echo oops >&2; sleep 2; echo two; exit 3",
                                app=app, image=image, timeout=60)
    arrivals = []
    for line in sb.stdout:
        arrivals.append((line, time.monotonic()))
    assert [line for line, _ in arrivals] == ["one\n", "two\n"]
    assert arrivals[1][1] - arrivals[0][1] > 1.0  # the first line came before the command finished
    assert sb.stderr.read() == "oops\n"
    sb.wait()
    assert sb.returncode == 3 and sb.poll() == 3


def test_exec_in_an_idle_sandbox_keeps_state_between_execs(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    assert sb.poll() is None
    first = sb.exec("sh", "-c", "echo kept > /root/state; echo written")
    assert first.stdout.read() == "written\n"
    assert first.wait() == 0
    second = sb.exec("cat", "/root/state")
    assert second.stdout.read() == "kept\n" and second.wait() == 0
    failing = sb.exec("sh", "-c", "echo bad >&2; exit 7")
    assert failing.stderr.read() == "bad\n" and failing.wait() == 7 and failing.returncode == 7
    sb.terminate(wait=True)


def test_exec_stdin_env_workdir_and_bytes(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    process = sb.exec("sh", "-c", 'cat; echo "$GREETING from $(pwd)"', env={"GREETING": "hi"}, workdir="/tmp",
                      secrets=[toolkit.Secret.from_dict({"TOKEN": "s3"})])
    process.stdin.write(b"line one\n")
    process.stdin.write("line two\n")
    process.stdin.drain()
    process.stdin.write_eof()
    assert process.stdout.read() == "line one\nline two\nhi from /tmp\n"
    assert process.wait() == 0
    raw = sb.exec("sh", "-c", "printf '\\001\\002'; echo $TOKEN", text=False, secrets=[toolkit.Secret.from_dict(
        {"TOKEN": "s3"})])
    assert raw.stdout.read() == b"\x01\x02s3\n"
    quiet = sb.exec("echo", "dropped", stdout=StreamType.DEVNULL)
    assert quiet.wait() == 0 and quiet.stdout.read() == ""
    sb.terminate()


def test_exec_lines_arrive_while_the_command_runs(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    process = sb.exec("sh", "-c", "echo first; sleep 2; echo second")
    lines = iter(process.stdout)
    assert next(lines) == "first\n"
    assert process.poll() is None  # still running: the first line did not wait for the end
    assert next(lines) == "second\n"
    assert process.wait() == 0
    sb.terminate()


def test_exec_timeout_kills_the_command_inside_the_sandbox(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    started = time.monotonic()
    process = sb.exec("sleep", "30", timeout=1)
    assert process.wait() == 137
    assert time.monotonic() - started < 15
    running = sb.exec("sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout.read()
    assert "sleep infinity" in running and "sleep 30" not in running  # killed in the sandbox, not just here
    sb.terminate()


def test_terminate_then_exec_is_a_named_error(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    assert sb.terminate(wait=True) is not None
    with pytest.raises(SandboxTerminatedError, match=sb.object_id):
        sb.exec("true")
    with pytest.raises(SandboxTerminatedError, match="terminated"):
        sb.wait()
    sb.wait(raise_on_termination=False)


def test_aio_variants(app, image):
    async def main() -> tuple[str, int]:
        sb = await toolkit.Sandbox.create.aio(app=app, image=image, timeout=60)
        process = sb.exec("echo", "async")
        out = await process.stdout.read.aio()
        code = await process.wait.aio()
        await sb.terminate.aio(wait=True)
        return out, code

    assert asyncio.run(main()) == ("async\n", 0)


def test_file_api(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    sb.mkdir("/work/data", parents=True)
    with sb.open("/work/data/notes.txt", "w") as fh:
        fh.write("hello\n")
    with sb.open("/work/data/notes.txt", "a") as fh:
        fh.write("again\n")
    assert sb.open("/work/data/notes.txt").read() == "hello\nagain\n"
    assert sb.ls("/work/data") == ["notes.txt"]
    sb.rm("/work/data", recursive=True)
    assert sb.ls("/work") == []
    with pytest.raises(toolkit.InvalidError, match="/nowhere"):
        sb.ls("/nowhere")
    sb.terminate()


def test_snapshot_filesystem_starts_new_sandboxes_from_it(app, image):
    import subprocess

    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    sb.exec("sh", "-c", "echo snap > /snapshot-marker").wait()
    snapshot = sb.snapshot_filesystem()
    sb.terminate()
    ref = snapshot.base["ref"]
    try:
        again = toolkit.Sandbox.create("cat", "/snapshot-marker", app=app, image=snapshot, timeout=60)
        assert again.stdout.read() == "snap\n"
        again.wait()
    finally:
        subprocess.run(["podman", "rmi", "-f", ref], capture_output=True, timeout=60)


def test_image_with_build_steps_is_built_for_the_sandbox(app, image):
    built = image.run_commands("echo from-build > /built-marker")
    sb = toolkit.Sandbox.create("cat", "/built-marker", app=app, image=built, timeout=60)
    assert sb.stdout.read() == "from-build\n"
    sb.wait()


def test_wait_before_reading_a_large_output_does_not_hang(app, image):
    """``p.wait()`` then ``p.stdout.read()``: the pipes are drained as output arrives (a 64 KiB pipe
    buffer would otherwise block the command, and wait() with it, forever)."""
    import threading

    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    process = sb.exec("python3", "-c", "import sys; sys.stdout.write('x' * 2_000_000); sys.stderr.write('e' * 200_000)")
    waiter = threading.Thread(target=process.wait, daemon=True)
    waiter.start()
    waiter.join(timeout=30)
    assert not waiter.is_alive(), "wait() blocked on a full pipe"
    assert process.returncode == 0
    assert len(process.stdout.read()) == 2_000_000 and len(process.stderr.read()) == 200_000
    sb.terminate()


def test_main_output_keeps_partial_lines_and_large_lines(app, image):
    """The engine's log splits long lines and marks partial ones; the reader gives back the bytes as written."""
    script = "printf 'a\\nb'; sleep 1; printf 'c\\n'; head -c 50000 /dev/zero | tr '\\0' x; printf '\\nend'"
    sb = toolkit.Sandbox.create("sh", "-c", script, app=app, image=image, timeout=60)
    assert sb.stdout.read() == "a\nbc\n" + "x" * 50000 + "\nend"
    sb.wait()
    again = toolkit.Sandbox.from_id(sb.object_id)  # after the end, from the file that outlived the container
    assert again.stdout.read() == "a\nbc\n" + "x" * 50000 + "\nend"
