"""What a sandbox may not do, and what must not outlive it: real podman containers throughout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from sandbox_support import sandbox_containers, wait_no_containers

import toolkit
from toolkit import config
from toolkit.exception import SandboxTimeoutError
from toolkit.sandboxes import records


def _wait_end(sb: toolkit.Sandbox, within: float) -> records.End:
    deadline = time.monotonic() + within
    while (end := records.load_end(sb.object_id)) is None:
        assert time.monotonic() < deadline, f"{sb.object_id} did not end within {within} s"
        time.sleep(0.1)
    return end


def test_rm_rf_root_in_a_sandbox_leaves_host_and_toolkit_files_intact(app, image, tmp_path):
    marker = tmp_path / "host-marker.txt"
    marker.write_text("host data")
    home_marker = config.home() / "keep-me.txt"
    home_marker.write_text("toolkit data")
    witness = Path(toolkit.__file__)
    before = witness.read_bytes()
    sb = toolkit.Sandbox.create("rm", "-rf", "/", "--no-preserve-root", app=app, image=image, timeout=120)
    sb.wait()
    assert sb.returncode is not None
    assert marker.read_text() == "host data"
    assert home_marker.read_text() == "toolkit data"
    assert witness.read_bytes() == before
    assert (records.directory(sb.object_id) / "record.json").exists()  # toolkit's own state, untouched
    assert Path("/usr/bin/python3").exists() and Path("/etc/passwd").exists()
    fresh = toolkit.Sandbox.create("cat", "/etc/debian_version", app=app, image=image, timeout=60)
    assert fresh.stdout.read().strip()  # the image itself is intact too
    fresh.wait()


def test_block_network_leaves_only_loopback(app, image):
    listing = "ls /sys/class/net; echo routes $(($(wc -l < /proc/net/route) - 1))"
    open_sb = toolkit.Sandbox.create("sh", "-c", listing, app=app, image=image, timeout=60)
    assert "eth0" in open_sb.stdout.read()
    open_sb.wait()
    blocked = toolkit.Sandbox.create("sh", "-c", listing, app=app, image=image, timeout=60, block_network=True)
    assert blocked.stdout.read().split() == ["lo", "routes", "0"]
    blocked.wait()


def test_cpu_and_memory_limits_apply(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60, cpu=0.5, memory=64)
    limits = sb.exec("sh", "-c", "cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us;"
                     "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
    cpu, memory = limits.stdout.read().split("\n")[:2]
    assert cpu.split()[0] == "50000" and memory == str(64 * 1024 * 1024)
    hog = sb.exec("python3", "-c", "b = bytearray(256 * 1024 * 1024); print('allocated')")
    assert hog.wait() != 0 and "allocated" not in hog.stdout.read()  # the kernel stopped it at 64 MiB
    sb.terminate()


def test_timeout_stops_and_removes_the_sandbox(app, image):
    sb = toolkit.Sandbox.create("sleep", "60", app=app, image=image, timeout=2)
    started = time.monotonic()
    with pytest.raises(SandboxTimeoutError, match=sb.object_id):
        sb.wait()
    assert time.monotonic() - started < 20
    assert records.load_end(sb.object_id).reason == "timeout"
    assert wait_no_containers() == []


def test_idle_timeout_counts_from_the_last_exec(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=120, idle_timeout=2)
    busy = sb.exec("sleep", "4")  # longer than idle_timeout: a running exec is activity
    assert busy.wait() == 0
    assert sb.poll() is None
    end = _wait_end(sb, within=20)
    assert end.reason == "idle_timeout"
    assert wait_no_containers() == []


def test_tunnel_and_tcp_readiness_probe_answer_over_http(app, image):
    sb = toolkit.Sandbox.create("python3", "-c", "import time, http.server as h; time.sleep(1); "
                                "h.HTTPServer(('', 8000), h.SimpleHTTPRequestHandler).serve_forever()",
                                app=app, image=image, timeout=60, workdir="/etc", encrypted_ports=[8000],
                                readiness_probe=toolkit.Probe.with_tcp(8000))
    sb.wait_until_ready(timeout=30)
    tunnel = sb.tunnels()[8000]
    assert tunnel.host == "127.0.0.1" and tunnel.url == f"http://127.0.0.1:{tunnel.port}"
    answer = httpx.get(tunnel.url + "/debian_version", timeout=10)
    assert answer.status_code == 200 and answer.text.strip()
    with pytest.raises(toolkit.NotFoundError, match="9000.*exposed: 8000"):
        sb.tunnels()[9000]
    sb.terminate()


def test_exec_readiness_probe(app, image):
    sb = toolkit.Sandbox.create("sh", "-c", "sleep 1; touch /tmp/ready; sleep 60", app=app, image=image, timeout=60,
                                readiness_probe=toolkit.Probe.with_exec("test", "-f", "/tmp/ready"))
    assert sb.exec("test", "-f", "/tmp/ready").wait() != 0
    sb.wait_until_ready(timeout=30)
    assert sb.exec("test", "-f", "/tmp/ready").wait() == 0
    sb.terminate()


SECOND_PROCESS = textwrap.dedent("""
    import json, sys, toolkit
    sb = toolkit.Sandbox.from_id(sys.argv[1])
    p = sb.exec("cat", "/root/from-first")
    named = toolkit.Sandbox.from_name("sandbox-tests", "shared")
    named.set_tags({"owner": "second"})
    listed = [s.object_id for s in toolkit.Sandbox.list(tags={"owner": "second"})]
    print(json.dumps({"out": p.stdout.read(), "code": p.wait(), "named": named.object_id, "listed": listed}))
""")


def test_from_id_from_name_and_tags_from_a_second_process(app, image, sandbox_env):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60, name="shared", tags={"owner": "first"})
    sb.exec("sh", "-c", "echo hello-second > /root/from-first").wait()
    done = subprocess.run([sys.executable, "-c", SECOND_PROCESS, sb.object_id], capture_output=True, text=True,
                          timeout=120, env=sandbox_env)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {"out": "hello-second\n", "code": 0, "named": sb.object_id, "listed": [sb.object_id]}
    assert sb.get_tags() == {"owner": "second"}
    assert [s.object_id for s in toolkit.Sandbox.list(app_id="sandbox-tests")] == [sb.object_id]
    sb.terminate(wait=True)
    assert list(toolkit.Sandbox.list(app_id="sandbox-tests")) == []


CREATOR = textwrap.dedent("""
    import sys, time, toolkit
    app = toolkit.App.lookup("sandbox-tests", create_if_missing=True)
    sb = toolkit.Sandbox.create(app=app, image=toolkit.Image.from_registry(sys.argv[1]), timeout=300)
    print(sb.object_id, flush=True)
    time.sleep(300)
""")


def test_killing_the_creator_removes_its_sandbox(base_ref, sandbox_env):
    creator = subprocess.Popen([sys.executable, "-c", CREATOR, base_ref], stdout=subprocess.PIPE, text=True,
                               env=sandbox_env)
    try:
        sandbox_id = creator.stdout.readline().strip()
        assert sandbox_id.startswith("sb-")
        assert f"toolkit-sb-{sandbox_id}" in sandbox_containers()
    finally:
        os.kill(creator.pid, signal.SIGKILL)
        creator.wait(timeout=30)
    assert wait_no_containers() == []
    assert records.load_end(sandbox_id).reason == "creator_exited"
    with pytest.raises(toolkit.exception.SandboxTerminatedError, match="created it exited"):
        toolkit.Sandbox.from_id(sandbox_id).exec("true")


def test_a_killed_supervisor_leaves_no_container_past_the_next_list(base_ref, sandbox_env):
    """Even when the supervisor itself is killed (with its creator), the next create or list removes
    the container it left."""
    creator = subprocess.Popen([sys.executable, "-c", CREATOR, base_ref], stdout=subprocess.PIPE, text=True,
                               env=sandbox_env)
    try:
        sandbox_id = creator.stdout.readline().strip()
        supervisor = records.load(sandbox_id).supervisor_pid
        assert supervisor and records.alive(supervisor)
        os.kill(supervisor, signal.SIGKILL)
    finally:
        os.kill(creator.pid, signal.SIGKILL)
        creator.wait(timeout=30)
    assert f"toolkit-sb-{sandbox_id}" in sandbox_containers()  # nobody watches it any more
    assert sandbox_id not in [sb.object_id for sb in toolkit.Sandbox.list()]
    assert wait_no_containers() == []
    assert "supervisor was killed" in records.load_end(sandbox_id).detail


def test_main_output_is_one_stream_per_handle(app, image):
    sb = toolkit.Sandbox.create("sh", "-c", "echo one; echo two", app=app, image=image, timeout=60)
    assert next(iter(sb.stdout)) == "one\n"
    assert sb.stdout.read() == "two\n"  # what was read is consumed, as from a pipe
    sb.wait()


def test_wait_ends_when_the_supervisor_is_killed(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=120)
    os.kill(sb._record.supervisor_pid, signal.SIGKILL)
    sb.wait(raise_on_termination=False)  # returns: the end is recorded by the one who notices
    assert "supervisor was killed" in records.load_end(sb.object_id).detail
    assert wait_no_containers() == []
