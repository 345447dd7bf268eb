"""The worker side of ``@toolkit.batched``: collect inputs into a batch, run it, fan results back.

A batched function's worker runs one loop (`run_batches`) instead of one thread per input: it
takes the first input from the inbox, then more until it holds ``max_batch_size`` or
``wait_ms`` have passed since the first (inputs already waiting are taken without waiting), and
calls the function once with lists (`runtime.batching`, shared with the container runtime).
Each input gets its own item of the returned list; an input whose arguments do not fit fails
alone; if the function raises, every input of the batch fails with that error.
"""

from __future__ import annotations

import asyncio
import inspect
import queue
import time
from typing import TYPE_CHECKING, Any

from runtime.batching import gather_arguments, split_results
from runtime.serialization import deserialize, serialize_error
from toolkit.context import enter_input, new_input_id

if TYPE_CHECKING:
    from toolkit.local.worker import Worker

Item = tuple[int, bytes, str]  # (input id, payload, function call id), as the pool sends them


def run_batches(worker: Worker) -> None:
    size, wait = worker.target.batch_max_size, worker.target.batch_wait_ms / 1000
    loop = asyncio.new_event_loop()  # async batched functions: one loop for the worker's life
    try:
        while True:
            batch, ended = collect(worker.inbox, size, wait)
            if batch:
                run_batch(worker, batch, loop)
            if ended:
                return
    finally:
        loop.close()


def collect(inbox: queue.SimpleQueue[Item | None], size: int, wait: float) -> tuple[list[Item], bool]:
    """Up to ``size`` inputs, waiting at most ``wait`` seconds after the first; True once the inbox ended."""
    first = inbox.get()
    if first is None:
        return [], True
    batch, deadline = [first], time.monotonic() + wait
    while len(batch) < size:
        remaining = deadline - time.monotonic()
        try:
            item = inbox.get(timeout=remaining) if remaining > 0 else inbox.get_nowait()
        except queue.Empty:
            break
        if item is None:
            return batch, True
        batch.append(item)
    return batch, False


def run_batch(worker: Worker, batch: list[Item], loop: asyncio.AbstractEventLoop) -> None:
    started = time.perf_counter()
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    ids: list[int] = []
    for input_id, payload, _call_id in batch:
        if not worker.start(input_id):
            continue  # cancelled before it started
        try:
            args, kwargs = deserialize(payload)
        except BaseException as exc:  # noqa: BLE001 - this input fails, the others run
            worker.emit(input_id, False, serialize_error(exc), 0.0)
            continue
        calls.append((args, kwargs))
        ids.append(input_id)
    lists, taken, refused = gather_arguments(worker.target.tag, worker.fn, calls)
    for index, error in refused.items():
        worker.emit(ids[index], False, serialize_error(error), 0.0)
    if not taken:
        return
    enter_input(batch[0][2], new_input_id())  # the batch runs under its first input's call
    try:
        result = worker.fn(**lists)
        if inspect.isawaitable(result):
            result = loop.run_until_complete(result)
        outputs = split_results(worker.target.tag, result, len(taken))
    except BaseException as exc:  # noqa: BLE001 - every input of the batch fails with the error
        data, each = serialize_error(exc), (time.perf_counter() - started) / len(taken)
        for index in taken:
            worker.emit(ids[index], False, data, each)
        return
    each = (time.perf_counter() - started) / len(taken)  # the pool's per-input average sizes prefetch
    for index, value in zip(taken, outputs, strict=True):
        try:
            worker.emit(ids[index], True, worker.dump(value), each)
        except Exception as exc:  # noqa: BLE001 - an unpicklable item fails its own input
            worker.emit(ids[index], False, serialize_error(exc), each)
