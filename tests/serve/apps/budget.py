"""Endpoints that outlive a small --request-timeout (tests/serve/test_budget.py)."""

import os
import time

import toolkit

app = toolkit.App("budget")


def _record_run(tag: str) -> int:
    path = os.path.join(os.environ["BUDGET_RUNS_DIR"], tag)
    with open(path, "a") as fh:
        fh.write("run\n")
    with open(path) as fh:
        return len(fh.readlines())


@app.function(timeout=600)
@toolkit.fastapi_endpoint()
def slow(seconds: float, tag: str):
    runs = _record_run(tag)
    time.sleep(seconds)
    return {"tag": tag, "runs": runs}


@app.function(timeout=600)
@toolkit.fastapi_endpoint(method="POST")
def slow_post(item: dict):
    runs = _record_run(item["tag"])
    time.sleep(item["seconds"])
    return {"echo": item, "runs": runs}


@app.function(timeout=600)
@toolkit.fastapi_endpoint()
def fails_late():
    time.sleep(1.5)
    os._exit(3)


@app.function()
def child() -> str:
    return "child"


@app.function(timeout=600)
@toolkit.fastapi_endpoint()
def which_call(seconds: float, spawn: str = ""):
    """The call this request is, seen from inside; ``spawn``: a child spawned "before" the budget runs
    out (then the worker holds the request's record) or "after" (the gateway's)."""
    first = child.spawn().object_id if spawn == "before" else None
    time.sleep(seconds)
    spawned = child.spawn().object_id if spawn == "after" else first
    return {"call_id": toolkit.current_function_call_id(), "spawned": spawned}
