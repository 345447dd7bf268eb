"""Which store a `Dict` or `Queue` talks to: the same rule as calls (`toolkit.runner`).

* ``TOOLKIT_STATE_TABLE`` set -- the deployed app's DynamoDB state table (with its S3 bucket in
  ``TOOLKIT_STATE_BUCKET`` for large values).  infra sets both on every deployed function; set them
  yourself (``toolkit deploy`` prints them) to reach a deployed app's Dicts and Queues from a laptop.
* otherwise -- the embedded SQLite store ``$TOOLKIT_HOME/state.sqlite3``, shared by every local
  process: ``toolkit serve``, ``toolkit run``, their workers and plain scripts.

Nothing here imports boto3 or sqlite3 until a Dict or Queue is first used.
"""

from __future__ import annotations

import os
import re
import threading
from typing import TYPE_CHECKING

from runtime.environment import ContainerEnv
from toolkit import config
from toolkit.exception import InvalidError

if TYPE_CHECKING:
    from runtime.primitives.base import StateStore

__all__ = ["BUCKET_ENV", "TABLE_ENV", "check_name", "state_db_path", "state_store"]

TABLE_ENV, BUCKET_ENV = ContainerEnv.name("state_table"), ContainerEnv.name("state_bucket")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_lock = threading.Lock()
_stores: dict[tuple[str, str], StateStore] = {}


def state_db_path() -> str:
    return str(config.home() / "state.sqlite3")


def state_store() -> StateStore:
    """This process's store (one per table or file, reused across calls)."""
    table = os.environ.get(TABLE_ENV)
    key = ("dynamodb", table) if table else ("sqlite", state_db_path())
    with _lock:
        if key not in _stores:
            _stores[key] = _open(*key)
        return _stores[key]


def _open(kind: str, where: str) -> StateStore:
    if kind == "dynamodb":
        from runtime.primitives.dynamodb import DynamoDBStateStore

        return DynamoDBStateStore(where, os.environ.get(BUCKET_ENV) or None)
    from runtime.primitives.sqlite import SQLiteStateStore

    return SQLiteStateStore(where)


def check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidError(f"{kind} name {name!r} must be 1-64 letters, digits, '.', '-' or '_', starting with a "
                           f"letter or digit, e.g. toolkit.{kind}.from_name('my-{kind.lower()}').")
    return name
