"""Image build benchmarks (figures and ratios, no asserts).  Needs podman, runc, skopeo,
debootstrap and docker-registry, like tests/images; run: python bench/bench_images.py

* cold build: a fresh podman storage (only the debootstrap base imported), so every layer runs;
* no-op rebuild: `toolkit build` when nothing changed (target: under 1 s, process start included);
* code-only rebuild: one line of the app changed, as a ratio of the cold build;
* sizes: what toolkit's own layer adds on top of the base plus the user's dependencies
  (target: under 5 MB), and what the runtime's pip dependencies cost, separately.

``python bench/bench_images.py local-env`` (no podman needed, PyPI reachable): time to the first
response of `toolkit serve` for an app whose image adds one package, with its local environment
cold (built by uv; once with uv's download cache empty, once warm) and cached, against the
same app with ``--local-env current`` (worker start alone) and against ``pip install`` into a
fresh venv plus ``uvicorn``.  Target: cached minus current under 0.3 s.
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


# -- local environments ---------------------------------------------------------------------------

ENV_APP = """
import toolkit

image = toolkit.Image.debian_slim().pip_install("tabulate==0.9.0")
with image.imports():
    import tabulate

app = toolkit.App("bench-envs", image=image)


@app.function()
@toolkit.fastapi_endpoint()
def version():
    return {"tabulate": tabulate.__version__}
"""
PLAIN_APP = """
import tabulate
from fastapi import FastAPI

api = FastAPI()


@api.get("/")
def version():
    return {"tabulate": tabulate.__version__}
"""


def first_response(cmd: list[str], cwd: Path, env: dict[str, str], url: str, host: str | None) -> float:
    """Seconds from starting ``cmd`` to the first 200 from ``url`` (the process is stopped after)."""
    import httpx

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < 600:
            try:
                reply = httpx.get(url, headers={"Host": host} if host else {}, timeout=30, trust_env=False)
                if reply.status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise SystemExit(f"no answer from {url} in 600 s: {cmd}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def serve_first_response(app: Path, home: Path, mode: str, extra_env: dict[str, str] | None = None) -> float:
    from image_tools import free_port

    port = free_port()
    env = {**os.environ, "TOOLKIT_HOME": str(home), "TOOLKIT_LOCAL_ENV": mode, **(extra_env or {})}
    cmd = [sys.executable, "-m", "toolkit.cli", "serve", "app.py", "--port", str(port), "--no-reload"]
    return first_response(cmd, app, env, f"http://127.0.0.1:{port}/",
                          f"default--bench-envs-version-dev.localhost:{port}")


def pip_venv_first_response(work: Path) -> float:
    from image_tools import free_port

    started = time.perf_counter()
    venv = work / f"venv-{time.monotonic_ns()}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "fastapi", "uvicorn", "tabulate==0.9.0"], check=True,
                   capture_output=True)
    port = free_port()
    cmd = [str(venv / "bin" / "python"), "-m", "uvicorn", "plain_app:api", "--port", str(port)]
    return (time.perf_counter() - started) + first_response(cmd, work, dict(os.environ), f"http://127.0.0.1:{port}/",
                                                            None)


def local_env_main(rounds: int = 3) -> None:
    from statistics import median

    work = Path(tempfile.mkdtemp(prefix="toolkit-bench-envs-"))
    try:
        (work / "app.py").write_text(ENV_APP)
        (work / "plain_app.py").write_text(PLAIN_APP)
        fresh_uv = serve_first_response(work, work / "home-fresh-uv", "image", {"UV_CACHE_DIR": str(work / "uv-cache")})
        cold = [serve_first_response(work, work / f"home-cold-{i}", "image") for i in range(rounds)]
        warm = [serve_first_response(work, work / "home-cold-0", "image") for _ in range(rounds)]
        # ``current`` needs tabulate where toolkit runs: install it there only for this row
        current = [serve_first_response(work, work / "home-current", "current",
                                        {"PYTHONPATH": str(_tabulate_dir(work))}) for _ in range(rounds)]
        pip = [pip_venv_first_response(work) for _ in range(rounds)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"first response, environment cold, uv cache empty   {fresh_uv:7.2f} s")
    print(f"first response, environment cold, uv cache warm    {median(cold):7.2f} s   (median of {rounds})")
    print(f"first response, environment cached                {median(warm):7.2f} s")
    print(f"first response, --local-env current                {median(current):7.2f} s   (worker start alone)")
    print(f"cached minus current                               {median(warm) - median(current):7.2f} s   "
          "(target < 0.3 s)")
    print(f"pip install into a fresh venv + uvicorn            {median(pip):7.2f} s")


def _tabulate_dir(work: Path) -> Path:
    target = work / "tabulate-only"
    if not target.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target), "tabulate==0.9.0"],
                       check=True, capture_output=True)
    return target


if __name__ == "__main__":
    if sys.argv[1:] == ["local-env"]:
        local_env_main()
    else:
        main()
