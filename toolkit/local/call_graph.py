"""``FunctionCall.get_call_graph()`` on this machine: a call tree read from the store and its links.

The tree's root is the outermost call that is still in the store (walking up the parents that
`toolkit.local.call_links` recorded).  Each of a call's inputs is an `InputInfo`; the calls spawned
while a call ran are the children of its first input (the links name the parent call, not which of
its inputs spawned them).  A ``.remote()`` or ``.map()`` call is not stored, so what it spawns
starts a tree of its own.
"""

from __future__ import annotations

from runtime.callstore.base import CallRecord, CallStatus
from runtime.serialization import deserialize
from toolkit.function_records import InputInfo, InputStatus
from toolkit.local.call_links import CallLinks, call_links, record_ids
from toolkit.local.ownership import OwnedCallStore, local_call_store

MAX_NODES = 10_000  # a bigger tree is cut off there (the platform truncates large graphs too)

_ENDED_AS = {"CallCancelledError": InputStatus.TERMINATED, "CallLostError": InputStatus.TERMINATED,
             "FunctionTimeoutError": InputStatus.TIMEOUT}


def call_graph(call_id: str) -> list[InputInfo]:
    links, store = call_links(), local_call_store()
    root = _root(call_id, links, store)
    budget = [MAX_NODES]
    return _inputs(root, links, store, budget)


def _root(call_id: str, links: CallLinks, store: OwnedCallStore) -> str:
    seen = {call_id}
    while True:
        link = links.get(call_id)
        parent = link.parent if link is not None else None
        if parent is None or parent in seen or store.get(record_ids(parent, links.get(parent))[0]) is None:
            return call_id
        seen.add(parent)
        call_id = parent


def _inputs(call_id: str, links: CallLinks, store: OwnedCallStore, budget: list[int]) -> list[InputInfo]:
    nodes = []
    for record_id in record_ids(call_id, links.get(call_id)):
        record = store.get(record_id)
        if record is None or budget[0] <= 0:
            continue
        budget[0] -= 1
        nodes.append(InputInfo(input_id="in-" + record_id.removeprefix("fc-"), function_call_id=call_id,
                               task_id="", status=_status(record), function_name=record.function,
                               module_name=record.app))
    if nodes:
        for child in links.children(call_id):
            nodes[0].children.extend(_inputs(child.call_id, links, store, budget))
    return nodes


def _status(record: CallRecord) -> InputStatus:
    if not record.status.finished:
        return InputStatus.PENDING
    if record.status is CallStatus.DONE:
        return InputStatus.SUCCESS
    error = deserialize(record.result) if record.result is not None else None
    return _ENDED_AS.get(str(getattr(error, "type_name", "")).rpartition(".")[2], InputStatus.FAILURE)
