"""Load: one `toolkit serve` holds 1,000 concurrent client connections, all answered without error."""

from __future__ import annotations

import asyncio
import json
import resource
from collections.abc import Iterator

import pytest
from serve.serving import APPS, Served, served

CONNECTIONS = 1000
# the client, the gateway (one socket to the client and one to the worker per request) and
# the worker each hold ~1,000 sockets at once
FDS_NEEDED = 4 * CONNECTIONS + 256


@pytest.fixture
def enough_fds() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FDS_NEEDED if hard == resource.RLIM_INFINITY else min(hard, FDS_NEEDED)
    if wanted < FDS_NEEDED:
        pytest.skip(f"the file descriptor hard limit ({hard}) is below the {FDS_NEEDED} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))  # inherited by toolkit serve
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def fetch(port: int, host: str, path: str) -> tuple[int, bytes]:
    """One request on its own connection (raw streams: a client pool must not cap the concurrency)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        response = await reader.read(-1)
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def all_at_once(server: Served, count: int) -> list[tuple[int, bytes]]:
    host = server.host("load-hold")
    requests = (fetch(server.port, host, f"/?i={i}&expect={count}") for i in range(count))
    return await asyncio.wait_for(asyncio.gather(*requests), 50)


@pytest.mark.slow
def test_a_thousand_concurrent_connections_all_get_answers(enough_fds: None) -> None:
    # the rate limit is lifted: 1,000 requests in one instant are exactly the default burst,
    # and this test is about holding connections, not about the limiter
    with served(APPS / "load.py", "--no-reload", "--rate-limit", "100000") as server:
        assert server.client("load-hold").get("/", params={"i": -1}).json() == {"i": -1, "peak": 1}  # worker up
        answers = asyncio.run(all_at_once(server, CONNECTIONS))
        log = server.output()
    assert [status for status, _ in answers] == [200] * CONNECTIONS, log[-2000:]
    bodies = [json.loads(body) for _, body in answers]
    assert [b["i"] for b in bodies] == list(range(CONNECTIONS))
    # every request was inside the app at the same moment: none was queued behind another
    assert {b["peak"] for b in bodies} == {CONNECTIONS}
