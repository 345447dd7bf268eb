"""Streaming and WebSockets through the gateway, with the guide's examples as written."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from serve.serving import REPO, Served, served
from websockets.exceptions import ConnectionClosed


@pytest.fixture(scope="module")
def streaming() -> Iterator[Served]:
    with served(REPO / "examples" / "streaming.py") as running:
        yield running


def _timed_events(server: Served, label: str, count: int) -> list[tuple[float, str]]:
    started, events = time.monotonic(), []
    with server.client(label).stream("GET", "/") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                events.append((time.monotonic() - started, line))
                if len(events) == count:
                    break  # the client leaves early: the gateway must stop the stream, not hang
    return events


def test_sse_events_arrive_progressively(streaming: Served) -> None:
    events = _timed_events(streaming, "example-streaming-stream-me", 4)
    assert [e[1] for e in events] == [f"data: some data {i}" for i in range(4)]
    assert events[3][0] - events[0][0] >= 1.2  # the generator sleeps 0.5 s between events
    assert events[0][0] < events[3][0] - 1.0  # the first event did not wait for the others


def test_streaming_over_remote_gen(streaming: Served) -> None:
    events = _timed_events(streaming, "example-streaming-hook", 10)
    assert [e[1] for e in events] == [f"data: finished processing some data {i}" for i in range(10)]
    assert events[-1][0] - events[0][0] >= 1.4  # ten items, 0.2 s apart, forwarded one by one


def test_streaming_over_map_sync_and_async(streaming: Served) -> None:
    mapped = streaming.client("example-streaming-mapped").get("/")
    assert mapped.text == "".join(f"segment {i}\n" for i in range(10))
    lines = [ln for ln in streaming.client("example-streaming-mapped-async").get("/").text.splitlines() if ln]
    assert lines == [f"data: segment {i}" for i in range(10)]


@pytest.fixture(scope="module")
def chat() -> Iterator[Served]:
    with served(REPO / "examples" / "websockets_app.py") as running:
        yield running


def test_websocket_example_keeps_state_per_connection_and_limits_messages(chat: Served) -> None:
    async def talk(server: Served) -> tuple[list[str], list[str], int | None]:
        async with server.websocket("ws-demo-chat", "/ws") as first, server.websocket("ws-demo-chat", "/ws") as other:
            replies = []
            for word in ("a", "b", "c"):
                await first.send(word)
                replies.append(str(await first.recv()))
            await other.send("x")
            other_reply = [str(await other.recv())]
        try:
            async with server.websocket("ws-demo-chat", "/ws", max_size=None) as big:
                # the server may close with 1009 while this send is still writing: either call raises
                await big.send("y" * (2 * 1024 * 1024 + 1))
                await big.recv()
        except ConnectionClosed as closed:
            return replies, other_reply, closed.rcvd.code if closed.rcvd else None
        return replies, other_reply, None

    replies, other, code = asyncio.run(talk(chat))
    assert replies == ["1: a", "2: b", "3: c"] and other == ["1: x"]
    assert code == 1009


def test_websocket_message_at_the_limit_passes(chat: Served) -> None:
    async def talk(server: Served) -> str:
        async with server.websocket("ws-demo-chat", "/ws", max_size=None) as ws:
            await ws.send("z" * (2 * 1024 * 1024 - 16))
            return str(await ws.recv())

    assert asyncio.run(talk(chat)).startswith("1: zzz")
