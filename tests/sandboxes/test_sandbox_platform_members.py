"""The hosted platform's remaining Sandbox names (issue 22): what works through a real container, and
what refuses when used, naming the option, its value and the alternative."""

from __future__ import annotations

import asyncio

import pytest

import toolkit
from toolkit.exception import NotSupportedError
from toolkit.sandboxes.filesystem import FileType

pytestmark = pytest.mark.timeout(180)


def test_probe_takes_the_platforms_parameter_names(app, image):
    assert toolkit.Probe(tcp_port=8000) == toolkit.Probe.with_tcp(8000)
    assert toolkit.Probe(exec_argv=("true",), interval_ms=50) == toolkit.Probe.with_exec("true", interval_ms=50)
    with pytest.raises(toolkit.InvalidError, match="exactly one"):
        toolkit.Probe(tcp_port=80, exec_argv=("true",))
    with pytest.raises(toolkit.InvalidError, match="exactly one"):
        toolkit.Probe()
    sb = toolkit.Sandbox.create("sh", "-c", "sleep 0.5; touch /tmp/ready; sleep 60", app=app, image=image,
                                timeout=60, readiness_probe=toolkit.Probe(exec_argv=("test", "-e", "/tmp/ready")))
    sb.wait_until_ready(timeout=30)
    assert sb.filesystem.stat("/tmp/ready").type is FileType.FILE
    sb.terminate()


def test_filesystem_namespace_through_the_container(app, image, tmp_path):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    fs = sb.filesystem
    fs.make_directory("/work/deep/er")
    fs.write_text("hello\n", "/work/deep/a.txt")
    fs.write_bytes(b"\x00\x01", "/work/deep/b.bin")
    assert fs.read_text("/work/deep/a.txt") == "hello\n" and fs.read_bytes("/work/deep/b.bin") == b"\x00\x01"
    listed = fs.list_files("/work/deep")
    assert [(i.name, i.type, i.size) for i in listed] == [("a.txt", FileType.FILE, 6), ("b.bin", FileType.FILE, 2),
                                                           ("er", FileType.DIRECTORY, listed[2].size)]
    assert listed[0].path == "/work/deep/a.txt" and listed[0].permissions.startswith("-rw")
    local = tmp_path / "up.txt"
    local.write_text("from the host\n")
    fs.copy_from_local(local, "/work/up.txt")
    fs.copy_to_local("/work/up.txt", tmp_path / "down.txt")
    assert (tmp_path / "down.txt").read_text() == "from the host\n"
    assert asyncio.run(fs.read_text.aio("/work/up.txt")) == "from the host\n"
    with pytest.raises(toolkit.InvalidError, match="deep"):
        fs.remove("/work/deep")  # a directory needs recursive=True
    fs.remove("/work/deep", recursive=True)
    assert [i.name for i in fs.list_files("/work")] == ["up.txt"]
    with pytest.raises(toolkit.InvalidError, match="/nowhere"):
        fs.read_bytes("/nowhere")
    # fs.watch works now: tests/sandboxes/test_sandbox_local_members.py
    assert sb.client is None and sb.hydrate() is sb
    sb.terminate()


@pytest.mark.parametrize(("options", "named", "alternative"), [
    ({"cloud": "gcp"}, "cloud='gcp'", "leave cloud unset"),
    ({"region": "eu-west-1"}, "region='eu-west-1'", "leave region unset"),
    ({"runtime": "gvisor"}, "runtime='gvisor'", "leave runtime unset"),
    ({"network_file_systems": {"/mnt": object()}}, "network_file_systems=", "toolkit.Volume"),
    ({"_experimental_outbound_policy": object()}, "_experimental_outbound_policy=", "block_network=True"),
    ({"pty": True}, "pty=True", "sb.exec"),
    ({"custom_domain": "sb.example.com"}, "custom_domain='sb.example.com'", "tunnels()"),
    ({"proxy": object()}, "proxy=", "@app.function(proxy=...)"),
    ({"include_oidc_identity_token": True}, "include_oidc_identity_token=True", "secrets="),
    ({"experimental_options": {"x": 1}}, "experimental_options=", "leave experimental_options unset"),
    ({"_experimental_enable_snapshot": True}, "_experimental_enable_snapshot=True", "snapshot_filesystem()"),
    ({"_experimental_persistent": True}, "_experimental_persistent=True", "toolkit.Volume"),
    ({"client": object()}, "client=", "leave client unset"),
    ({"pty_info": object()}, "pty_info=", "sb.exec"),
])
def test_options_toolkit_cannot_honour_are_refused_naming_value_and_alternative(app, options, named, alternative):
    with pytest.raises(NotSupportedError) as caught:
        toolkit.Sandbox.create("true", app=app, **options)
    message = str(caught.value)
    assert named in message and alternative in message and "not supported" in message


def test_refused_members_name_the_alternative(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    with pytest.raises(NotSupportedError, match=r"pty_info=.*without it"):
        sb.exec("true", pty_info=object())
    # snapshot_directory, mount_image and logs work now: tests/sandboxes/test_sandbox_local_members.py
    with pytest.raises(NotSupportedError, match=r"SandboxSnapshot.*snapshot_filesystem\(\)"):
        toolkit.SandboxSnapshot.from_id("sn-1")
    assert sb.exec("echo", "still fine").stdout.read() == "still fine\n"  # a refusal leaves the sandbox usable
    sb.terminate()
