"""The ECS/GPU HTTP entrypoint over real loopback HTTP, and the gateway's 303 flow locally.

The local flow uses the same `Gateway` as Lambda with `ThreadCalls` + the SQLite store:
what ``toolkit serve`` reuses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from deployed_app import function, write_app
from fastapi import FastAPI
from runtime_support import serve_uvicorn

from runtime.callstore import SQLiteCallStore
from runtime.deployment import load_deployment
from runtime.gateway import Gateway, GatewayPolicy, ThreadCalls, TokenBucket, asgi_runner
from runtime.server import HEALTH_PATH, build_server_app


@pytest.fixture
def ecs_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TOOLKIT_APP_ROOT", str(tmp_path))
    monkeypatch.setenv("TOOLKIT_RATE_LIMIT", "2")  # 2/s with a 5 s burst: the 11th request in a row is 429
    deployment = load_deployment(str(write_app(tmp_path, [function("asgi", "asgi_app")])), "asgi")
    for address in serve_uvicorn(build_server_app(deployment)):
        yield f"http://{address}"


def test_ecs_server_health_lifespan_and_rate_limit(ecs_server: str) -> None:
    with httpx.Client(base_url=ecs_server) as http:
        assert http.get(HEALTH_PATH).text == "ok"
        assert http.get("/state").json() == {"model": "loaded-1", "starts": 1}
        statuses = [http.get("/state").status_code for _ in range(12)]
    assert 429 in statuses and statuses[:8] == [200] * 8


def slow_app(delay: float, runs: list[int]) -> FastAPI:
    app = FastAPI()

    @app.post("/")
    def work(x: int) -> dict[str, int]:
        runs.append(x)
        time.sleep(delay)
        return {"x": x}

    return app


@pytest.fixture
def local_gateway(tmp_path: Path) -> Iterator[tuple[str, list[int]]]:
    runs: list[int] = []
    app = slow_app(0.8, runs)
    call_path = ThreadCalls(SQLiteCallStore(tmp_path / "calls.db"), "demo", asgi_runner(app))
    policy = GatewayPolicy(function="work", timeout=600, budget=0.3, served_by="serve",
                           max_body_bytes=1000, rate_limiter=TokenBucket(1000))
    for address in serve_uvicorn(Gateway(app, policy, call_path)):
        yield f"http://{address}", runs


def test_local_303_then_result_url_without_rerunning(local_gateway: tuple[str, list[int]]) -> None:
    url, runs = local_gateway
    with httpx.Client(base_url=url, follow_redirects=False) as http:
        first = http.post("/?x=4")
        assert first.status_code == 303 and "__toolkit_call_id=fc-" in first.headers["location"]
        time.sleep(0.8)
        final = http.get(first.headers["location"])
    assert final.status_code == 200 and final.json() == {"x": 4} and runs == [4]


def test_following_redirects_reaches_the_result(local_gateway: tuple[str, list[int]]) -> None:
    url, runs = local_gateway
    response = httpx.post(f"{url}/?x=5", follow_redirects=True, timeout=10)
    assert response.json() == {"x": 5} and len(response.history) >= 1 and runs == [5]


def test_gateway_413_and_unknown_call_404(local_gateway: tuple[str, list[int]]) -> None:
    url, _ = local_gateway
    big = httpx.post(f"{url}/?x=1", content=b"x" * 2000)
    assert big.status_code == 413 and "1000 byte limit" in big.text
    assert httpx.get(f"{url}/?__toolkit_call_id=fc-unknown1").status_code == 404


def test_token_bucket_refills() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst_seconds=1, clock=lambda: now[0])
    assert [bucket.take() is None for _ in range(3)] == [True, True, False]
    now[0] += 0.5
    assert bucket.take() is None and bucket.take() is not None


def test_run_asgi_state_is_copied() -> None:
    from runtime.gateway import HTTPRequestRecord, run_asgi

    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["state"])
        scope["state"]["added"] = 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    state = {"model": "m"}
    response = asyncio.run(run_asgi(app, HTTPRequestRecord("GET", "/", b"/", b"", []), state))
    assert response.status == 204 and seen == [{"model": "m", "added": 1}] and state == {"model": "m"}
