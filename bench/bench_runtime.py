"""Runtime benchmarks: our Lambda handler against a bare Mangum + FastAPI handler, and the
web_server port-forward proxy against hitting the user's server directly.  Every ratio is
between figures measured in this run, on this machine.

    python bench/bench_runtime.py [--cold 15] [--events 3000] [--requests 2000]

* cold start: a new Python process, from spawn to the first HTTP API v2 response of a FastAPI
  endpoint (handler imported as Lambda's init would, event handled, reply printed) -- ours vs a
  bare ``Mangum(FastAPI())`` script (goal: ours at most 1.1x);
* warm per-event cost: the same event handled in a loop in one process (goal: at most 1.05x);
* cold start under the Runtime API: a new process, from spawn to its first response posted to a
  Runtime API on loopback -- the image's loop (``python -m runtime.lambda_loop``) vs awslambdaric
  (``python -m awslambdaric runtime.lambda_handler.handler``), same handler, same HTTP API event;
* port-forward proxy throughput: a ``@web_server`` function behind our handler vs calling the
  user's server directly, small requests and 1 MiB responses (goal: >= 0.7x).  Two direct
  baselines on the same server with the same requests, both keep-alive: an ``httpx.Client``
  and the stdlib ``http.client.HTTPConnection`` (the lighter client, so the stricter ratio);
  the goal is judged against the faster of the two.  Three ways through the runtime:
  - ``handler()`` in-process: a v2 event in, a buffered Lambda response dict out (a 1 MiB binary
    body is base64-encoded, as Lambda needs), no transport -- the figure before streaming;
  - the Runtime API loop, buffered: the same, plus the JSON POST of the reply to the Runtime API;
  - the Runtime API loop, streamed: a Function URL event, the body sent raw in chunks as the
    server sends it (``RESPONSE_STREAM``).
  The loop runs in this process against a minimal Runtime API in another process (a raw-socket
  HTTP/1.1 server standing in for Lambda's, which is also a separate process); it reads and
  discards what it is sent, so the figures include the bytes crossing to it.
"""

from __future__ import annotations

import argparse
import compileall
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EVENT_FILE = REPO / "tests" / "fixtures" / "aws-events" / "apigw-v2-http-api.json"

USER_APP = '''
import os, subprocess, sys

def square(x: int = 3):
    return {"square": x * x}

def server():
    here = os.path.dirname(__file__)
    proc = subprocess.Popen([sys.executable, os.path.join(here, "user_server.py"), os.environ["BENCH_PORT"]])
    with open(os.path.join(here, "server.pid"), "w") as f:  # so the bench stops exactly this process
        f.write(str(proc.pid))
'''

# the user's own server for @web_server: uvicorn serving a raw ASGI app (fast, keep-alive)
USER_SERVER = '''
import sys, uvicorn
BIG = b"x" * (1 << 20)

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = BIG if scope["path"] == "/big" else b'{"ok":true}'
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
'''

BARE_HANDLER = '''
from fastapi import FastAPI
from mangum import Mangum

web = FastAPI()

@web.get("/")
def square(x: int = 3):
    return {"square": x * x}

handler = Mangum(web, lifespan="off")
'''

# one cold start: import the handler module (Lambda's init), handle one event, print the reply
COLD_SCRIPT = '''
import json, sys
event = json.loads(open(sys.argv[2]).read())
handler = __import__(sys.argv[1], fromlist=["handler"]).handler
reply = handler(event, None)
assert reply["statusCode"] == 200, reply
sys.stdout.write(reply["body"])
'''


# A minimal Lambda Runtime API: hands out the same event forever with fresh request ids, reads
# each reply (Content-Length or chunked) and answers 202.  With "report" it prints one line per
# reply, so the cold-start bench can tell when the first one arrived, and hands each connection
# (each runtime started) only one event.
RUNTIME_API = r'''
import itertools, socket, sys, threading
event, report = open(sys.argv[1], "rb").read(), sys.argv[2] == "report"
ids = itertools.count()

def headers_of(f):
    found = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        found[name.strip().lower()] = value.strip()
    return found

SCRATCH = memoryview(bytearray(1 << 22))  # bodies are read into it and dropped: no allocation per read

def discard(f, n):
    while n > 0:
        got = f.readinto(SCRATCH[:min(n, len(SCRATCH))])
        if not got:
            raise OSError("connection closed mid-body")
        n -= got

def drain(f, headers):
    if headers.get(b"transfer-encoding") != b"chunked":
        size = int(headers.get(b"content-length", 0))
        discard(f, size)
        return size
    size = 0
    while (n := int(f.readline().split(b";")[0], 16)):
        discard(f, n + 2)  # the data and its CRLF
        size += n
    headers_of(f)  # trailers
    return size

def serve(conn):
    f = conn.makefile("rb")
    handed = 0
    try:
        while (line := f.readline()):
            method, path, _ = line.split(b" ", 2)
            headers = headers_of(f)
            if method == b"GET":
                if report and handed:
                    # one event per runtime when reporting: a runtime that answered a second one
                    # before it was killed would hand the next cold start a stale report line
                    threading.Event().wait()
                handed += 1
                head = (b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r-%d\r\n"
                        b"Lambda-Runtime-Deadline-Ms: 99999999999999\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n" % (next(ids), len(event)))
                conn.sendall(head + event)
                continue
            size = drain(f, headers)
            conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
            if report:
                print(path.decode().rsplit("/", 1)[-1], size, flush=True)
    except OSError:
        pass  # a runtime killed mid-request

server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'''


def v2_event(path: str = "/", query: str = "x=7") -> dict[str, Any]:
    event: dict[str, Any] = json.loads(EVENT_FILE.read_text())
    event.update(rawPath=path, rawQueryString=query, headers={"host": "bench.example.com"}, cookies=[], body=None,
                 isBase64Encoded=False)
    event["requestContext"]["http"].update(method="GET", path=path)
    return event


def manifest(tag: str, kind: str, web: dict[str, Any] | None = None) -> dict[str, Any]:
    web_block = {"method": "GET", "docs": False, "label": tag, "requires_proxy_auth": False, "port": None,
                 "startup_timeout": 10.0, **(web or {})}
    fn = {"tag": tag, "name": tag, "kind": kind, "is_async": False, "is_generator": False, "cls": None,
          "backend": "lambda", "resources": {"timeout": 20}, "secrets": [], "web": web_block}
    return {"schema_version": 1, "app": {"name": "bench", "source": {
        "kind": "file", "path": "user_app.py", "module": None, "app_variable": "app"}}, "functions": [fn]}


def function_url_event(path: str = "/", query: str = "") -> dict[str, Any]:
    """The same request as `v2_event`, from a Function URL (which the runtime answers streamed)."""
    event = v2_event(path, query)
    event["requestContext"]["domainName"] = "abcdefgh.lambda-url.us-east-1.on.aws"
    return event


class Workspace:
    """A temp dir holding the user app, its manifests, the bare handler and the event."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="toolkit-bench-runtime-"))
        for name, text in (("user_app.py", USER_APP), ("user_server.py", USER_SERVER),
                           ("bare_handler.py", BARE_HANDLER), ("cold.py", COLD_SCRIPT),
                           ("lambda_api.py", RUNTIME_API)):
            (self.root / name).write_text(textwrap.dedent(text))
        (self.root / "event.json").write_text(json.dumps(v2_event()))
        # bytecode for every side, as an image has it (its build compiles the runtime, pip what it
        # installs): otherwise each cold start compiles whatever has no up-to-date .pyc
        for tree in (REPO / "runtime", REPO / "toolkit", self.root):
            compileall.compile_dir(tree, quiet=1)

    def manifest_path(self, tag: str, kind: str, **web: Any) -> Path:
        path = self.root / f"manifest-{tag}.json"
        path.write_text(json.dumps(manifest(tag, kind, web)))
        return path

    def env(self, tag: str, kind: str, **web: Any) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLKIT_", "AWS_"))}
        return {**clean, "PYTHONPATH": f"{REPO}{os.pathsep}{self.root}", "TOOLKIT_APP_ROOT": str(self.root),
                "TOOLKIT_MANIFEST": str(self.manifest_path(tag, kind, **web)), "TOOLKIT_FUNCTION": tag}


# -- cold start ------------------------------------------------------------------------------------

def cold_once(ws: Workspace, module: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ws.root / "cold.py"), module, str(ws.root / "event.json")],
                          env=env, cwd=ws.root, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or '"square":49' not in done.stdout:
        raise RuntimeError(f"{module} cold start failed: {done.stdout}{done.stderr}")
    return elapsed


def bench_cold(ws: Workspace, runs: int) -> None:
    ours_env = ws.env("square", "fastapi_endpoint")
    bare_env = {**ours_env, "TOOLKIT_MANIFEST": "", "TOOLKIT_FUNCTION": ""}
    bare, ours = [], []
    for _ in range(runs):  # interleaved, so drift in machine load hits both alike
        bare.append(cold_once(ws, "bare_handler", bare_env))
        ours.append(cold_once(ws, "runtime.lambda_handler", ours_env))
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"cold start (new process -> first response), median of {runs}: bare Mangum+FastAPI {b * 1000:.0f} ms, "
          f"toolkit {o * 1000:.0f} ms -> ratio {o / b:.3f}x (goal <= 1.1x); "
          f"min {min(bare) * 1000:.0f} / {min(ours) * 1000:.0f} ms")


# -- cold start under the Runtime API ---------------------------------------------------------------

class LambdaAPI:
    """The minimal Runtime API (`RUNTIME_API`) in its own process, serving one event file."""

    def __init__(self, ws: Workspace, event: dict[str, Any], report: bool) -> None:
        path = ws.root / f"event-{id(self)}.json"
        path.write_text(json.dumps(event))
        self.process = subprocess.Popen([sys.executable, str(ws.root / "lambda_api.py"), str(path),
                                         "report" if report else "quiet"], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.address = f"127.0.0.1:{self.process.stdout.readline().strip()}"

    def next_reply(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def loop_cold_once(api: LambdaAPI, command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    runtime = subprocess.Popen(command, env={**env, "AWS_LAMBDA_RUNTIME_API": api.address}, cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        reply = api.next_reply()  # "response <bytes>" once the first reply was read in full
    finally:
        elapsed = time.perf_counter() - started
        runtime.kill()
        runtime.wait()
    if not reply.startswith("response "):
        raise RuntimeError(f"{command} answered {reply!r}")
    return elapsed


def bench_loop_cold(ws: Workspace, runs: int) -> None:
    try:
        import awslambdaric  # noqa: F401
    except ImportError:
        print("cold start under the Runtime API: skipped, awslambdaric is not installed (pip install awslambdaric)")
        return
    env = ws.env("square", "fastapi_endpoint")
    api = LambdaAPI(ws, v2_event(), report=True)
    ric = [sys.executable, "-m", "awslambdaric", "runtime.lambda_handler.handler"]
    ours = [sys.executable, "-m", "runtime.lambda_loop"]
    ric_t, ours_t = [], []
    try:
        for _ in range(runs):  # interleaved
            ric_t.append(loop_cold_once(api, ric, env, ws.root))
            ours_t.append(loop_cold_once(api, ours, env, ws.root))
    finally:
        api.stop()
    r, o = statistics.median(ric_t), statistics.median(ours_t)
    print(f"cold start under the Runtime API (spawn -> first reply read), median of {runs}: awslambdaric "
          f"{r * 1000:.0f} ms, runtime.lambda_loop {o * 1000:.0f} ms -> ratio {o / r:.3f}x; "
          f"min {min(ric_t) * 1000:.0f} / {min(ours_t) * 1000:.0f} ms")


def bench_loop_import(runs: int) -> None:
    """What importing each loop costs in a fresh interpreter, before any handler is imported."""
    def import_time(module: str) -> float:
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        return float(done.stdout)

    modules = {"awslambdaric": "awslambdaric.bootstrap, awslambdaric.lambda_runtime_client",
               "runtime.lambda_loop": "runtime.lambda_loop", "http.client alone": "http.client"}
    times: dict[str, list[float]] = {name: [] for name in modules}
    for _ in range(runs):
        for name, module in modules.items():
            times[name].append(import_time(module))
    print(f"loop import in a fresh interpreter, median of {runs}: "
          + ", ".join(f"{name} {statistics.median(t) * 1000:.1f} ms" for name, t in times.items())
          + " (toolkit's handler imports http.client itself, so the loop adds no http.client of its own there)")


# -- warm per-event --------------------------------------------------------------------------------

def per_event(handler: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any], n: int) -> float:
    for _ in range(50):
        handler(event, None)
    started = time.perf_counter()
    for _ in range(n):
        handler(event, None)
    return (time.perf_counter() - started) / n


def bench_warm(ws: Workspace, n: int, repeat: int = 7) -> None:
    os.environ.update(ws.env("square", "fastapi_endpoint"))
    sys.path.insert(0, str(ws.root))
    from runtime import lambda_handler

    lambda_handler.init()
    bare = __import__("bare_handler").handler
    event = v2_event()
    assert json.loads(lambda_handler.handler(event, None)["body"]) == json.loads(bare(event, None)["body"])
    bare_t, ours_t = [], []
    for _ in range(repeat):  # interleaved: load from other processes hits both sides alike
        bare_t.append(per_event(bare, event, n))
        ours_t.append(per_event(lambda_handler.handler, event, n))
    b, o = min(bare_t), min(ours_t)
    # each round's pair ran back to back: the median of their ratios shrugs off a noisy round
    paired = statistics.median(ours / bare for bare, ours in zip(bare_t, ours_t, strict=True))
    print(f"warm per-event cost, best of {repeat} x {n}: bare Mangum {b * 1e6:.0f} us, toolkit {o * 1e6:.0f} us "
          f"-> ratio {o / b:.3f}x, median of paired rounds {paired:.3f}x (goal <= 1.05x)")
    lambda_handler.shutdown()


# -- web_server proxy ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rate(call: Callable[[], Any], n: int) -> float:
    for _ in range(20):
        call()
    started = time.perf_counter()
    for _ in range(n):
        call()
    return n / (time.perf_counter() - started)


class NullStream:
    """A response stream that discards what it is sent: the runtime's own cost, without transport."""

    closed = False

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class NullReply:
    answered = False

    def send(self, result: Any) -> None:
        pass

    def stream(self) -> NullStream:
        return NullStream()


def through_loop(api: Any, handle: Any, n: int) -> float:
    """Invocations per second of the Runtime API loop, ``n`` events answered in a row."""
    from runtime.lambda_loop import serve

    serve(api, handle, max_invocations=20)
    started = time.perf_counter()
    serve(api, handle, max_invocations=n)
    return n / (time.perf_counter() - started)


def bench_proxy(ws: Workspace, n: int) -> None:
    import httpx

    from runtime import lambda_handler
    from runtime.runtime_api import RuntimeAPI

    port = free_port()
    os.environ.update(ws.env("server", "web_server", port=port), BENCH_PORT=str(port))
    lambda_handler.init()  # starts the user's server once and waits for its port
    stdlib = http.client.HTTPConnection("127.0.0.1", port)

    def stdlib_get(path: str) -> None:
        try:
            stdlib.request("GET", path, headers={"host": "bench.example.com"})
            response = stdlib.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # uvicorn closes a connection idle for 5 s (the other measurements of a round take longer):
            # reconnect once, as any keep-alive client does; it lands in `rate`'s untimed warm-up
            stdlib.close()
            stdlib.request("GET", path, headers={"host": "bench.example.com"})
            response = stdlib.getresponse()
        response.read()
        assert response.status == 200

    apis: list[LambdaAPI] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as direct:
            for path, count, unit in (("/", n, "req/s"), ("/big", max(50, n // 20), "MiB/s")):
                event = v2_event(path, "")
                assert lambda_handler.handler(event, None)["statusCode"] == 200
                buffered_api, streamed_api = (LambdaAPI(ws, e, report=False) for e in (event, function_url_event(path)))
                apis += [buffered_api, streamed_api]
                buffered, streamed = RuntimeAPI(buffered_api.address), RuntimeAPI(streamed_api.address)
                url_event = function_url_event(path)
                figures: dict[str, list[float]] = {k: [] for k in ("httpx", "http.client", "handler", "streamer",
                                                                   "loop", "stream")}
                for _ in range(3):  # interleaved: drift in machine load hits every side alike
                    figures["httpx"].append(rate(lambda p=path: direct.get(p).raise_for_status(), count))  # type: ignore[misc]
                    figures["http.client"].append(rate(lambda p=path: stdlib_get(p), count))  # type: ignore[misc]
                    figures["handler"].append(rate(lambda e=event: lambda_handler.handler(e, None), count))  # type: ignore[misc]
                    figures["streamer"].append(rate(lambda e=url_event: lambda_handler.respond(e, None, NullReply()),
                                                    count))  # type: ignore[misc]
                    figures["loop"].append(through_loop(buffered, lambda_handler.respond, count))
                    figures["stream"].append(through_loop(streamed, lambda_handler.respond, count))
                best = {k: max(v) for k, v in figures.items()}
                direct_best = max(best["httpx"], best["http.client"])
                print(f"web_server proxy {path!r} ({unit}, sequential as Lambda serves, best of 3): direct httpx "
                      f"{best['httpx']:,.0f}, direct http.client {best['http.client']:,.0f}; ratios vs the faster")
                for key, label in (("handler", "in-process, buffered: handler() -> response dict (before)"),
                                   ("streamer", "in-process, streamed: respond() -> a discarding stream (after)"),
                                   ("loop", "Runtime API loop, buffered: + JSON POST to the Runtime API"),
                                   ("stream", "Runtime API loop, streamed: + chunked POST to the Runtime API")):
                    # the loop rows include this bench's stand-in Runtime API, a Python process on the
                    # same two cores that parses every reply; on Lambda that service is AWS's
                    goal = " (goal >= 0.7x)" if key in ("handler", "streamer") else "; incl. the stand-in API"
                    print(f"    {label}: {best[key]:,.0f} -> {best[key] / direct_best:.2f}x{goal}")
    finally:
        stdlib.close()
        for api in apis:
            api.stop()
        lambda_handler.shutdown()
        os.kill(int((ws.root / "server.pid").read_text()), signal.SIGTERM)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", type=int, default=15, help="cold starts per side")
    parser.add_argument("--events", type=int, default=3000, help="warm events per timing")
    parser.add_argument("--requests", type=int, default=2000, help="proxied small requests per timing")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))  # runtime/ from this checkout, as the subprocesses get it
    ws = Workspace()
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} cores")
    bench_cold(ws, args.cold)
    bench_loop_cold(ws, args.cold)
    bench_loop_import(args.cold)
    bench_warm(ws, args.events)
    bench_proxy(ws, args.requests)


if __name__ == "__main__":
    main()
