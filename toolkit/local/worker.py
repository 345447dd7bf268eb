"""A local worker process: one stand-in container for one function.

Started by `toolkit.local.pool` as ``python -m toolkit.local.worker TARGET_JSON`` with a
socket on fd ``TOOLKIT_WORKER_FD``.  It imports the user's module the way a container
would, builds the class instance and runs ``@toolkit.enter`` hooks once, then runs inputs:
up to ``max_inputs`` at a time on threads (sync) or on one event loop (async).  A call that
outlives ``timeout`` takes the whole worker down, as a container would be stopped.

A worker answers only to the process that started it.  When that parent dies (its socket
reaches EOF, or the worker is re-parented), the worker exits at once, mid-call: nobody can
receive its results any more, and the calls it was running are reported lost, so letting
them finish would run them twice when the caller spawns them again
(`toolkit.local.ownership`).  A shutdown the parent asks for (``("shutdown",)``) still lets
running calls finish.

A cancelled input (``("cancel", ids, terminate)``) that has not started is skipped; a running one
is interrupted: `InputCancellation` is raised in its thread, or its asyncio task is cancelled.  Code
blocked outside Python (``time.sleep``, a C call) cannot see that exception, so if the input is
still running `CANCEL_GRACE_S` later -- or at once with ``terminate`` -- the worker exits, as the
platform stops a container, and its other inputs run again on a fresh worker.

Lines user code prints still go to the terminal and are also sent to the pool, tagged with the
call they were printed for (`toolkit.local.logs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import inspect
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, NoReturn

from runtime.instances import share_hook_loop
from runtime.serialization import deserialize, serialize, serialize_error
from toolkit import config, last_good
from toolkit.context import current_function_call_id, enter_container, enter_input, new_input_id
from toolkit.exception import InputCancellation, NotFoundError, SerializationError
from toolkit.local import protocol
from toolkit.local.protocol import PARENT_ENV, WorkerTarget
from toolkit.localhost import resolve_localhost_names

FLUSH_EVERY = 64  # results per message when inputs are queued behind each other
TIMEOUT_EXIT_CODE = 3
ORPHAN_EXIT_CODE = 4
CANCEL_EXIT_CODE = 5
CANCEL_GRACE_S = 1.0  # how long a cancelled input may take to stop before its worker exits


_STOP_HOOKS: list[Callable[[], None]] = []  # the loaded instance's @exit hooks, run when the worker stops


def run_stop_hooks() -> None:
    """Run the @exit hooks of the instance `load_callable` built, once: the worker is stopping."""
    while _STOP_HOOKS:
        _STOP_HOOKS.pop()()


def load_callable(target: WorkerTarget) -> Any:
    """Import the user's code and return the plain callable to run (a bound method for classes)."""
    import cloudpickle

    from toolkit.app import App
    from toolkit.instances import bound_method, instantiate, run_exit_hooks
    from toolkit.loader import import_module_name, import_path

    last_good.install_from_environ(target.app_name)  # under toolkit serve: the version it serves
    module = import_path(target.source_file) if target.source_file else import_module_name(target.module)
    if module.__name__ != target.module:
        # The parent knows this module as e.g. __main__: send its objects by value, not by name.
        cloudpickle.register_pickle_by_value(module)
    for app in App._instances():
        function = app.registered_functions.get(target.tag)
        if app.app_name == target.app_name and function is not None:
            spec = function.spec
            # before @enter hooks: they may read or fill a volume
            mount_volumes(spec.volumes if target.volumes is None else target.volumes)
            from toolkit.cloud_bucket_mount import mount_in_worker

            # CloudBucketMounts: synced copies, linked at their paths (a variant's own, as its volumes)
            from toolkit.variants import registered_variants

            known = [m for variant in registered_variants(app).values() for m in variant.spec.bucket_mounts]
            mount_in_worker(spec.bucket_mounts, target.bucket_mounts, known)
            if spec.cls is None:
                return spec.raw_f
            obj = instantiate(spec.cls, target.params)
            _STOP_HOOKS.append(functools.partial(run_exit_hooks, spec.cls, obj))
            return bound_method(obj, spec.name)
    raise NotFoundError(f"{target.source_file or target.module} no longer defines {target.app_name}.{target.tag}")


def mount_volumes(mounts: tuple[tuple[str, str, bool, bool], ...]) -> None:
    """Make each volume appear at its mount path, as a container would see it (`runtime.volumes.mounts`)."""
    if mounts:
        from runtime.volumes.mounts import mount
        from toolkit.volume import volume_store

        mount(volume_store(), mounts, isolate=True)  # a worker is a container: read-only mounts refuse writes


class Worker:
    def __init__(self, conn: Connection, target: WorkerTarget) -> None:
        self.conn, self.target = conn, target
        self.send_lock = threading.Lock()
        self.inbox: queue.SimpleQueue[tuple[int, bytes, str] | None] = queue.SimpleQueue()
        self.outbox: list[tuple[int, bool, bytes, float]] = []
        self.running: dict[int, float] = {}  # input id -> deadline
        self.queued: set[int] = set()
        self.state_lock = threading.Lock()
        self.fn: Any = None
        self.loop = asyncio.new_event_loop()  # the async methods' loop (`async_loop`), and async hooks'
        self.cancelled: set[int] = set()
        self.threads: dict[int, int] = {}  # running sync input -> its thread's ident
        self.tasks: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = {}  # running async input

    @staticmethod
    def dump(value: Any) -> bytes:
        """A return value as bytes to send back (`SerializationError` naming its type if it cannot be)."""
        return _dump(value)

    # -- sending -------------------------------------------------------------------------
    def send(self, message: tuple[Any, ...]) -> None:
        with self.send_lock:
            protocol.send(self.conn, message)

    def emit(self, input_id: int, ok: bool, data: bytes, seconds: float) -> None:
        _commit_volumes()  # bucket mounts upload this input's writes before its caller sees the result
        with self.state_lock:
            self.running.pop(input_id, None)
            self.outbox.append((input_id, ok, data, seconds))
            # Batch only while more work is waiting; an idle queue flushes at once (low latency).
            if len(self.outbox) < FLUSH_EVERY and not self.inbox.empty():
                return
            batch, self.outbox = self.outbox, []
        self.send((protocol.RESULTS, batch))

    # -- running one input -----------------------------------------------------------------
    def start(self, input_id: int) -> bool:
        """Mark the input running; False (and its cancellation sent back) if it was cancelled first."""
        with self.state_lock:
            self.queued.discard(input_id)
            skip = input_id in self.cancelled
            if not skip:
                self.running[input_id] = time.monotonic() + self.target.timeout
        if skip:
            self.emit(input_id, False, serialize_error(InputCancellation("cancelled before it started")), 0.0)
        return not skip

    # -- cancellation ----------------------------------------------------------------------
    def cancel(self, input_ids: list[int], terminate: bool) -> None:
        now = time.monotonic()
        with self.state_lock:
            self.cancelled.update(input_ids)
            for input_id in input_ids:
                if input_id not in self.running:
                    continue  # queued here (start() skips it) or finished already
                self.running[input_id] = now if terminate else min(self.running[input_id], now + CANCEL_GRACE_S)
                if not terminate:
                    self._interrupt(input_id)

    def _interrupt(self, input_id: int) -> None:
        """Raise InputCancellation where the input runs (state lock held, so it is still running)."""
        if input_id in self.tasks:
            loop, task = self.tasks[input_id]
            loop.call_soon_threadsafe(task.cancel)
        elif input_id in self.threads:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.threads[input_id]),
                                                       ctypes.py_object(InputCancellation))

    def run_sync(self, input_id: int, payload: bytes, call_id: str) -> None:
        try:
            self._run_sync(input_id, payload, call_id)
        except InputCancellation:  # landed after the user's code, before its result went out
            self.emit(input_id, False, serialize_error(InputCancellation("cancelled")), 0.0)
        finally:
            with self.state_lock:
                self.threads.pop(input_id, None)

    def _run_sync(self, input_id: int, payload: bytes, call_id: str) -> None:
        started = time.perf_counter()
        with self.state_lock:
            self.threads[input_id] = threading.get_ident()
        if not self.start(input_id):
            return
        enter_input(call_id, new_input_id())
        try:
            args, kwargs = deserialize(payload)
            value = self.fn(*args, **kwargs)
            if inspect.isgenerator(value):
                for item in value:
                    self.send((protocol.YIELD, input_id, _dump(item)))
                value = None
            self.emit(input_id, True, _dump(value), time.perf_counter() - started)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
            self.emit(input_id, False, serialize_error(exc), time.perf_counter() - started)

    async def run_async(self, input_id: int, payload: bytes, call_id: str, slots: asyncio.Semaphore) -> None:
        async with slots:
            started = time.perf_counter()
            task = asyncio.current_task()
            assert task is not None
            with self.state_lock:
                self.tasks[input_id] = (asyncio.get_running_loop(), task)
            if not self.start(input_id):
                self.tasks.pop(input_id, None)
                return
            enter_input(call_id, new_input_id())  # this task's own context
            try:
                args, kwargs = deserialize(payload)
                result = self.fn(*args, **kwargs)
                if inspect.isasyncgen(result):
                    async for item in result:
                        self.send((protocol.YIELD, input_id, _dump(item)))
                    value = None
                else:
                    value = await result if inspect.isawaitable(result) else result
                await self.emit_off_loop(input_id, True, _dump(value), time.perf_counter() - started)
            except BaseException as exc:  # noqa: BLE001
                await self.emit_off_loop(input_id, False, serialize_error(exc), time.perf_counter() - started)
            finally:
                with self.state_lock:
                    self.tasks.pop(input_id, None)

    async def emit_off_loop(self, input_id: int, ok: bool, data: bytes, seconds: float) -> None:
        """`emit` for an async input: a bucket mount's sync (network I/O) runs on a thread, so the event loop the
        worker's other inputs share keeps running; the thread emits even if this task is cancelled meanwhile."""
        from runtime.volumes.mounts import needs_commit

        if needs_commit():
            await asyncio.to_thread(self.emit, input_id, ok, data, seconds)
        else:
            self.emit(input_id, ok, data, seconds)

    # -- loops -----------------------------------------------------------------------------
    def thread_loop(self) -> None:
        while (item := self.inbox.get()) is not None:
            with contextlib.suppress(InputCancellation):  # one that landed late must not end the loop
                self.run_sync(*item)
        self.inbox.put(None)  # let the sibling threads see the end too

    def async_loop(self) -> None:
        async def main() -> None:
            slots = asyncio.Semaphore(self.target.max_inputs)
            loop = asyncio.get_running_loop()
            tasks = set()
            while (item := await loop.run_in_executor(None, self.inbox.get)) is not None:
                task = asyncio.ensure_future(self.run_async(*item, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.wait(tasks)

        # The loop the class's async @enter hooks ran on (`serve`): what they bound to it stays usable.
        try:
            self.loop.run_until_complete(main())
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())

    def watchdog(self) -> None:
        """Stop the whole worker when an input runs past its deadline, as a container is stopped,
        or when its parent is gone (`exit_if_orphaned`)."""
        while True:
            time.sleep(0.05)
            exit_if_orphaned()
            now = time.monotonic()
            with self.state_lock:
                late = [i for i, deadline in self.running.items() if deadline <= now]
                if not late:
                    continue
                unstarted = sorted(self.queued)
            timed_out = [i for i in late if i not in self.cancelled]
            if not timed_out:  # cancelled inputs that did not stop (or terminate_containers=True)
                self.send((protocol.TERMINATED, late))
                os._exit(CANCEL_EXIT_CODE)
            self.send((protocol.TIMEOUT, timed_out[0], self.target.timeout, unstarted))
            os._exit(TIMEOUT_EXIT_CODE)

    def serve(self) -> None:
        sys.stdout = LineTee(sys.stdout, "stdout", self.send)
        sys.stderr = LineTee(sys.stderr, "stderr", self.send)
        share_hook_loop(self.loop)  # async @enter/@exit hooks run on the loop the async methods run on
        try:
            self.fn = load_callable(self.target)
        except BaseException as exc:  # noqa: BLE001 - the parent shows it to the user
            # A parent that stopped listening (its run ended on another worker's error) has nobody to show
            # it to: a BrokenPipeError traceback here would bury the error the user does see.
            with contextlib.suppress(OSError):
                self.send((protocol.LOAD_ERROR, serialize_error(exc)))
            return
        is_async = inspect.iscoroutinefunction(self.fn) or inspect.isasyncgenfunction(self.fn)
        runners = [threading.Thread(target=self.async_loop, daemon=True)] if is_async else [
            threading.Thread(target=self.thread_loop, daemon=True) for _ in range(self.target.max_inputs)
        ]
        if self.target.batch_max_size:  # one loop collects inputs into lists (`toolkit.local.batching`)
            from toolkit.local.batching import run_batches

            runners = [threading.Thread(target=run_batches, args=(self,), daemon=True)]
        for thread in runners:
            thread.start()
        threading.Thread(target=self.watchdog, daemon=True).start()
        self.send((protocol.READY, os.getpid()))
        self.receive()
        for thread in runners:
            thread.join()
        run_stop_hooks()  # a stopping container runs @exit once its inputs are done

    def receive(self) -> None:
        while True:
            try:
                message = protocol.recv(self.conn)
            except (EOFError, OSError):
                orphaned()  # the parent died without asking us to stop
            if message[0] == protocol.CANCEL:
                self.cancel(message[1], message[2])
                continue
            if message[0] != protocol.INPUTS:
                break
            with self.state_lock:
                self.queued.update(item[0] for item in message[1])
            for item in message[1]:
                self.inbox.put(item)
        self.inbox.put(None)


class LineTee:
    """``sys.stdout``/``sys.stderr`` of a worker: writes go on to the real stream (the terminal) and each
    complete line also goes to the pool, tagged with the call it was printed for."""

    def __init__(self, stream: Any, source: str, send: Any) -> None:
        self._stream, self._source, self._send = stream, source, send
        self._partial = threading.local()

    def write(self, text: str) -> int:
        written: int = self._stream.write(text)
        pending = getattr(self._partial, "text", "") + text
        *lines, self._partial.text = pending.split("\n")
        for line in lines:
            try:
                self._send((protocol.LOG, current_function_call_id(), self._source, line))
            except OSError:
                break  # the parent is gone: the orphan check ends this process
        return written

    def __getattr__(self, name: str) -> Any:  # flush, fileno, encoding, isatty, buffer...
        return getattr(self._stream, name)


def orphaned() -> NoReturn:
    """Exit now, mid-call: the parent that would take the results is gone and has been reported
    lost.  ``os._exit``: no cleanup may run user code (or write anything) after this point."""
    os._exit(ORPHAN_EXIT_CODE)


def exit_if_orphaned() -> None:
    """The parent-pid check behind the socket's EOF: the socket stays open while anything else
    holds the parent's end (a child the parent forked), but re-parenting always shows.
    (``PR_SET_PDEATHSIG`` would not do: it fires when the parent *thread* that started the
    worker ends, and pools start workers from short-lived threads.)"""
    parent = os.environ.get(PARENT_ENV)
    if parent and os.getppid() != int(parent):
        orphaned()


def _commit_volumes() -> None:
    from runtime.volumes.mounts import commit_all

    commit_all()


def _dump(value: Any) -> bytes:
    try:
        return serialize(value)
    except Exception as exc:
        raise SerializationError(
            f"The return value {type(value).__name__} could not be pickled to send back ({exc}); "
            "return plain data (dicts, lists, str, numbers) instead."
        ) from None


def main() -> None:
    exit_if_orphaned()  # the parent may have died while this process started
    resolve_localhost_names()  # user code may open its app's endpoint URLs (*.localhost)
    target = WorkerTarget.from_json(sys.argv[1])
    sys.path[:0] = [p for p in target.sys_path if p not in sys.path]
    enter_container(config.setting("environment"))
    conn = Connection(int(os.environ["TOOLKIT_WORKER_FD"]))
    Worker(conn, target).serve()
    _commit_volumes()  # a stopping container commits its volumes (a no-op for the live local store)
    # Flush stdio and skip interpreter teardown of daemon threads still parked in user code.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
