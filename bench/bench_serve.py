"""`toolkit serve` benchmarks; each figure is a ratio against a baseline measured in the same run.

    python bench/bench_serve.py [--clients 64] [--requests 20000] [--latency-requests 2000] [--repeat 3]

* gateway throughput: N keep-alive clients for a fixed number of requests against the
  ``asgi_app`` below through ``toolkit serve``, vs bare uvicorn serving the same FastAPI app
  (goal: >= 0.8x).  ``max_inputs`` is high enough that the worker's concurrency is no limit.
* ``web_server`` proxy throughput: the same load through the gateway to a web_server whose
  server is that bare uvicorn, vs hitting its port directly (goal: >= 0.7x).
* added median latency of one request at a time over one keep-alive connection, through
  the gateway vs direct (goal: under 1 ms).

This file is also the app that is served (``toolkit serve bench/bench_serve.py``); everything
runs on loopback.  The load generator is raw asyncio streams in this process, the same for
every target, so the client's own cost is the same on both sides of each ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fastapi

import toolkit

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
DIRECT_PORT = int(os.environ.get("BENCH_SERVE_DIRECT_PORT", "18431"))
BODY = b'{"hello":"world"}'

app = toolkit.App("bench-serve")
web_app = fastapi.FastAPI()


@web_app.get("/")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@app.function()
@toolkit.concurrent(max_inputs=1000)
@toolkit.asgi_app()
def web() -> fastapi.FastAPI:
    return web_app


def _start_direct(port: int) -> None:
    subprocess.Popen(_uvicorn_cmd(port))


@app.function()
@toolkit.concurrent(max_inputs=1000)
@toolkit.web_server(DIRECT_PORT, startup_timeout=30)
def proxied() -> None:
    _start_direct(DIRECT_PORT)


def _uvicorn_cmd(port: int) -> list[str]:
    # the same server settings toolkit serve's workers use: default loop and HTTP parser
    return [sys.executable, "-m", "uvicorn", "bench_serve:web_app", "--app-dir", str(HERE.parent),
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]


# -- the load generator ----------------------------------------------------------------------------
async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> None:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    body = await reader.readexactly(length)
    if not head.startswith(b"HTTP/1.1 200") or body != BODY:
        raise RuntimeError(f"unexpected response: {head!r} {body!r}")


async def _client(port: int, request: bytes, count: int, latencies: list[float] | None) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for _ in range(count):
            started = time.perf_counter()
            await _one(reader, writer, request)
            if latencies is not None:
                latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def _throughput(port: int, host: str, clients: int, total: int) -> float:
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    await asyncio.gather(*(_client(port, request, 20, None) for _ in range(clients)))  # warm up
    per_client = total // clients
    started = time.perf_counter()
    await asyncio.gather(*(_client(port, request, per_client, None) for _ in range(clients)))
    return per_client * clients / (time.perf_counter() - started)


async def _latency(port: int, host: str, count: int) -> float:
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    await _client(port, request, 200, None)
    latencies: list[float] = []
    await _client(port, request, count, latencies)
    return statistics.median(latencies)


# -- servers ---------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def bare_uvicorn(port: int) -> Iterator[None]:
    proc = subprocess.Popen(_uvicorn_cmd(port))
    try:
        _wait_port(port)
        yield
    finally:
        _stop(proc)


@contextmanager
def toolkit_serve(port: int) -> Iterator[None]:
    env = {**os.environ, "BENCH_SERVE_DIRECT_PORT": str(DIRECT_PORT)}
    env.setdefault("TOOLKIT_HOME", tempfile.mkdtemp(prefix="toolkit-bench-"))
    proc = subprocess.Popen([sys.executable, "-m", "toolkit.cli", "serve", str(HERE), "--port", str(port),
                             "--no-reload", "--rate-limit", "1000000000"], cwd=REPO, env=env)
    try:
        _wait_port(port)
        yield
    finally:
        _stop(proc)


def _host(label: str, port: int) -> str:
    return f"{os.environ.get('TOOLKIT_WORKSPACE', 'default')}--{label}-dev.localhost:{port}"


def measure(args: argparse.Namespace, bare_port: int, gateway_port: int) -> dict[str, float]:
    """One round of every figure; the servers are all up, and idle while another is measured."""
    web_host, proxied_host = _host("bench-serve-web", gateway_port), _host("bench-serve-proxied", gateway_port)
    run = asyncio.run
    return {
        "bare_rps": run(_throughput(bare_port, "localhost", args.clients, args.requests)),
        "gateway_rps": run(_throughput(gateway_port, web_host, args.clients, args.requests)),
        "proxied_rps": run(_throughput(gateway_port, proxied_host, args.clients, args.requests)),  # starts the web_server first
        "direct_rps": run(_throughput(DIRECT_PORT, "localhost", args.clients, args.requests)),
        "bare_latency": run(_latency(bare_port, "localhost", args.latency_requests)),
        "gateway_latency": run(_latency(gateway_port, web_host, args.latency_requests)),
    }


def best_of(rounds: list[dict[str, float]]) -> dict[str, float]:
    """The best round of each figure: noise on a shared machine only ever makes a figure worse."""
    pick = {key: (min if key.endswith("latency") else max) for key in rounds[0]}
    return {key: choose(r[key] for r in rounds) for key, choose in pick.items()}


def report(args: argparse.Namespace, f: dict[str, float]) -> None:
    print(f"cpus: {os.cpu_count()}; {args.clients} keep-alive clients x {args.requests} requests, "
          f"best of {args.repeat} rounds")
    print(f"gateway throughput: bare uvicorn {f['bare_rps']:,.0f}/s, toolkit serve {f['gateway_rps']:,.0f}/s "
          f"-> ratio {f['gateway_rps'] / f['bare_rps']:.2f}x (goal >= 0.8x)")
    print(f"web_server proxy throughput: direct {f['direct_rps']:,.0f}/s, through toolkit serve "
          f"{f['proxied_rps']:,.0f}/s -> ratio {f['proxied_rps'] / f['direct_rps']:.2f}x (goal >= 0.7x)")
    added = (f["gateway_latency"] - f["bare_latency"]) * 1000
    print(f"median latency: bare uvicorn {f['bare_latency'] * 1000:.3f} ms, toolkit serve "
          f"{f['gateway_latency'] * 1000:.3f} ms -> added {added:.3f} ms (goal < 1 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--latency-requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bare_port, gateway_port = _free_port(), _free_port()
    with bare_uvicorn(bare_port), toolkit_serve(gateway_port):
        rounds = [measure(args, bare_port, gateway_port) for _ in range(args.repeat)]
    report(args, best_of(rounds))


if __name__ == "__main__":
    main()
