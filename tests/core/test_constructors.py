"""Handles programs never construct (toolkit.construction): the platform's ``(*args, **kwargs)``
constructor (Dict's and Queue's too) refuses and names the factories; what the factories make still pickles, copies and travels
to worker processes (pickle and copy never call ``__init__``)."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from core_helpers import REPO

import toolkit
from toolkit.exception import InvalidError

pytestmark = pytest.mark.timeout(120)

REFUSED = [
    (toolkit.Image, (), {}, r"Image\.debian_slim\(\), Image\.from_registry\(tag\)"),
    (toolkit.Image, ({"kind": "debian_slim", "python_version": "3.11"},), {}, r"Image\.debian_slim\(\)"),
    (toolkit.Secret, ("name", "named"), {}, r"Secret\.from_name\(name\), Secret\.from_dict"),
    (toolkit.Secret, (), {"name": "x"}, r"Secret\.from_name\(name\)"),
    (toolkit.Volume, ("data",), {}, r"Volume\.from_name\(name, create_if_missing=True\), Volume\.ephemeral\(\)"),
    (toolkit.Volume, (), {"name": "data", "create_if_missing": True}, r"Volume\.from_name"),
    (toolkit.NetworkFileSystem, ("cache",), {}, r"NetworkFileSystem\.from_name\(name, create_if_missing=True\)"),
    (toolkit.Proxy, ("egress",), {}, r"Proxy\.from_name\(name\)"),
    (toolkit.Sandbox, (), {}, r"Sandbox\.create\(\*args, app=\.\.\.\), Sandbox\.from_id\(sandbox_id\)"),
    (toolkit.Sandbox, ("sb-0123",), {}, r"Sandbox\.from_name\(app_name, name\)"),
    (toolkit.Dict, ("cache",), {}, r"Dict\.from_name\(name, create_if_missing=True\), Dict\.ephemeral\(\)"),
    (toolkit.Queue, (), {"name": "jobs"}, r"Queue\.from_name\(name, create_if_missing=True\), Queue\.ephemeral\(\)"),
]


@pytest.mark.parametrize(("cls", "args", "kwargs", "factory"), REFUSED,
                         ids=[f"{r[0].__name__}-{i}" for i, r in enumerate(REFUSED)])
def test_direct_construction_is_refused_naming_the_factory(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any],
                                                           factory: str) -> None:
    with pytest.raises(InvalidError, match=rf"toolkit\.{cls.__name__}\(\.\.\.\) is not constructed directly: .*"
                                           rf"{factory}"):
        cls(*args, **kwargs)


def _handles() -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # NetworkFileSystem's, as on the platform
        nfs = toolkit.NetworkFileSystem.from_name("cache", create_if_missing=True)
    return {
        "image": toolkit.Image.debian_slim("3.12").pip_install("requests").env({"A": "1"}),
        "secret": toolkit.Secret.from_dict({"TOKEN": "s3cret"}),
        "named_secret": toolkit.Secret.from_name("db", required_keys=["URL"]),
        "volume": toolkit.Volume.from_name("data", create_if_missing=True),
        "read_only": toolkit.Volume.from_name("data", create_if_missing=True).read_only(),
        "nfs": nfs,
        "proxy": toolkit.Proxy.from_name("egress"),
        "dict": toolkit.Dict.from_name("shared", create_if_missing=True),
        "queue": toolkit.Queue.from_id("qu-jobs"),
    }


def _state(obj: Any) -> Any:
    """What a handle is, to compare a copy with its original (Image and Secret compare by value already)."""
    if isinstance(obj, toolkit.NetworkFileSystem):
        return ("nfs", obj.name, _state(obj.volume))
    if isinstance(obj, toolkit.Volume):
        return ("volume", obj.name, obj.creates_if_missing, obj.is_read_only)
    if isinstance(obj, toolkit.Secret):
        return (obj, dict(obj.values()))
    if isinstance(obj, (toolkit.Dict, toolkit.Queue)):
        return (type(obj).__name__, obj.name, obj.object_id)
    return obj


COPIES = {
    **{f"pickle-{p}": (lambda o, p=p: pickle.loads(pickle.dumps(o, protocol=p))) for p in range(pickle.HIGHEST_PROTOCOL + 1)},
    "cloudpickle": lambda o: cloudpickle.loads(cloudpickle.dumps(o)),
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
}


@pytest.mark.parametrize("how", sorted(COPIES))
def test_factory_made_handles_survive_pickle_and_copy(how: str) -> None:
    for name, handle in _handles().items():
        again = COPIES[how](handle)
        assert type(again) is type(handle), name
        assert _state(again) == _state(handle), name
    image = COPIES[how](_handles()["image"])
    assert image.import_errors == [] and image.apt_install("git").steps[-1]["op"] == "apt_install"


def test_a_copied_image_keeps_its_spec_hash_in_a_fresh_process(tmp_path: Path) -> None:
    image = _handles()["image"].run_commands("echo hi")
    blob = tmp_path / "image.pickle"
    blob.write_bytes(pickle.dumps(image))
    code = f"import pickle; print(pickle.loads(open({str(blob)!r}, 'rb').read()).steps[-1])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "echo hi" in done.stdout


APP = '''
import toolkit

app = toolkit.App("constructed-handles")


@app.function()
def use(volume, secret, image, proxy, nfs):
    nfs.volume.reload()
    return {"file": b"".join(volume.read_file("hello.txt")).decode(), "secret": secret.values(),
            "steps": [s["op"] for s in image.steps], "proxy": proxy.name, "nfs": nfs.name,
            "mounted": type(volume).__name__}


@app.local_entrypoint()
def main():
    import json
    import warnings

    volume = toolkit.Volume.from_name("handles-vol", create_if_missing=True)
    with volume.batch_upload(force=True) as batch:
        batch.put_file(__import__("io").BytesIO(b"from the entrypoint"), "/hello.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        nfs = toolkit.NetworkFileSystem.from_name("handles-nfs", create_if_missing=True)
    image = toolkit.Image.debian_slim().pip_install("requests")
    out = use.remote(volume, toolkit.Secret.from_dict({"K": "v"}), image, toolkit.Proxy.from_name("egress"), nfs)
    print("RESULT " + json.dumps(out))
'''


def test_handles_made_by_factories_travel_to_a_worker_process(tmp_path: Path) -> None:
    """Arguments of ``.remote`` are pickled to a worker process and unpickled there without ``__init__``."""
    app = tmp_path / "handles_app.py"
    app.write_text(textwrap.dedent(APP))
    env = {**os.environ, "TOOLKIT_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "toolkit.cli.__main__", "run", str(app)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    assert line == ('RESULT {"file": "from the entrypoint", "secret": {"K": "v"}, "steps": ["pip_install"], '
                    '"proxy": "egress", "nfs": "handles-nfs", "mounted": "Volume"}')
