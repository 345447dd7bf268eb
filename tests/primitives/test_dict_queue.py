"""Dict and Queue: semantics and several real processes at once, on SQLite and on DynamoDB (moto)."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import toolkit
from runtime.primitives.base import MAX_PARTITION_ITEMS
from toolkit.exception import InvalidError, NotFoundError

REPO = Path(__file__).resolve().parents[2]


def _spawn(code: str) -> subprocess.Popen[str]:
    script = "import sys, json, time, queue, toolkit\n" + textwrap.dedent(code)
    return subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=dict(os.environ), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run_async(coro: Any) -> Any:
    """Run ``coro`` on a loop of its own: asyncio.run() would leave the thread without its event loop,
    which Pulumi's mock runtime (tests/primitives/test_infra_primitives.py) still holds futures on."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def _result(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


# -- Dict ----------------------------------------------------------------------------------------

def test_dict_operations_follow_the_platform(backend: str) -> None:
    d = toolkit.Dict.from_name("prefs", create_if_missing=True)
    d["a"] = 1
    d.put(("tuple", 2), {"nested": [1, 2]})
    d.update({"b": 2}, c=3)
    assert d["a"] == 1 and d.get(("tuple", 2)) == {"nested": [1, 2]} and d.get("missing", "dflt") == "dflt"
    assert d.len() == 4 and "b" in d and d.contains("c") and "zzz" not in d
    assert d.put("a", 99, skip_if_exists=True) is False and d["a"] == 1
    assert d.pop("a") == 1 and d.pop("a", None) is None
    with pytest.raises(KeyError):
        d.pop("a")
    with pytest.raises(KeyError):
        _ = d["a"]
    del d["b"]
    assert sorted(map(str, d.keys())) == ["('tuple', 2)", "c"] and sorted(map(str, d.values())) == [
        "3", "{'nested': [1, 2]}"]
    assert dict(d.items())["c"] == 3
    d.clear()
    assert d.len() == 0


def test_dict_aio_variants(backend: str) -> None:
    d = toolkit.Dict.from_name("aio", create_if_missing=True)

    async def main() -> list[object]:
        await d.put.aio("k", "v")
        keys = [k async for k in d.keys.aio()]
        return [await d.get.aio("k"), await d.len.aio(), keys]

    assert _run_async(main()) == ["v", 1, ["k"]]


def test_dict_misuse_names_the_value_and_the_fix() -> None:
    with pytest.raises(NotFoundError, match="create_if_missing=True"):
        toolkit.Dict.from_name("never-made").get("x")
    with pytest.raises(InvalidError, match="must be hashable"):
        toolkit.Dict.from_name("h", create_if_missing=True).put(["list"], 1)
    with pytest.raises(InvalidError, match="'bad name!'"):
        toolkit.Dict.from_name("bad name!")
    with pytest.raises(InvalidError, match="at most 1,048,576"):
        toolkit.Dict.from_name("big", create_if_missing=True).put("k", b"x" * (1024 * 1024 + 1))


def test_ephemeral_dict_disappears_after_the_block(backend: str) -> None:
    with toolkit.Dict.ephemeral({"x": 1}) as d:
        assert d["x"] == 1
        name = d.name
    with pytest.raises(NotFoundError):
        toolkit.Dict.from_name(name).get("x")


def test_dict_is_shared_by_concurrent_processes(backend: str) -> None:
    toolkit.Dict.from_name("shared", create_if_missing=True).len()  # created on first use
    workers = [_spawn(f"""
        d = toolkit.Dict.from_name("shared", create_if_missing=True)
        for i in range(50):
            d[f"w{n}-{{i}}"] = i
        print(json.dumps(d.put("first", {n}, skip_if_exists=True)))
        """) for n in range(4)]
    winners = [json.loads(_result(p)) for p in workers]
    d = toolkit.Dict.from_name("shared", create_if_missing=True)
    assert winners.count(True) == 1, winners  # a compare-and-set has exactly one winner
    assert d.len() == 4 * 50 + 1 and d[f"w3-{49}"] == 49 and d["first"] == winners.index(True)


def test_a_stale_dict_handle_neither_writes_nor_recreates_a_dict_deleted_by_another_process(backend: str) -> None:
    from runtime.primitives.base import Kind
    from toolkit.state import state_store

    d = toolkit.Dict.from_name("stale", create_if_missing=True)
    d["kept"] = 1
    _result(_spawn("toolkit.Dict.delete('stale')"))  # `toolkit dict delete stale` does the same
    fix = r"toolkit\.Dict\.from_name\('stale', create_if_missing=True\)"
    for write in (lambda: d.put("late", 2), lambda: d.update({"late": 2}), lambda: d.pop("kept"), d.clear):
        with pytest.raises(NotFoundError, match=rf"Dict 'stale' was deleted; nothing was (written|removed)\..*{fix}"):
            write()
    with pytest.raises(NotFoundError, match="Dict 'stale' was deleted; nothing was read"):
        d.get("kept")
    assert not state_store().exists(Kind.DICT, "stale")  # create_if_missing=True did not bring it back
    assert toolkit.Dict.from_name("stale", create_if_missing=True).len() == 0  # a new handle starts it again


def test_a_stale_dict_handle_does_not_write_into_a_dict_created_again_under_its_name(backend: str) -> None:
    d = toolkit.Dict.from_name("reborn", create_if_missing=True)
    d["x"] = "old"
    _result(_spawn("""
        toolkit.Dict.delete("reborn")
        toolkit.Dict.from_name("reborn", create_if_missing=True)["x"] = "new"
        """))
    with pytest.raises(NotFoundError, match="Dict 'reborn' was deleted; nothing was written"):
        d["x"] = "stale"
    with pytest.raises(NotFoundError, match="was deleted"):
        d.get("x")
    assert toolkit.Dict.from_name("reborn")["x"] == "new"


# -- Queue ---------------------------------------------------------------------------------------

def test_queue_operations_follow_the_platform(backend: str) -> None:
    q = toolkit.Queue.from_name("jobs", create_if_missing=True)
    q.put(1)
    q.put_many([2, 3])
    q.put("p", partition="other")
    assert q.len() == 3 and q.len(partition="other") == 1 and q.len(total=True) == 4
    assert q.peek(2) == [1, 2] and q.len() == 3
    assert q.get() == 1 and q.get_many(10) == [2, 3]
    assert q.get(block=False) is None and q.get_many(3, block=False) == []
    with pytest.raises(queue.Empty):
        q.get(timeout=0.05)
    assert q.get(partition="other") == "p"
    q.put_many([4, 5])
    assert list(q.iterate()) == [4, 5] and q.len() == 2  # iterate reads in place
    q.clear()
    assert q.len() == 0
    q.put(1, partition="x")
    q.put(2, partition="y")
    q.clear(all=True)
    assert q.len(total=True) == 0


def test_a_put_to_a_deleted_queue_is_refused_not_lost(backend: str) -> None:
    q = toolkit.Queue.from_name("short-lived", create_if_missing=True)
    q.put(1)
    toolkit.Queue.delete("short-lived")
    with pytest.raises(NotFoundError, match="was deleted; nothing was put"):
        q.put(2)
    with pytest.raises(NotFoundError, match="was deleted"):  # the handle stays on the deleted Queue (issue 17)
        q.len()
    again = toolkit.Queue.from_name("short-lived", create_if_missing=True)
    assert again.len() == 0 and again.get(block=False) is None  # a new handle creates it again, empty


def test_a_consumer_blocked_on_a_queue_another_process_deletes_is_told_not_left_waiting(backend: str) -> None:
    toolkit.Queue.from_name("doomed", create_if_missing=True).put("first")
    consumer = _spawn("""
        from toolkit.exception import NotFoundError
        q = toolkit.Queue.from_name("doomed")
        print(json.dumps(q.get(timeout=5)), flush=True)
        try:
            q.get(timeout=60)  # blocks: the queue is empty now
        except NotFoundError as exc:
            print(json.dumps(str(exc)))
        """)
    assert consumer.stdout is not None
    assert json.loads(consumer.stdout.readline()) == "first"
    toolkit.Queue.delete("doomed")
    started = time.monotonic()
    message = json.loads(_result(consumer, timeout=30).strip())
    assert "Queue 'doomed' was deleted; nothing was taken" in message
    assert time.monotonic() - started < 20  # the wait's periodic re-check, not its 60 s timeout
    with pytest.raises(NotFoundError, match="No Queue named 'doomed'"):  # and it was not created again
        toolkit.Queue.from_name("doomed").len()


def test_queue_limits_and_expiry() -> None:
    q = toolkit.Queue.from_name("limits", create_if_missing=True)
    with pytest.raises(InvalidError, match="at most 64 bytes"):
        q.put(1, partition="p" * 65)
    with pytest.raises(InvalidError, match="partition_ttl"):
        q.put(1, partition_ttl=0)
    q.put_many([0] * MAX_PARTITION_ITEMS)
    with pytest.raises(queue.Full):
        q.put(1, block=False)
    with pytest.raises(queue.Full):
        q.put(1, timeout=0.05)
    assert q.len() == MAX_PARTITION_ITEMS  # a refused put writes nothing
    q.clear()
    q.put("short-lived", partition="ttl", partition_ttl=1)
    deadline = time.monotonic() + 10
    while q.len(partition="ttl") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert q.get(block=False, partition="ttl") is None


def test_expired_items_are_collected_by_the_next_put_not_kept_forever() -> None:
    import sqlite3

    from toolkit.state import state_db_path

    q = toolkit.Queue.from_name("expiring", create_if_missing=True)
    q.put_many(["a", "b"], partition_ttl=1)
    time.sleep(1.2)
    q.put("fresh")  # the oldest item expired: this put removes every expired row of the partition
    with sqlite3.connect(state_db_path()) as conn:
        rows = conn.execute("SELECT COUNT(*) FROM queue_items WHERE name = 'expiring'").fetchone()[0]
    assert rows == 1 and q.len() == 1 and q.get(block=False) == "fresh"


def test_queue_aio_get_waits_without_blocking_the_loop(backend: str) -> None:
    with toolkit.Queue.ephemeral() as q:
        async def main() -> object:
            waiting = asyncio.ensure_future(q.get.aio(timeout=10))
            await asyncio.sleep(0.05)  # the loop still runs while get waits
            await q.put.aio("hi")
            return await waiting

        assert _run_async(main()) == "hi"


def test_each_item_goes_to_exactly_one_of_several_consumer_processes(backend: str) -> None:
    toolkit.Queue.from_name("work", create_if_missing=True).len()
    consumers = [_spawn("""
        q, got = toolkit.Queue.from_name("work"), []
        while True:
            item = q.get(timeout=30)
            if item is None:
                break
            got.append(item)
        print(json.dumps(got))
        """) for _ in range(3)]
    producers = [_spawn(f"""
        q = toolkit.Queue.from_name("work", create_if_missing=True)
        for i in range(100):
            q.put(({n}, i))
        """) for n in range(3)]
    for p in producers:
        _result(p)
    toolkit.Queue.from_name("work").put_many([None] * 3)  # one stop sign per consumer
    received = [tuple(item) for c in consumers for item in json.loads(_result(c))]
    assert sorted(received) == sorted((n, i) for n in range(3) for i in range(100))


def test_one_consumer_sees_each_producer_in_order_per_partition(backend: str) -> None:
    q = toolkit.Queue.from_name("ordered", create_if_missing=True)
    q.len()  # created on first use
    producers = [_spawn(f"""
        q = toolkit.Queue.from_name("ordered", create_if_missing=True)
        for i in range(100):
            q.put(i, partition="p{n}")
        """) for n in range(2)]
    for p in producers:
        _result(p)
    assert q.get_many(1000, partition="p0") == list(range(100))
    assert q.get_many(1000, partition="p1") == list(range(100))


def test_blocking_get_sleeps_until_another_process_puts() -> None:
    """A blocked get costs (almost) no CPU -- it is woken, not polling -- and wakes on the put."""
    q = toolkit.Queue.from_name("wake", create_if_missing=True)
    consumer = _spawn("""
        q = toolkit.Queue.from_name("wake", create_if_missing=True)
        print("ready", flush=True)
        cpu, wall = time.process_time(), time.monotonic()
        item = q.get(timeout=30)
        print(json.dumps({"item": item, "cpu": time.process_time() - cpu, "wall": time.monotonic() - wall}))
        """)
    assert consumer.stdout is not None and consumer.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # the consumer is now blocked in get()
    q.put("wake up")
    report = json.loads(_result(consumer))
    assert report["item"] == "wake up"
    assert report["wall"] >= 0.9  # it really waited for the put ...
    assert report["cpu"] < 0.2  # ... asleep: a polling loop over SQLite would burn far more in a second


def test_ephemeral_queue_left_by_a_crashed_process_is_collected() -> None:
    proc = _spawn("""
        import os
        with toolkit.Queue.ephemeral() as q:
            q.put(1)
            print(q.name, flush=True)
            os._exit(0)  # no cleanup: as if killed
        """)
    name = _result(proc).strip()
    from runtime.primitives.base import Kind
    from toolkit.state import state_store

    assert name not in [info.name for info in state_store().list_objects(Kind.QUEUE)]
    assert not state_store().exists(Kind.QUEUE, name)
