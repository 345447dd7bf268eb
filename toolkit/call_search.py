"""Finding a deployed call by its id alone: ``FunctionCall.from_id(id).get()`` in a process that looked no app up.

The local call store is asked first (`toolkit.calls`), then the apps this process looked up
(`toolkit.deployed_code.runner_for_call`); only then is AWS searched, here: the call maps every
``toolkit deploy`` leaves in SSM under ``/toolkit/`` (`runtime.callmap`), read with
``ssm:GetParametersByPath`` (ten to a page), then one consistent ``GetItem`` of the id in each map's
call table, stopping at the first table that has it.  The cost is bounded by the number of apps
deployed in the region.  The maps read are kept for the process: the next id is probed in their
tables first, and the listing is read again only when none has it (then only maps new since are probed).

Why search rather than make deployed ids self-describing (carry the app or stack in the id): an id
is also the name of the call's Step Functions execution (80 characters of ``[A-Za-z0-9_-]``) and
travels in result URLs, so it cannot carry a stack name of any length; and the ids of every call
made so far would stay unfindable.  The search needs no new id format and finds those too.  What it
cannot find: a call of an app deployed in another region than this process's (``AWS_REGION``).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from runtime.callmap import CallMap, CallMapError
from toolkit.deployed_code import holds_call, remember_call

__all__ = ["CALL_MAP_ROOT", "CallSearch", "find_deployed_call"]

log = logging.getLogger("toolkit")

CALL_MAP_ROOT = "/toolkit/"  # runtime.callmap.parameter_name puts every stack's map under it

_lock = threading.Lock()
_maps: dict[str, dict[str, Any]] = {}  # region -> call map document -> its app's runner, kept for the process


class CallSearch:
    """What the search looked at, for the error when the id is nowhere."""

    def __init__(self, region: str | None, failure: str | None = None) -> None:
        self.region, self.tables, self.failure = region, 0, failure

    def describe(self) -> str:
        if self.failure is not None:
            return self.failure
        if self.region is None:
            return "no AWS region is configured (AWS_REGION, AWS_DEFAULT_REGION or the profile's), so no deployed app was searched"
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        where = f"region {self.region}" + (f" at {endpoint}" if endpoint else "")
        return (f"nor in the call table of any of the {self.tables} app(s) deployed in {where} (call maps under SSM "
                f"{CALL_MAP_ROOT}); a call of an app deployed elsewhere needs AWS_REGION set to its region")


def find_deployed_call(call_id: str) -> tuple[Any, CallSearch]:
    """The runner of the deployed app whose call table holds ``call_id`` (remembered for the process), or
    None with what was searched."""
    from toolkit.deploy.autoscaler import aws_region
    from toolkit.lookup_scope import lookup_mode

    if lookup_mode() == "local":
        return None, CallSearch(None, "TOOLKIT_LOOKUP=local: no deployed app was searched")
    search = CallSearch(aws_region())
    if search.region is None:
        return None, search
    for runners in (_known(search.region), _new(search)):  # the maps read before; then any deployed since
        for runner in runners:
            if holds_call(runner, call_id):
                remember_call(call_id, runner)
                return runner, search
    return None, search


def _known(region: str) -> list[Any]:
    with _lock:
        return list(_maps.get(region, {}).values())


def _new(search: CallSearch) -> list[Any]:
    """Runners for the call maps in the region not read before (a map rewritten by a deploy is new)."""
    assert search.region is not None
    listed = _call_maps(search)
    with _lock:
        seen = _maps.setdefault(search.region, {})
        fresh = {text: call_map for text, call_map in listed.items() if text not in seen}
        search.tables = len(listed) if search.failure is None else len(seen)
    runners = {text: _runner(call_map) for text, call_map in fresh.items()}
    with _lock:
        seen.update(runners)
    return list(runners.values())


def _runner(call_map: CallMap) -> Any:
    from runtime.cloud_client import transport_from_call_map
    from toolkit.runner import CloudRunner

    return CloudRunner(transport_from_call_map(call_map))


def _call_maps(search: CallSearch) -> dict[str, CallMap]:
    """Every readable call map under `CALL_MAP_ROOT` in the region, by its document."""
    import botocore.exceptions

    from runtime.awsclients import client

    maps: dict[str, CallMap | None] = {}
    try:
        pages = client("ssm", search.region).get_paginator("get_parameters_by_path").paginate(
            Path=CALL_MAP_ROOT, Recursive=True)
        for page in pages:
            maps.update((p["Value"], _parsed(p["Name"], p["Value"])) for p in page["Parameters"]
                        if p["Name"].endswith("/call-map"))
    except botocore.exceptions.NoCredentialsError:
        search.failure = ("no deployed app was searched: no AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                          "AWS_SECRET_ACCESS_KEY)")
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        search.failure = (f"listing the call maps under SSM {CALL_MAP_ROOT} in {search.region} failed ({code}): "
                          f"FunctionCall.from_id needs ssm:GetParametersByPath on {CALL_MAP_ROOT}* and "
                          "dynamodb:GetItem on the call tables (or look the app up first: toolkit.App.lookup(name))")
    return {text: m for text, m in maps.items() if m is not None}


def _parsed(name: str, value: str) -> CallMap | None:
    try:
        return CallMap.loads(value, name)
    except CallMapError as exc:  # another toolkit version's map: the other apps are still searched
        log.info("skipping %s: %s", name, exc)
        return None
