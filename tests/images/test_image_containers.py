"""End to end and for real: debootstrap base -> `toolkit build` -> docker-registry -> podman run.

One image is built per session (`built`); later tests change the app's code, rebuild and
compare layers.  Each test proves one property the issue names; see each docstring.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from image_tools import (
    SAMPLE_APP,
    LocalRegistry,
    copy_app,
    require_tools,
    skopeo_inspect,
    toolkit_build,
)
from loopback import free_port

from toolkit.images import run_container

pytestmark = pytest.mark.slow


def build_json(app_dir: Path, registry: LocalRegistry, env: dict[str, str], *extra: str) -> list[dict[str, Any]]:
    done = toolkit_build(app_dir, "webapp.py", "--registry", registry.host, "--json", *extra, env=env)
    assert done.returncode == 0, f"toolkit build failed:\n{done.stdout}\n{done.stderr}"
    result = json.loads(done.stdout)
    assert result["images"] == {r["function"]: r["image"].rsplit(":", 1)[0] + "@" + r["digest"]
                                for r in result["builds"]}  # the pins `toolkit deploy --images` reads
    return list(result["builds"])


def registry_blobs(registry: LocalRegistry) -> set[str]:
    root = registry.storage / "docker/registry/v2/blobs/sha256"
    return {p.name for p in root.glob("*/*")} if root.exists() else set()


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_app(SAMPLE_APP, tmp_path_factory.mktemp("app") / "sample_app")


@pytest.fixture(scope="module")
def built(app_dir: Path, base_image: str, registry: LocalRegistry, podman_env: dict[str, str]) -> dict[str, Any]:
    require_tools("skopeo")
    rows = build_json(app_dir, registry, podman_env)
    assert [r["function"] for r in rows] == ["square"]
    return rows[0]


def test_built_image_answers_over_http(built: dict[str, Any], podman_env: dict[str, str]) -> None:
    """The pushed image, run by podman in HTTP mode, serves the user's function."""
    with run_container(built["image"], free_port(), {"TOOLKIT_FUNCTION": "square"}, engine="podman") as c:
        c.wait_healthy(timeout=60)
        reply = httpx.get(c.url + "/", params={"x": 7}, timeout=10).json()
    assert reply == {"square": 49, "greeting": "hello from the image", "answer": "42", "version": 1}


def test_registry_holds_entrypoint_env_and_labels(built: dict[str, Any], podman_env: dict[str, str]) -> None:
    """skopeo reads what was pushed: the digest printed, the entrypoint, env and labels."""
    info = skopeo_inspect(built["image"], podman_env)
    assert info["Digest"] == built["digest"]
    config = skopeo_inspect(built["image"], podman_env, config=True)["config"]
    assert config["Entrypoint"] == ["/opt/toolkit/toolkit-entrypoint"]
    assert not config.get("Cmd")  # the base's CMD must not leak into the entrypoint's arguments
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["TOOLKIT_MANIFEST"] == "/var/task/toolkit-manifest.json"
    assert env["GREETING"] == "hello from the image" and env["PYTHONPATH"].startswith("/opt/toolkit")
    labels = config["Labels"]
    assert labels["dev.toolkit.app"] == "images-demo" and labels["dev.toolkit.functions"] == "square"
    assert built["image"].endswith(":" + labels["dev.toolkit.inputs"][:24])


def test_unchanged_inputs_build_and_push_nothing(built: dict[str, Any], app_dir: Path, registry: LocalRegistry,
                                                 podman_env: dict[str, str]) -> None:
    """A second build with the same inputs finds its tag in the registry: no build, no push."""
    before = registry_blobs(registry)
    rows = build_json(app_dir, registry, podman_env)
    assert rows[0]["built"] is False and rows[0]["digest"] == built["digest"], (rows, built)
    assert registry_blobs(registry) == before
    # How fast a no-op build is gets measured by bench/bench_images.py, not asserted here.


def test_code_only_change_rebuilds_and_pushes_only_the_top_layer(
        built: dict[str, Any], app_dir: Path, registry: LocalRegistry, podman_env: dict[str, str]) -> None:
    """Editing the function changes one layer: every lower layer digest is reused, and the
    registry receives exactly one new layer blob plus the new image config and manifest."""
    old_layers = skopeo_inspect(built["image"], podman_env)["Layers"]
    blobs_before = registry_blobs(registry)
    source = app_dir / "webapp.py"
    source.write_text(source.read_text().replace('"version": 1', '"version": 2'))
    row = build_json(app_dir, registry, podman_env)[0]
    assert row["built"] is True and row["image"] != built["image"]
    new_layers = skopeo_inspect(row["image"], podman_env)["Layers"]
    assert len(new_layers) == len(old_layers)
    assert new_layers[:-1] == old_layers[:-1] and new_layers[-1] != old_layers[-1]
    new_blobs = registry_blobs(registry) - blobs_before
    assert new_layers[-1].split(":")[1] in new_blobs
    assert len(new_blobs) == 3, new_blobs  # top layer, config, manifest
    with run_container(row["image"], free_port(), {"TOOLKIT_FUNCTION": "square"}, engine="podman") as c:
        c.wait_healthy(timeout=60)
        assert httpx.get(c.url + "/", params={"x": 3}, timeout=10).json()["version"] == 2


def test_missing_local_path_is_reported_before_any_build(app_dir: Path, registry: LocalRegistry,
                                                         podman_env: dict[str, str], tmp_path: Path) -> None:
    """A typo in add_local_file fails while planning: the builder never starts."""
    broken = copy_app(app_dir, tmp_path / "broken")
    (broken / "data/answer.txt").unlink()
    done = toolkit_build(broken, "webapp.py", "--registry", registry.host, env=podman_env)
    assert done.returncode == 1
    assert "no such file" in done.stderr and "answer.txt" in done.stderr
    assert "STEP 1" not in done.stderr and "building with" not in done.stderr


@pytest.mark.parametrize("ref, message", [
    ("{registry}/no-such/base:1", "does not exist in"),
    ("localhost/toolkit-no-such-base:1", "is not in podman's local store"),
])
def test_unknown_base_is_reported_before_any_build(ref: str, message: str, registry: LocalRegistry,
                                                   podman_env: dict[str, str], tmp_path: Path) -> None:
    """A base reference neither the local store nor its registry knows fails before building."""
    app = tmp_path / "webapp.py"
    app.write_text("import toolkit\n"
                   f"app = toolkit.App('bad-base', image=toolkit.Image.from_registry({ref.format(registry=registry.host)!r}))\n"
                   "@app.function()\ndef f():\n    return 1\n")
    done = toolkit_build(tmp_path, "webapp.py", "--registry", registry.host, env=podman_env)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert "STEP 1" not in done.stderr


def test_unknown_apt_package_fails_with_the_builders_message(base_image: str, registry: LocalRegistry,
                                                             podman_env: dict[str, str], tmp_path: Path) -> None:
    """apt's own error and the failing instruction reach the user."""
    (tmp_path / "webapp.py").write_text(
        "import toolkit\n"
        "app = toolkit.App('bad-apt', image=toolkit.Image.debian_slim('3.11').apt_install('toolkit-no-such-pkg'))\n"
        "@app.function()\ndef f():\n    return 1\n")
    done = toolkit_build(tmp_path, "webapp.py", "--registry", registry.host, "--quiet", env=podman_env)
    assert done.returncode == 1
    assert "Unable to locate package toolkit-no-such-pkg" in done.stderr
    assert "at step 'RUN " in done.stderr and "apt-get install" in done.stderr



def test_lambda_handler_answers_a_web_event_inside_the_image(built: dict[str, Any], podman_env: dict[str, str]) -> None:
    """runtime.lambda_handler, with the image's own dependencies, answers an HTTP API v2 event
    (the entrypoint execs its arguments when not in Lambda mode)."""
    event = {"version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "x=5",
             "headers": {"host": "example.com"}, "queryStringParameters": {"x": "5"}, "isBase64Encoded": False,
             "requestContext": {"http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1",
                                         "sourceIp": "1.2.3.4", "userAgent": "test"},
                                "requestId": "r", "stage": "$default", "domainName": "example.com"}}
    code = ("import json, sys; from runtime.lambda_handler import handler; "
            "print('REPLY ' + json.dumps(handler(json.loads(sys.argv[1]), None)))")
    done = subprocess.run(["podman", "run", "--rm", "-e", "TOOLKIT_FUNCTION=square", built["image"],
                           "python3", "-c", code, json.dumps(event)], env=podman_env, capture_output=True, text=True,
                          timeout=120)
    line = next((x for x in done.stdout.splitlines() if x.startswith("REPLY ")), None)
    assert line is not None, done.stdout + done.stderr
    reply = json.loads(line[len("REPLY "):])
    assert reply["statusCode"] == 200 and json.loads(reply["body"])["square"] == 25
