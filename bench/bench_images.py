"""Image build benchmarks (figures and ratios, no asserts).  Needs podman, runc, skopeo,
debootstrap and docker-registry, like tests/images; run: python bench/bench_images.py

* cold build: a fresh podman storage (only the debootstrap base imported), so every layer runs;
* no-op rebuild: `toolkit build` when nothing changed (target: under 1 s, process start included);
* code-only rebuild: one line of the app changed, as a ratio of the cold build;
* sizes: what toolkit's own layer adds on top of the base plus the user's dependencies
  (target: under 5 MB), and what the runtime's pip dependencies cost, separately.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "images"))

from image_tools import (  # noqa: E402
    BASE_MIRROR,
    SAMPLE_APP,
    SYSTEM_CA,
    copy_app,
    debian_mirror,
    ensure_base_image,
    start_registry,
    toolkit_build,
    write_containers_conf,
)

USER_DEPS = '.pip_install("requests==2.32.3")'


def timed_build(app: Path, registry: str, env: dict[str, str]) -> tuple[float, dict]:
    started = time.perf_counter()
    done = toolkit_build(app, "webapp.py", "--registry", registry, "--json", env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"toolkit build failed:\n{done.stderr[-3000:]}")
    return elapsed, json.loads(done.stdout)["builds"][0]


def layer_sizes(image: str, env: dict[str, str]) -> list[tuple[int, str]]:
    out = subprocess.run(["podman", "history", "--no-trunc", "--format", "json", image], env=env,
                         capture_output=True, text=True, check=True).stdout
    return [(int(row.get("size") or 0), row.get("CreatedBy") or row.get("createdBy") or "") for row in json.loads(out)]


def mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="toolkit-bench-"))
    storage = work / "storage.conf"
    storage.write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{work}/graph"\nrunroot = "{work}/run"\n')
    env = {**os.environ, "CONTAINERS_CONF": str(write_containers_conf(work)), "CONTAINERS_STORAGE_CONF": str(storage),
           "TOOLKIT_BASE_MIRRORS": BASE_MIRROR, "TOOLKIT_BUILDER": "podman"}
    if SYSTEM_CA.exists():
        env["TOOLKIT_BUILD_CA_BUNDLE"] = str(SYSTEM_CA)
    ensure_base_image(debian_mirror(), env)  # fresh storage: imports the cached rootfs
    registry = start_registry(work)
    app = copy_app(SAMPLE_APP, work / "app")
    source = app / "webapp.py"
    source.write_text(source.read_text().replace('.env({"GREETING"', USER_DEPS + '\n    .env({"GREETING"'))
    try:
        cold, row = timed_build(app, registry.host, env)
        noop, again = timed_build(app, registry.host, env)
        source.write_text(source.read_text().replace('"version": 1', '"version": 2'))
        code, changed = timed_build(app, registry.host, env)
        report(cold, noop, code, again["built"], changed["image"], env)
    finally:
        registry.stop()
        # only this run's private storage (CONTAINERS_STORAGE_CONF above); never `system reset`
        subprocess.run(["podman", "rmi", "--all", "--force"], env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def report(cold: float, noop: float, code: float, noop_built: bool, image: str, env: dict[str, str]) -> None:
    sizes = layer_sizes(image, env)
    base = sum(s for s, by in sizes if "import" in by.lower() or "ADD file" in by)
    ours = sum(s for s, by in sizes if "/opt/toolkit/" in by and "COPY" in by)
    runtime_deps = sum(s for s, by in sizes if "pip install 'a2wsgi" in by)
    user_deps = sum(s for s, by in sizes if "requests==" in by)
    print(f"cold build                 {cold:7.2f} s")
    print(f"no-op rebuild              {noop:7.2f} s   (target < 1 s; rebuilt: {noop_built})")
    print(f"code-only rebuild          {code:7.2f} s   ratio to cold: {code / cold:.3f}")
    print(f"base image                 {mb(base)}")
    print(f"user deps (requests)       {mb(user_deps)}")
    print(f"runtime pip dependencies   {mb(runtime_deps)}   (fastapi, uvicorn, mangum, a2wsgi, httpx, "
          "cloudpickle, awslambdaric, boto3)")
    print(f"toolkit's own layer        {mb(ours)}   (target < 5 MB) = "
          f"{100 * ours / max(base + user_deps, 1):.2f}% of base + user deps")


if __name__ == "__main__":
    main()
