"""A pool of worker processes for one function (and one set of class parameters).

Scheduling, in short: inputs wait in the pool's queue; a ready worker with spare capacity
(``max_inputs``, plus a prefetch window for very short calls so they travel in batches)
takes them; when every worker is busy and the queue is not empty, another worker starts,
up to ``max_containers``.  Workers idle for ``scaledown_window`` seconds stop, unless they
own spawned calls that are still running, or are among the ``min_containers`` kept warm (plus
``buffer_containers`` spare ones while calls run).  ``update_bounds`` changes these bounds live
(``Function.update_autoscaler``).

Cancelling (``FunctionCall.cancel``): a queued input is dropped; one a worker holds is cancelled
there (`toolkit.local.worker`); either way it finishes with `CallCancelledError` and is not retried.
"""

from __future__ import annotations

import collections
import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from runtime.serialization import serialize_error
from toolkit.exception import AppLoadError, CallCancelledError, FunctionTimeoutError, WorkerCrashedError
from toolkit.local import interpreters, protocol
from toolkit.local.logs import LogBuffer
from toolkit.local.ownership import owns_unfinished_calls
from toolkit.local.pool_stats import PoolCounters
from toolkit.local.protocol import PARENT_ENV, WorkerTarget
from toolkit.spec import Retries

Done = Callable[[bool, bytes], None]
PREFETCH_BUDGET_S = 0.002  # keep about this much queued work inside each worker
MAX_PREFETCH = 256
_NO_LIMIT = 1 << 62


@dataclass
class Input:
    id: int
    payload: bytes
    done: Done
    on_yield: Callable[[bytes], None] | None = None
    attempt: int = 0
    call_id: str = ""  # the function call this input belongs to (`toolkit.current_function_call_id`)
    cancelled: bool = False  # FunctionCall.cancel(): it finishes with CallCancelledError, never retried


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    conn: Connection
    ready: bool = False
    inflight: dict[int, Input] = field(default_factory=dict)
    idle_since: float = field(default_factory=time.monotonic)
    stopping: bool = False
    taken: int = 0  # inputs handed to it: a worker with ``retire_after`` retires when it has run that many


class WorkerPool:
    def __init__(self, target: WorkerTarget, *, max_containers: int, retries: Retries | None,
                 scaledown_window: float, env: dict[str, str] | None = None,
                 retire_after: int | None = None) -> None:
        self.target = target
        self.retire_after = retire_after  # single_use_containers=True is 1, max_inputs=N is N
        self.max_containers = max_containers
        self.retries = retries
        self.scaledown_window = scaledown_window
        self.env = env or {}
        self.lock = threading.Lock()
        self.queue: collections.deque[Input] = collections.deque()
        self.workers: list[_Worker] = []
        self.load_error: bytes | None = None
        self.avg_seconds: float | None = None  # moving average of one input's run time
        self.closed = False
        self._next_id = 0
        self._launching = 0  # workers being started, not yet in self.workers (`_reserve`)
        self.min_containers = 0  # kept warm once started; update_bounds() changes these live
        self.buffer_containers = 0  # spare ready workers kept while inputs run
        self.logs = LogBuffer()  # what the workers printed (Function.logs)
        self.counters = PoolCounters()  # what Function.stats()/get_current_stats() report

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    def submit(self, inputs: list[Input]) -> None:
        with self.lock:
            if self.load_error is not None:
                failed, error = inputs, self.load_error
            else:
                failed, error = [], b""
                self.queue.extend(inputs)
                to_start = self._pump()
        for item in failed:
            item.done(False, error)
        if not failed:
            self._start_workers(to_start)

    # -- scheduling (call with the lock held) -----------------------------------------------
    def _capacity(self) -> int:
        prefetch = 0
        if self.avg_seconds is not None and self.avg_seconds > 0:
            prefetch = min(MAX_PREFETCH, int(PREFETCH_BUDGET_S / self.avg_seconds))
        elif self.avg_seconds == 0:
            prefetch = MAX_PREFETCH
        return self.target.max_inputs + prefetch

    def _pump(self) -> int:
        """Hand queued inputs to ready workers; return how many new workers to start."""
        capacity = self._capacity()
        while self.queue:
            ready = [w for w in self.workers if w.ready and not w.stopping and len(w.inflight) < capacity
                     and self._quota(w) > 0]
            if not ready:
                break
            worker = min(ready, key=lambda w: len(w.inflight))
            share = max(1, min(capacity - len(worker.inflight), -(-len(self.queue) // len(ready)), self._quota(worker)))
            batch = [self.queue.popleft() for _ in range(min(share, len(self.queue)))]
            worker.inflight.update((item.id, item) for item in batch)
            worker.taken += len(batch)
            try:
                protocol.send(worker.conn, (protocol.INPUTS, [(item.id, item.payload, item.call_id) for item in batch]))
            except OSError:
                worker.stopping = True  # its reader thread sees the EOF and requeues
        if not self.queue or self.closed:
            return 0
        live = [w for w in self.workers if not w.stopping]
        starting = sum(1 for w in live if not w.ready) + self._launching
        wanted = -(-len(self.queue) // self.target.max_inputs) - starting
        return self._reserve(min(wanted, self.max_containers - len(live) - self._launching))

    def _quota(self, worker: _Worker) -> int:
        """Inputs this worker may still take before it retires."""
        return _NO_LIMIT if self.retire_after is None else self.retire_after - worker.taken

    # -- worker lifecycle ---------------------------------------------------------------------
    def _reserve(self, count: int) -> int:
        """Count ``count`` workers as launching (lock held) until `_start_workers` lists them: a decision
        taken meanwhile (another thread's `_pump`) must not start them a second time."""
        count = max(0, count)
        self._launching += count
        return count

    def _start_workers(self, count: int) -> None:
        for started in range(count):
            try:
                worker = self._launch()
            except BaseException:
                with self.lock:
                    self._launching -= count - started
                raise
            self.counters.add("container_started")
            with self.lock:
                self._launching -= 1
                self.workers.append(worker)
            threading.Thread(target=self._read, args=(worker,), daemon=True,
                             name=f"toolkit-reader-{self.target.tag}").start()

    def _launch(self) -> _Worker:
        parent_sock, child_sock = socket.socketpair()
        python, target, image_env, cwd = interpreters.worker_launch(self.target)  # the image's env, or ours
        env = {**os.environ, **image_env, **self.env, "TOOLKIT_WORKER": "1",  # secrets over Image.env
               "TOOLKIT_WORKER_FD": str(child_sock.fileno()),
               PARENT_ENV: str(os.getpid())}  # a worker whose parent dies stops (`toolkit.local.worker`)
        proc = subprocess.Popen(
            [python, "-m", "toolkit.local.worker", target.to_json()],
            pass_fds=[child_sock.fileno()], env=env, cwd=cwd,
        )
        child_sock.close()
        return _Worker(proc, Connection(parent_sock.detach()))

    def _read(self, worker: _Worker) -> None:
        handlers: dict[str, Callable[..., None]] = {
            protocol.READY: self._on_ready, protocol.RESULTS: self._on_results,
            protocol.YIELD: self._on_yield, protocol.TIMEOUT: self._on_timeout,
            protocol.LOAD_ERROR: self._on_load_error, protocol.LOG: self._on_log,
            protocol.TERMINATED: self._on_terminated,
        }
        while True:
            try:
                message = protocol.recv(worker.conn)
            except (EOFError, OSError):
                break
            handlers[message[0]](worker, *message[1:])
        self._on_exit(worker)

    def _on_ready(self, worker: _Worker, _pid: int) -> None:
        with self.lock:
            worker.ready = True
            to_start = self._pump()
        self._start_workers(to_start)

    def _on_results(self, worker: _Worker, results: list[tuple[int, bool, bytes, float]]) -> None:
        finished: list[tuple[Input, bool, bytes]] = []
        with self.lock:
            for input_id, ok, data, seconds in results:
                item = worker.inflight.pop(input_id, None)
                if item is not None:
                    finished.append((item, ok, data))
                    self.counters.duration(seconds)
                self.avg_seconds = seconds if self.avg_seconds is None else 0.8 * self.avg_seconds + 0.2 * seconds
            if not worker.inflight:
                worker.idle_since = time.monotonic()
            retiring = not worker.inflight and self._quota(worker) <= 0 and not worker.stopping
            worker.stopping = worker.stopping or retiring
            to_start = self._pump()
        if retiring:  # it ran its inputs (single_use_containers / max_inputs): a fresh one takes the next
            _stop(worker)
        self._start_workers(to_start)
        for item, ok, data in finished:
            self._finish(item, ok, data)

    def _on_yield(self, worker: _Worker, input_id: int, data: bytes) -> None:
        item = worker.inflight.get(input_id)
        if item is not None and item.on_yield is not None:
            item.on_yield(data)

    def _on_timeout(self, worker: _Worker, input_id: int, seconds: float, unstarted: list[int]) -> None:
        with self.lock:
            worker.stopping = True
            late = worker.inflight.pop(input_id, None)
            # Inputs that never started are handed back, untouched, to another worker.
            self.queue.extendleft(reversed([worker.inflight.pop(i) for i in unstarted if i in worker.inflight]))
        if late is not None:
            error = FunctionTimeoutError(
                f"{self.target.tag} timed out after {seconds:g} s (timeout={seconds:g}) and its worker was stopped; "
                f"raise timeout= in @app.function(...) if it needs longer."
            )
            self._finish(late, False, serialize_error(error), timed_out=True)

    def _on_load_error(self, worker: _Worker, data: bytes) -> None:
        self.counters.add("container_error")
        with self.lock:
            self.load_error = data
            waiting = list(self.queue) + list(worker.inflight.values())
            self.queue.clear()
            worker.inflight.clear()
        for item in waiting:
            item.done(False, data)

    def _on_exit(self, worker: _Worker) -> None:
        code = worker.proc.wait()
        if code != 0 and not worker.stopping:
            self.counters.add("container_error")
        with self.lock:
            self.workers.remove(worker)
            lost = list(worker.inflight.values())
            worker.inflight.clear()
            to_start = 0 if self.closed else self._pump()
        self._start_workers(to_start)
        for item in lost:
            error = self._stopped_error() if self.closed else WorkerCrashedError(
                f"The worker running {self.target.tag} exited with code {code} before the call finished."
            )
            self._finish(item, False, serialize_error(error))

    def _finish(self, item: Input, ok: bool, data: bytes, timed_out: bool = False) -> None:
        if not ok and item.cancelled:  # whatever stopped it (InputCancellation, its worker's exit): cancelled
            self.counters.add("cancelled")
            item.done(False, self._cancelled_error())
            return
        if not ok and self.retries is not None and item.attempt < self.retries.max_retries and not self.closed:
            item.attempt += 1
            timer = threading.Timer(self.retries.delay(item.attempt), self._resubmit, args=(item,))
            timer.daemon = True
            timer.start()
            return
        self.counters.add("success" if ok else "timeout" if timed_out else "failure")
        item.done(ok, data)

    def _resubmit(self, item: Input) -> None:
        if item.cancelled:  # cancelled while it waited for its retry
            self._finish(item, False, b"")
        else:
            self.submit([item])

    def _cancelled_error(self) -> bytes:
        return serialize_error(CallCancelledError(
            f"The call to {self.target.tag} was cancelled (FunctionCall.cancel()) before it finished."))

    # -- worker output and cancellation -----------------------------------------------------
    def _on_log(self, worker: _Worker, call_id: str | None, source: str, line: str) -> None:
        self.logs.add(line, source, call_id, worker.proc.pid)

    def cancel(self, inputs: list[Input], terminate: bool) -> None:
        """Stop these inputs: drop the queued ones, have workers interrupt the ones they hold
        (``terminate``: stop those workers at once; their other inputs run again elsewhere)."""
        wanted = {id(item) for item in inputs}
        with self.lock:
            for item in inputs:
                item.cancelled = True
            dropped = [item for item in self.queue if id(item) in wanted]
            self.queue = collections.deque(item for item in self.queue if id(item) not in wanted)
            held = [(worker, [item.id for item in worker.inflight.values() if id(item) in wanted])
                    for worker in self.workers]
        for worker, ids in held:
            if ids:
                with contextlib.suppress(OSError):  # a worker already gone reports its inputs on exit
                    protocol.send(worker.conn, (protocol.CANCEL, ids, terminate))
        for item in dropped:
            self._finish(item, False, b"")

    def _on_terminated(self, worker: _Worker, cancelled: list[int]) -> None:
        """The worker stops for a cancellation (sent just before it exits): its cancelled inputs finish
        cancelled; the others it held run again on another worker, as the platform reschedules them."""
        with self.lock:
            worker.stopping = True
            stopped = [worker.inflight.pop(i) for i in cancelled if i in worker.inflight]
            others = [worker.inflight.pop(i) for i in list(worker.inflight)]
            self.queue.extendleft(reversed(others))
        for item in stopped:
            self._finish(item, False, b"")

    # -- bounds, counters, scale down and shutdown ---------------------------------------------
    def update_bounds(self, *, min_containers: int | None = None, max_containers: int | None = None,
                      buffer_containers: int | None = None, scaledown_window: float | None = None) -> None:
        """Change the pool's bounds now (None keeps one): it starts workers up to the new floor at once,
        and scales down (after ``scaledown_window``) to it."""
        with self.lock:
            self.min_containers = self.min_containers if min_containers is None else min_containers
            self.max_containers = self.max_containers if max_containers is None else max_containers
            self.buffer_containers = self.buffer_containers if buffer_containers is None else buffer_containers
            self.scaledown_window = self.scaledown_window if scaledown_window is None else scaledown_window
            to_start = self._pump() + self._warm_shortfall()
        self._start_workers(to_start)

    def _warm_floor(self) -> int:
        """Workers to keep (lock held): ``min_containers``, or the busy ones plus ``buffer_containers``."""
        busy = sum(1 for w in self.workers if w.inflight and not w.stopping)
        return min(self.max_containers, max(self.min_containers, busy + self.buffer_containers if busy else 0))

    def _warm_shortfall(self) -> int:
        if self.closed or self.load_error is not None:
            return 0
        live = sum(1 for w in self.workers if not w.stopping)
        return self._reserve(self._warm_floor() - live - self._launching)

    def scale(self) -> None:
        """Once a second (the runner's reaper): start workers up to the warm floor, stop idle ones above it."""
        with self.lock:
            keep, to_start = self._warm_floor(), self._warm_shortfall()
        self._start_workers(to_start)
        self.reap_idle(keep)

    def snapshot(self) -> dict[str, int]:
        """Right now: queued inputs, running inputs, live workers and the idle ones among them, free slots."""
        with self.lock:
            live = [w for w in self.workers if not w.stopping]
            running = sum(len(w.inflight) for w in live)
            idle = sum(1 for w in live if w.ready and not w.inflight)
            free = sum(max(0, self.target.max_inputs - len(w.inflight)) for w in live if w.ready)
            return {"backlog": len(self.queue), "running_inputs": running, "runners": len(live),
                    "idle_runners": idle, "starting": sum(1 for w in live if not w.ready), "headroom": free}

    def reap_idle(self, keep: int) -> None:
        """Stop workers idle past ``scaledown_window``.  One that owns spawned calls still running
        is not idle (`toolkit.local.ownership`): stopping it would lose them."""
        now = time.monotonic()
        with self.lock:
            candidates = [w for w in self.workers if w.ready and not w.inflight and not w.stopping
                          and now - w.idle_since > self.scaledown_window]
        candidates = [w for w in candidates if not owns_unfinished_calls(w.proc.pid)]  # off the lock: I/O
        with self.lock:
            idle = [w for w in candidates if not w.inflight and not w.stopping][: max(0, len(self.workers) - keep)]
            for worker in idle:
                worker.stopping = True
        for worker in idle:
            _stop(worker)

    def shutdown(self, wait: float = 2.0) -> None:
        with self.lock:
            self.closed = True
            workers = list(self.workers)
            pending = list(self.queue)
            self.queue.clear()
        for worker in workers:
            _stop(worker)
        deadline = time.monotonic() + wait
        for worker in workers:
            try:
                worker.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.proc.kill()
        with self.lock:  # finished here, not by the reader threads: this process may be exiting now
            cut_off = [item for worker in workers for item in worker.inflight.values()]
            for worker in workers:
                worker.inflight.clear()
        for item in pending + cut_off:
            self._finish(item, False, serialize_error(self._stopped_error()))

    def _stopped_error(self) -> WorkerCrashedError:
        """What a call still queued or running when its app stopped ends with.  A detached call
        (``spawn``/``spawn_map`` without ``.get()``) meets it when ``toolkit run`` or ``app.run()`` ends;
        a worker's exit code then says nothing useful (the stop itself ended it)."""
        return WorkerCrashedError(
            f"A call to {self.target.tag} was still running when its app stopped (its `toolkit run`, `app.run()` or `toolkit serve` "
            "ended), so it was stopped unfinished, as the platform stops an ephemeral app's calls. Wait for it "
            "before the entrypoint returns (FunctionCall.get() / FunctionCall.gather()), or run the app with "
            "`toolkit serve` or `toolkit deploy` so detached calls outlive their caller."
        )


def _stop(worker: _Worker) -> None:
    with contextlib.suppress(OSError):
        protocol.send(worker.conn, (protocol.SHUTDOWN,))


def load_error_message(data: bytes) -> AppLoadError:
    from runtime.serialization import deserialize

    err = deserialize(data)
    return AppLoadError(f"The worker could not load the function: {err.type_name}: {err.message}")
