"""What parent and worker processes say to each other over their socket.

Every message is a pickled tuple whose first item names it.  Inputs and results travel
as opaque serialized bytes so that the parent never unpickles user objects it does not need.

parent -> worker
    ("inputs", [(input_id, payload, call_id), ...])   payload = serialize((args, kwargs));
                                             call_id: toolkit.current_function_call_id() there
    ("shutdown",)                            finish what is running, then exit
    ("cancel", [input_id, ...], terminate)   FunctionCall.cancel(): interrupt these inputs (terminate:
                                             exit at once, as a stopped container)
    EOF on the socket                        the parent died: exit at once, mid-call
worker -> parent
    ("ready", pid)
    ("load_error", serialized_error)
    ("results", [(input_id, ok, data, seconds), ...])   data = serialize(value) or serialize_error(exc)
    ("yield", input_id, data)                 one item of a generator; its end is a normal result
    ("timeout", input_id, seconds, unstarted_ids)   sent just before the worker exits
    ("terminated", [input_id, ...])           cancelled inputs it could not interrupt: sent just before it exits
    ("log", call_id | None, "stdout"|"stderr", line)   a line user code printed (it reached the terminal too)
"""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any

from runtime import params as codec

PARENT_ENV = "TOOLKIT_WORKER_PARENT"  # the pid of the process that started a worker: it watches for its death

INPUTS, SHUTDOWN, CANCEL = "inputs", "shutdown", "cancel"
READY, LOAD_ERROR, RESULTS, YIELD, TIMEOUT = "ready", "load_error", "results", "yield", "timeout"
TERMINATED, LOG = "terminated", "log"


@dataclass(frozen=True)
class WorkerTarget:
    """Enough for a fresh process to find one function: where its module is, which app and tag."""

    module: str
    source_file: str | None
    app_name: str
    tag: str
    params: tuple[tuple[str, Any], ...]
    max_inputs: int
    timeout: float
    sys_path: tuple[str, ...]
    batch_max_size: int = 0  # @toolkit.batched: collect up to this many inputs per call (0: not batched)
    batch_wait_ms: int = 0
    # The pool's own volume mounts, as FunctionSpec.volumes: a with_options variant's differ from the
    # function the worker finds in the user's module.  None: that function's.
    volumes: tuple[tuple[str, str, bool, bool], ...] | None = None
    # Likewise its CloudBucketMounts, as manifest entries (`runtime.manifest.BucketMount` fields: a
    # secret by name, never its values).  None: that function's.
    bucket_mounts: tuple[tuple[Any, ...], ...] | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["params"] = codec.to_json(self.params)
        return json.dumps(data)

    @staticmethod
    def from_json(text: str) -> WorkerTarget:
        data = json.loads(text)
        data["params"] = codec.from_json(data["params"])
        data["sys_path"] = tuple(data["sys_path"])
        if data.get("volumes") is not None:
            data["volumes"] = tuple(tuple(mount) for mount in data["volumes"])
        if data.get("bucket_mounts") is not None:
            data["bucket_mounts"] = tuple(tuple(mount) for mount in data["bucket_mounts"])
        return WorkerTarget(**data)


def send(conn: Connection, message: tuple[Any, ...]) -> None:
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def recv(conn: Connection) -> tuple[Any, ...]:
    message: tuple[Any, ...] = pickle.loads(conn.recv_bytes())
    return message
