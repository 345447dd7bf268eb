"""`toolkit serve --containers` with volumes: each local volume is bind-mounted into the function's container
(``-v <volume dir>:<staging path>[:ro]``), so the image's link at the mount path reaches the same files local
workers see; ``read_only()`` is the engine's ``:ro``.  CloudBucketMounts are refused, naming the alternative."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from image_tools import SAMPLE_APP, copy_app, run, serving_containers

APP = '''"""Writes into a volume and reads it back read-only, from inside the image."""

import os

import toolkit

app = toolkit.App("serve-containers-volumes", image=toolkit.Image.debian_slim("3.11"))
notes = toolkit.Volume.from_name("container-notes", create_if_missing=True)


@app.function(volumes={"/notes": notes})
@toolkit.fastapi_endpoint(method="POST")
def write(text: str):
    with open("/notes/from-container.txt", "w") as f:
        f.write(text)
    return {"files": sorted(os.listdir("/notes"))}


@app.function(volumes={"/frozen": notes.read_only()})
@toolkit.fastapi_endpoint()
def scribble():
    try:
        open("/frozen/scribbled.txt", "w").close()
        refused = None
    except OSError as exc:
        refused = exc.errno
    with open("/frozen/seeded.txt") as f:
        return {"seeded": f.read(), "refused": refused}
'''


@pytest.mark.slow
def test_serve_containers_binds_local_volumes_and_enforces_read_only(base_image: str, podman_env: dict[str, str],
                                                                     tmp_path: Path) -> None:
    import errno

    app_dir = copy_app(SAMPLE_APP, tmp_path / "app")
    (app_dir / "webapp.py").write_text(APP)
    home = tmp_path / "home"
    env = {**podman_env, "TOOLKIT_HOME": str(home)}
    seeded = run([sys.executable, "-m", "toolkit.cli", "volume", "create", "container-notes"], env=env, cwd=app_dir)
    assert seeded.returncode == 0, seeded.stderr
    (tmp_path / "seeded.txt").write_text("from the host")
    put = run([sys.executable, "-m", "toolkit.cli", "volume", "put", "container-notes", str(tmp_path / "seeded.txt"),
               "/seeded.txt"], env=env, cwd=app_dir)
    assert put.returncode == 0, put.stderr
    with serving_containers(app_dir, "webapp.py", env) as served:
        base, hosts = served.base, served.hosts
        wrote = httpx.post(base + "/", params={"text": "written in a container"}, headers={"host": hosts["write"]},
                           timeout=180)
        assert wrote.status_code == 200, wrote.text
        assert wrote.json() == {"files": ["from-container.txt", "seeded.txt"]}
        assert (home / "volumes" / "container-notes" / "from-container.txt").read_text() == "written in a container"
        frozen = httpx.get(base + "/", headers={"host": hosts["scribble"]}, timeout=180)
        assert frozen.status_code == 200, frozen.text
        assert frozen.json() == {"seeded": "from the host", "refused": errno.EROFS}
        assert not (home / "volumes" / "container-notes" / "scribbled.txt").exists()
    assert served.returncode == 0, served.output[-4000:]
