"""Bad input to sandboxes: each a clear error naming the value, and nothing started or left behind."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sandbox_support import wait_no_containers

import toolkit
from toolkit.exception import NotSupportedError
from toolkit.sandboxes.engine import NoSandboxEngineError, find_engine
from toolkit.sandboxes.images import SandboxImageError


def test_no_engine_is_an_error_never_a_bare_process(tmp_path):
    with pytest.raises(NoSandboxEngineError, match="neither podman nor docker.*never falls back.*apt-get install podman"):
        find_engine(path=str(tmp_path))


def test_no_engine_through_the_public_api(tmp_path, base_ref):
    """A process whose PATH has no engine gets the error from Sandbox.create (and no container)."""
    script = ("import toolkit\napp = toolkit.App.lookup('x', create_if_missing=True)\n"
              f"toolkit.Sandbox.create('true', app=app, image=toolkit.Image.from_registry({base_ref!r}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={"PATH": str(tmp_path), "TOOLKIT_HOME": str(tmp_path / "home")})
    assert done.returncode != 0
    assert "NoSandboxEngineError" in done.stderr and "install podman" in done.stderr


def test_unknown_engine_name(monkeypatch):
    monkeypatch.setenv("TOOLKIT_SANDBOX_ENGINE", "lxc")
    with pytest.raises(NoSandboxEngineError, match="'lxc'.*podman.*docker"):
        find_engine()


def test_unknown_image_names_the_reference(app, sandbox_env):
    missing = toolkit.Image.from_registry("localhost/toolkit-no-such-image:never")
    with pytest.raises(SandboxImageError, match="localhost/toolkit-no-such-image:never"):
        toolkit.Sandbox.create("true", app=app, image=missing, timeout=30)
    assert wait_no_containers(0) == []


def test_command_not_found_names_the_command(app, image):
    with pytest.raises(toolkit.InvalidError, match="'no-such-command' was not found"):
        toolkit.Sandbox.create("no-such-command", "--flag", app=app, image=image, timeout=30)
    assert wait_no_containers() == []


def test_exec_of_a_missing_command_exits_127_naming_it(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    process = sb.exec("no-such-command")
    assert process.wait() == 127
    assert "no-such-command" in process.stderr.read()
    sb.terminate()


def test_duplicate_name_in_an_app(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60, name="only-one")
    with pytest.raises(toolkit.InvalidError, match="already has a running sandbox named 'only-one'"):
        toolkit.Sandbox.create(app=app, image=image, timeout=60, name="only-one")
    sb.terminate(wait=True)
    again = toolkit.Sandbox.create(app=app, image=image, timeout=60, name="only-one")  # free once ended
    again.terminate()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"timeout": 0}, "timeout=0"),
    ({"timeout": 10**9}, "24 hours"),
    ({"idle_timeout": -1}, "idle_timeout=-1"),
    ({"cpu": -1}, "cpu=-1"),
    ({"memory": "lots"}, "memory='lots'"),
    ({"encrypted_ports": [70000]}, "70000"),
    ({"workdir": "relative"}, "'relative'"),
    ({"name": "has space"}, "'has space'"),
    ({"tags": {"k": 1}}, "tags"),
    ({"env": {"K": 1}}, "'K'"),
    ({"block_network": True, "encrypted_ports": [80]}, "block_network"),
    ({"readiness_probe": "tcp"}, "readiness_probe='tcp'"),
])
def test_bad_arguments_name_the_value(app, kwargs, match):
    with pytest.raises(toolkit.InvalidError, match=match):
        toolkit.Sandbox.create(app=app, **kwargs)


def test_missing_app_says_how_to_get_one():
    with pytest.raises(toolkit.InvalidError, match=r"App.lookup\('my-app', create_if_missing=True\)"):
        toolkit.Sandbox.create("true")


@pytest.mark.parametrize("option", ["cidr_allowlist", "outbound_cidr_allowlist", "outbound_domain_allowlist",
                                    "inbound_cidr_allowlist"])
def test_allowlists_cannot_be_weakened_locally(app, option):
    with pytest.raises(NotSupportedError, match=option):
        toolkit.Sandbox.create(app=app, **{option: ["10.0.0.0/8"]})


def test_gpu_and_unknown_options(app):
    with pytest.raises(NotSupportedError, match="gpu='A10G'"):
        toolkit.Sandbox.create(app=app, gpu="A10G")
    with pytest.raises(NotSupportedError, match="cloud="):
        toolkit.Sandbox.create(app=app, cloud="aws")


def test_lookups_name_what_is_missing():
    with pytest.raises(toolkit.NotFoundError, match="'sb-nope'"):
        toolkit.Sandbox.from_id("sb-nope")
    with pytest.raises(toolkit.NotFoundError, match="'ghost'.*'sandbox-tests'"):
        toolkit.Sandbox.from_name("sandbox-tests", "ghost")
    with pytest.raises(toolkit.NotFoundError, match="'never-defined'.*create_if_missing=True"):
        toolkit.App.lookup("never-defined")
    assert toolkit.App.lookup("made-here", create_if_missing=True).name == "made-here"


def test_probe_arguments():
    with pytest.raises(toolkit.InvalidError, match="port 0"):
        toolkit.Probe.with_tcp(0)
    with pytest.raises(toolkit.InvalidError, match="needs a command"):
        toolkit.Probe.with_exec()
    with pytest.raises(toolkit.InvalidError, match="interval_ms=0"):
        toolkit.Probe.with_tcp(80, interval_ms=0)


def test_wait_until_ready_without_a_probe(app, image):
    sb = toolkit.Sandbox.create(app=app, image=image, timeout=60)
    with pytest.raises(toolkit.InvalidError, match="no readiness probe"):
        sb.wait_until_ready(timeout=1)
    sb.terminate()
