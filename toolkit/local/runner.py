"""`LocalRunner`: ``.remote``/``.spawn``/``.map``/``.remote_gen`` on local worker pools.

Spawned calls are recorded in the SQLite call store, so ``FunctionCall.from_id(id)`` works
from any process on the machine and finished results outlive this one.  This process owns
them (`toolkit.local.ownership`): if it dies first, its workers stop and the calls read as lost.
A spawned call's inputs stay known here until they finish, so ``FunctionCall.cancel`` can reach them.
"""

from __future__ import annotations

import atexit
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from runtime.callstore import CallStatus, new_call_id
from runtime.serialization import RemoteError, deserialize, serialize
from toolkit.context import current_function_call_id
from toolkit.exception import SerializationError
from toolkit.local import call_links
from toolkit.local.call_links import CallLink
from toolkit.local.ownership import OwnedCallStore, local_call_store
from toolkit.local.pool import Input, WorkerPool
from toolkit.local.protocol import WorkerTarget
from toolkit.local.request_calls import record_parent_request
from toolkit.local.results import Slot, unwrap
from toolkit.local.secrets import secret_env

if TYPE_CHECKING:
    from toolkit.functions import Function
    from toolkit.spec import FunctionSpec

MAP_WINDOW = 20_000  # inputs in flight per .map() call; bounds memory for long iterables
MAP_CHUNK = 256
DEFAULT_MAX_CONTAINERS = max(4, os.cpu_count() or 1)


def serialize_args(tag: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    try:
        return serialize((args, kwargs))
    except Exception as exc:
        raise SerializationError(
            f"Cannot send the arguments of {tag} to its worker: {type(exc).__name__}: {exc}. "
            "Pass picklable values (plain data, or objects cloudpickle can serialize); open files, "
            "sockets, locks and generators cannot cross processes."
        ) from None


def report_spawned_failure(tag: str, record_id: str, data: bytes) -> None:
    """Print a spawned input's traceback as it fails, as the platform's log stream shows it: nobody may
    call ``.get()`` on a detached call, and a pipeline whose stage failed would wait in silence.
    A cancelled call is no failure to report."""
    error = deserialize(data)
    if isinstance(error, RemoteError) and not error.type_name.endswith(".CallCancelledError"):
        print(f"toolkit: spawned call {record_id} of {tag} failed:\n{error.traceback.rstrip()}", file=sys.stderr,
              flush=True)


class LocalRunner:
    def __init__(self) -> None:
        self._pools: dict[tuple[Any, ...], WorkerPool] = {}
        self._lock = threading.Lock()
        self._store: OwnedCallStore | None = None
        self._calls: dict[str, Slot] = {}  # store record id -> where its outcome arrives
        # spawned call id -> its pool and unfinished inputs, by store record id
        self._running: dict[str, tuple[WorkerPool, dict[str, Input]]] = {}
        self._reaper_started = False
        atexit.register(self.shutdown)

    @property
    def store(self) -> OwnedCallStore:
        if self._store is None:
            self._store = local_call_store()
        return self._store

    def existing_pool(self, fn: Function) -> WorkerPool | None:
        """``fn``'s pool if this process has started it (`pool_for` starts it)."""
        with self._lock:
            return self._pools.get(_pool_key(fn))

    def pool_for(self, fn: Function) -> WorkerPool:
        spec = fn.spec
        key = _pool_key(fn)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None or pool.closed:
                batch = spec.batch
                target = WorkerTarget(
                    module=spec.module, source_file=spec.source_file, app_name=spec.app_name, tag=spec.tag,
                    params=fn.params, max_inputs=batch.max_batch_size if batch else spec.max_inputs,
                    timeout=float(spec.timeout), sys_path=tuple(p for p in sys.path if p),
                    batch_max_size=batch.max_batch_size if batch else 0, batch_wait_ms=batch.wait_ms if batch else 0,
                    volumes=spec.volumes,  # a with_options(volumes=...) variant mounts its own
                    bucket_mounts=tuple(tuple(bucket.manifest_entry(path)) for path, bucket in spec.bucket_mounts),
                )
                pool = WorkerPool(target, max_containers=spec.max_containers or DEFAULT_MAX_CONTAINERS,
                                  retries=spec.retries, scaledown_window=spec.scaledown_window,
                                  env=secret_env(spec.secrets), retire_after=spec.inputs_per_container)
                pool.update_bounds(min_containers=spec.min_containers, buffer_containers=spec.buffer_containers)
                self._pools[key] = pool
                self._start_reaper()
            return pool

    def _start_reaper(self) -> None:
        if self._reaper_started:
            return
        self._reaper_started = True

        def reap() -> None:
            while True:
                threading.Event().wait(1.0)
                for pool in list(self._pools.values()):
                    pool.scale()
                self._take_cancel_requests()

        threading.Thread(target=reap, daemon=True, name="toolkit-reaper").start()

    # -- call styles ------------------------------------------------------------------------
    def _submit(self, fn: Function, args: tuple[Any, ...], kwargs: dict[str, Any], slot: Slot) -> None:
        pool = self.pool_for(fn)
        payload = serialize_args(fn.spec.tag, args, kwargs)
        pool.submit([Input(pool.new_id(), payload, slot.set, slot.on_yield, call_id=new_call_id())])

    def call(self, fn: Function, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        slot = Slot()
        self._submit(fn, args, kwargs, slot)
        return unwrap(*slot.wait(None))

    def remote_gen(self, fn: Function, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[Any]:
        slot = Slot(stream=True)
        self._submit(fn, args, kwargs, slot)
        return slot.iter_stream()

    def spawn(self, fn: Function, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """Start the call in the background; its id (the caller wraps it in a `FunctionCall`)."""
        return self._spawn_inputs(fn, [args], kwargs, call_links.SPAWN)

    def spawn_map(self, fn: Function, arg_tuples: Iterable[tuple[Any, ...]], kwargs: dict[str, Any]) -> str:
        """One call with an input per argument tuple, started in the background (``experimental_spawn_map``):
        every input is recorded before this returns; ``FunctionCall.get(index=)``/``iter()`` read them."""
        return self._spawn_inputs(fn, list(arg_tuples), kwargs, call_links.MAP)

    def _spawn_inputs(self, fn: Function, arg_tuples: list[tuple[Any, ...]], kwargs: dict[str, Any],
                      kind: str) -> str:
        pool, spec = self.pool_for(fn), fn.spec
        payloads = [serialize_args(spec.tag, args, kwargs) for args in arg_tuples]  # all or nothing
        call_id = new_call_id()
        link = CallLink(call_id, current_function_call_id(), len(payloads), kind, spec.app_name, spec.tag)
        record_parent_request(link.parent)  # spawned while a served web request runs: it is the parent
        if link.parent is not None or kind != call_links.SPAWN:  # a plain top-level spawn needs no row
            call_links.call_links().record(link)
        inputs = {}
        for record_id, payload in zip(call_links.record_ids(call_id, link), payloads, strict=True):
            self.store.create(record_id, spec.app_name, spec.tag, payload)  # owned by this process
            inputs[record_id] = Input(pool.new_id(), payload, self._recorder(call_id, record_id, spec.tag),
                                      call_id=call_id)
        with self._lock:
            self._running[call_id] = (pool, dict(inputs))
        pool.submit(list(inputs.values()))
        return call_id

    def _recorder(self, call_id: str, record_id: str, tag: str) -> Callable[[bool, bytes], None]:
        """What finishes one spawned input: its store record, its local slot, the call's cancel entry."""
        slot, store = Slot(), self.store
        with self._lock:
            self._calls[record_id] = slot

        def record(ok: bool, data: bytes) -> None:
            if not ok:
                report_spawned_failure(tag, record_id, data)
            store.complete(record_id, CallStatus.DONE if ok else CallStatus.FAILED, data)
            slot.set(ok, data)
            with self._lock:
                _pool, inputs = self._running.get(call_id, (None, {}))
                inputs.pop(record_id, None)
                if not inputs:
                    self._running.pop(call_id, None)
        return record

    def local_slot(self, record_id: str) -> Slot | None:
        return self._calls.get(record_id)

    def cancel(self, call_id: str, terminate: bool) -> bool:
        """Cancel a call this process spawned; False if it is not one of them (or has finished)."""
        with self._lock:
            pool, unfinished = self._running.get(call_id, (None, {}))
            inputs = list(unfinished.values())
        if pool is None or not inputs:
            return False
        pool.cancel(inputs, terminate)
        return True

    def _take_cancel_requests(self) -> None:
        """Cancel what other processes asked to (`FunctionCall.cancel` of a call this process owns)."""
        with self._lock:
            owned = set(self._running)
        if owned:
            for call_id, terminate in call_links.call_links().take_cancel_requests(owned):
                self.cancel(call_id, terminate)

    def pools_of(self, app_name: str, tag: str) -> list[WorkerPool]:
        """This process's pools for a function: its variants' and each parameter set's."""
        with self._lock:
            return [pool for key, pool in self._pools.items() if key[:2] == (app_name, tag)]

    def pools(self) -> list[WorkerPool]:
        with self._lock:
            return list(self._pools.values())

    def map(self, fn: Function, arg_tuples: Iterable[tuple[Any, ...]], kwargs: dict[str, Any],
            order_outputs: bool, return_exceptions: bool) -> Iterator[Any]:
        pool = self.pool_for(fn)
        window = threading.BoundedSemaphore(MAP_WINDOW)
        slots: queue.SimpleQueue[Slot | None] = queue.SimpleQueue()
        completed: queue.SimpleQueue[Slot] = queue.SimpleQueue()
        feeder = threading.Thread(
            target=_feed, args=(pool, fn.spec.tag, arg_tuples, kwargs, window, slots, completed, order_outputs,
                                new_call_id()),  # one function call, many inputs
            daemon=True, name=f"toolkit-map-{fn.spec.tag}",
        )
        feeder.start()
        return _collect(slots, completed, window, order_outputs, return_exceptions)

    def shutdown(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.shutdown()


def _feed(pool: WorkerPool, tag: str, arg_tuples: Iterable[tuple[Any, ...]], kwargs: dict[str, Any],
          window: threading.BoundedSemaphore, slots: queue.SimpleQueue[Slot | None],
          completed: queue.SimpleQueue[Slot], order_outputs: bool, call_id: str) -> None:
    """Serialize and submit inputs in chunks, at most MAP_WINDOW ahead of the consumer."""
    chunk: list[Input] = []
    try:
        for args in arg_tuples:
            window.acquire()
            slot = Slot(completed if not order_outputs else None)
            slots.put(slot)
            try:
                payload = serialize_args(tag, args, kwargs)
            except SerializationError as exc:
                slot.fail_local(exc)
                continue
            chunk.append(Input(pool.new_id(), payload, slot.set, call_id=call_id))
            if len(chunk) >= MAP_CHUNK:
                pool.submit(chunk)
                chunk = []
    except BaseException as exc:  # the user's iterable raised: report it in order
        slot = Slot(completed if not order_outputs else None)
        slots.put(slot)
        slot.fail_local(exc)
    finally:
        if chunk:
            pool.submit(chunk)
        slots.put(None)


def _collect(slots: queue.SimpleQueue[Slot | None], completed: queue.SimpleQueue[Slot],
             window: threading.BoundedSemaphore, order_outputs: bool, return_exceptions: bool) -> Iterator[Any]:
    submitted = finished = 0
    feeding = True
    while True:
        if order_outputs:
            slot = slots.get()
            if slot is None:
                return
        else:
            while feeding:  # count what the feeder has submitted; block only when nothing is out
                try:
                    nxt = slots.get_nowait() if finished < submitted else slots.get()
                except queue.Empty:
                    break
                if nxt is None:
                    feeding = False
                else:
                    submitted += 1
            if finished == submitted:
                return
            slot = completed.get()
            finished += 1
        window.release()
        try:
            yield unwrap(*slot.wait(None))
        except Exception as exc:
            if not return_exceptions:
                raise
            yield exc


def _pool_key(fn: Function) -> tuple[Any, ...]:
    """A variant (fn.with_options / with_concurrency / with_batching) gets a pool of its own, and so
    does each set of class parameters."""
    spec = fn.spec
    return (spec.app_name, spec.tag, spec.source_file, spec.module, fn.params, _pool_settings(spec))


def _pool_settings(spec: FunctionSpec) -> tuple[Any, ...]:
    """What a local pool is built from, besides the function itself."""
    return (spec.max_inputs, spec.timeout, spec.max_containers, spec.scaledown_window, spec.retries, spec.batch,
            spec.inputs_per_container, spec.secrets, spec.min_containers, spec.buffer_containers, spec.volumes,
            tuple(bucket.manifest_entry(path) for path, bucket in spec.bucket_mounts))  # a variant's own mounts


_runner: LocalRunner | None = None
_runner_lock = threading.Lock()


def local_runner() -> LocalRunner:
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = LocalRunner()
        return _runner
