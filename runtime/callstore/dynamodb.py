"""The call store on AWS: DynamoDB for state, S3 claim-checks for large payloads and results.

Table: hash key ``call_id`` (S); TTL attribute ``expires_at`` (epoch seconds).
Blobs up to `CLAIM_CHECK_THRESHOLD` bytes live in the item; larger ones go to
``s3://<bucket>/calls/<call_id>/...`` and the item keeps only the key (`claimcheck`).  The
threshold leaves room for a payload *and* a result in one item under DynamoDB's 400 KB limit.

Transitions are conditional writes, so concurrent writers agree on one outcome:
``create`` needs a new id, ``mark_running`` needs PENDING, ``complete`` needs PENDING or
RUNNING.  Each result upload gets its own S3 key, so a losing writer never overwrites
the winner's object; it deletes its own instead.

A call can also be failed by the worker's state machine (infra/asl.py ``MarkFailed``) when the
worker stopped without a result.  Step Functions cannot serialize Python, so it writes a
marker (`FAILURE_ATTR`: JSON ``{"Error", "Cause"}``, `FAILURE_TIME_ATTR`: ISO time) instead of
``result``; `get` turns it into the serialized `WorkerFailedError` any FAILED record carries.

Pending calls are findable by function for ``@toolkit.batched`` workers (`runtime.batching`):
while a call is PENDING its item carries `PENDING_KEY_ATTR` (``<app>#<function>``), the hash key of
the sparse index `PENDING_INDEX` (range key ``created_at``); ``mark_running`` removes it, so the
index holds only calls nobody has claimed.  A call claimed into another call's batch records that
call's id in `BATCHED_BY_ATTR`, so its own worker waits for the batch instead of declaring it lost.

A call claimed by an ECS task records the task as its ``owner`` (``claimant``:
`supervision.ecs_task_owner`), and a claim by a Step Functions retry records its ``attempt``: a
retry of an attempt that stopped (a Lambda killed by its timeout) takes the call back from it, so
``retries=`` works across timeouts.  With a `Supervisor`, ``get`` settles an unfinished call whose
execution ended or whose task stopped (`runtime.callstore.supervision`).

A scheduled ECS/GPU run's record is written by its state machine (infra/asl.py
``RecordScheduledCall``), which has no epoch clock and no arguments to store: it carries
`SCHEDULED_AT_ATTR` (ISO 8601) instead of ``created_at``/``updated_at``/``expires_at`` and no
payload. `get` reads its times from that, `get_payload` answers the empty argument list, and
`mark_running` gives it its ``expires_at``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from runtime.awsclients import client
from runtime.callstore.base import CallRecord, CallStatus
from runtime.callstore.claimcheck import (
    BUCKET_ENV,
    CLAIM_CHECK_THRESHOLD,
    ClaimChecks,
    ClaimCheckUnavailableError,
)
from runtime.callstore.supervision import Supervisor, ecs_task_owner
from runtime.environment import ContainerEnv
from runtime.serialization import serialize, serialize_error, worker_failure

__all__ = ["BUCKET_ENV", "CLAIM_CHECK_THRESHOLD", "ClaimCheckUnavailableError", "DynamoDBCallStore"]

log = logging.getLogger("toolkit.runtime")

DEFAULT_TTL_SECONDS = 7 * 24 * 3600
_UNFINISHED = (CallStatus.PENDING.value, CallStatus.RUNNING.value)
# Written by the worker state machine; infra/asl.py uses the same names.
FAILURE_ATTR, FAILURE_TIME_ATTR = "sfn_error", "sfn_failed_at"
SCHEDULED_AT_ATTR = "scheduled_at"  # ISO 8601: a record the state machine wrote for a scheduled run
_NO_ARGUMENTS = serialize(((), {}))  # a scheduled run's input (runtime.invocation's payload shape)
_CAUSE_MAX = 4000  # characters of a Step Functions cause kept in the error message
# infra/components/calls.py declares the index with the same names
PENDING_INDEX, PENDING_KEY_ATTR, BATCHED_BY_ATTR = "pending", "pending_key", "batched_by"
# on a batch leader's record: every call its worker set out to claim into the batch (a string set), written
# before each claim, so that a Step Functions retry of the leader finds the calls it must finish
BATCH_MEMBERS_ATTR = "batch_members"
OWNER_ATTR, ATTEMPT_ATTR = "owner", "attempt"  # who claimed a call, and which Step Functions attempt did


def pending_key(app: str, function: str) -> str:
    return f"{app}#{function}"


class DynamoDBCallStore:
    def __init__(
        self,
        table: str,
        bucket: str | None = None,
        *,
        threshold: int = CLAIM_CHECK_THRESHOLD,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        claimant: Callable[[], str | None] = lambda: None,
        supervisor: Supervisor | None = None,
    ) -> None:
        """``claimant``: who this process is as a call owner, asked at the first claim (an ECS task's
        metadata is read then, not at a Lambda cold start); ``supervisor``: settles stuck calls on read."""
        self.table, self.threshold, self.ttl_seconds = table, threshold, ttl_seconds
        self._ddb, self.claim_checks = client("dynamodb"), ClaimChecks(bucket)
        self.claimant, self.supervisor = claimant, supervisor

    @classmethod
    def from_env(cls, env: ContainerEnv | None = None) -> DynamoDBCallStore:
        """The store of a deployed function: its table and bucket, claims owned by its ECS task (if it
        runs in one), reads supervised against the app's worker state machines."""
        env = env or ContainerEnv.from_environ()
        if not env.calls_table:
            raise RuntimeError(f"{env.name('calls_table')} is not set: the DynamoDB call table name is required on AWS.")
        ttl = DEFAULT_TTL_SECONDS if env.call_ttl_seconds is None else env.call_ttl_seconds
        return cls(env.calls_table, env.payload_bucket, ttl_seconds=ttl, claimant=ecs_task_owner,
                   supervisor=Supervisor(_state_machines(env)))

    # -- CallStore ---------------------------------------------------------------------------

    def create(
        self, call_id: str, app: str, function: str, payload: bytes | None = None, owner: str | None = None
    ) -> CallRecord:
        now = time.time()
        item: dict[str, Any] = {
            "call_id": {"S": call_id}, "app": {"S": app}, "function": {"S": function},
            "status": {"S": CallStatus.PENDING.value}, "created_at": {"N": repr(now)}, "updated_at": {"N": repr(now)},
            "expires_at": {"N": str(int(now) + self.ttl_seconds)}, PENDING_KEY_ATTR: {"S": pending_key(app, function)},
        }
        if owner is not None:
            item["owner"] = {"S": owner}
        if payload is not None:
            item.update(self._blob_attrs("payload", call_id, payload))
        self._ddb.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(call_id)")
        return CallRecord(call_id, app, function, CallStatus.PENDING, now, now, owner)

    def mark_running(self, call_id: str, batched_by: str | None = None, *, attempt: int = 0) -> bool:
        """Claim a PENDING call (``batched_by``: into that call's batch); it leaves the pending index.

        ``attempt``: the Step Functions retry count of the worker claiming it.  A later attempt also
        claims a RUNNING call an earlier attempt claimed (that attempt stopped: Step Functions retries
        only once it has), unless a batch holds it (its leader finishes it)."""
        # if_not_exists: a record the scheduler's state machine wrote has no TTL yet (no epoch clock there)
        update = ("SET #st = :running, updated_at = :now, expires_at = if_not_exists(expires_at, :expires), "
                  "#attempt = :attempt")
        values = {":running": {"S": CallStatus.RUNNING.value}, ":pending": {"S": CallStatus.PENDING.value},
                  ":expires": {"N": str(int(time.time()) + self.ttl_seconds)}, ":attempt": {"N": str(attempt)}}
        names = {"#attempt": ATTEMPT_ATTR}
        if batched_by is not None:
            if not self._note_member(batched_by, call_id):
                return False
            update += f", {BATCHED_BY_ATTR} = :leader"
            values[":leader"] = {"S": batched_by}
        remove = [PENDING_KEY_ATTR]
        update = self._owned(update, values, names, remove, retry=attempt > 0)
        condition = "#st = :pending"
        if attempt > 0:
            condition = (f"({condition} OR (#st = :running AND attribute_not_exists({BATCHED_BY_ATTR}) AND "
                         "(attribute_not_exists(#attempt) OR #attempt < :attempt)))")
        return self._transition(call_id, f"{update} REMOVE {', '.join(remove)}", condition, values, names)

    def _owned(self, update: str, values: dict[str, Any], names: dict[str, str], remove: list[str], *,
               retry: bool) -> str:
        """``update`` naming this process as the claim's owner (an ECS task); a retry without one drops the
        owner the stopped try left (its task no longer speaks for the call)."""
        owner = self.claimant()
        if owner is None:
            if retry:
                remove.append("#owner")
                names["#owner"] = OWNER_ATTR
            return update
        values[":owner"], names["#owner"] = {"S": owner}, OWNER_ATTR  # OWNER is a DynamoDB reserved word
        return update + ", #owner = :owner"

    def _note_member(self, leader: str, member: str) -> bool:
        """Add ``member`` to ``leader``'s batch before claiming it (False: no such leader): a leader that
        stops between the two leaves at worst a name its retry's conditional re-claim passes over."""
        try:
            self._ddb.update_item(
                TableName=self.table, Key={"call_id": {"S": leader}}, UpdateExpression="ADD #members :member",
                ConditionExpression="attribute_exists(call_id)", ExpressionAttributeNames={"#members": BATCH_MEMBERS_ATTR},
                ExpressionAttributeValues={":member": {"SS": [member]}},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def reclaim_batch(self, leader: str) -> list[str]:
        """The calls an earlier try of ``leader``'s worker claimed into its batch and did not finish, claimed
        again by this try (the Step Functions retry whose re-claim of ``leader`` just won: its ``attempt``
        is on the record).  Each re-claim is conditional on the call still RUNNING in this leader's batch
        under an earlier attempt, so a call finished meanwhile, or re-claimed by a later try, stays as it is."""
        item = self._item(leader)
        if item is None:
            return []
        attempt = item.get(ATTEMPT_ATTR, {}).get("N", "0")
        members = sorted(set(item.get(BATCH_MEMBERS_ATTR, {}).get("SS", [])) - {leader})
        return [member for member in members if self._reclaim(member, leader, attempt)]

    def take_back(self, call_id: str, attempt: int = 0) -> bool:
        """Claim ``call_id`` out of a batch whose first call (its leader) has finished without recording it:
        the leader's worker ended for good (its retries spent, its execution stopped or cancelled), and it
        records its batch before itself (`runtime.worker.execute_stored_batch`), so nothing else will.
        The call's own worker (try ``attempt``) then runs it.  Conditional on the call still RUNNING in
        that batch, so of two workers taking it back one wins."""
        leader = self.batched_by(call_id)
        if leader is None:
            return False
        record = self.get(leader)  # supervised: a leader whose execution ended outside its Catch is settled now
        if record is not None and not record.status.finished:
            return False
        values = {":running": {"S": CallStatus.RUNNING.value}, ":leader": {"S": leader},
                  ":attempt": {"N": str(attempt)}}
        names = {"#attempt": ATTEMPT_ATTR, "#leader": BATCHED_BY_ATTR}
        remove = ["#leader"]
        update = self._owned("SET updated_at = :now, #attempt = :attempt", values, names, remove, retry=True)
        return self._transition(call_id, f"{update} REMOVE {', '.join(remove)}", "#st = :running AND #leader = :leader",
                                values, names)

    def _reclaim(self, member: str, leader: str, attempt: str) -> bool:
        values = {":running": {"S": CallStatus.RUNNING.value}, ":leader": {"S": leader}, ":attempt": {"N": attempt}}
        names = {"#attempt": ATTEMPT_ATTR, "#leader": BATCHED_BY_ATTR}
        remove: list[str] = []
        update = self._owned("SET updated_at = :now, #attempt = :attempt", values, names, remove, retry=True)
        condition = ("#st = :running AND #leader = :leader AND "
                     "(attribute_not_exists(#attempt) OR #attempt < :attempt)")
        return self._transition(member, update + (f" REMOVE {', '.join(remove)}" if remove else ""), condition,
                                values, names)

    def pending_calls(self, app: str, function: str, limit: int) -> list[str]:
        """Up to ``limit`` unclaimed calls of ``function``, oldest first (the index is eventually
        consistent: a claim decides).  Empty on a table deployed before the index existed."""
        try:
            response = self._ddb.query(
                TableName=self.table, IndexName=PENDING_INDEX, Limit=limit, ScanIndexForward=True,
                KeyConditionExpression="#pk = :pk", ExpressionAttributeNames={"#pk": PENDING_KEY_ATTR},
                ExpressionAttributeValues={":pk": {"S": pending_key(app, function)}},
            )
        except self._ddb.exceptions.ClientError as exc:
            # no such index (DynamoDB says ValidationException, moto ResourceNotFoundException): batches of one
            if exc.response.get("Error", {}).get("Code") in ("ValidationException", "ResourceNotFoundException"):
                return []
            raise
        return [item["call_id"]["S"] for item in response.get("Items", [])]

    def batched_by(self, call_id: str) -> str | None:
        """The call whose batch claimed ``call_id``, if one did."""
        item = self._item(call_id)
        return None if item is None else item.get(BATCHED_BY_ATTR, {}).get("S")

    def complete(self, call_id: str, status: CallStatus, result: bytes) -> bool:
        if not status.finished:
            raise ValueError(f"complete() needs DONE or FAILED, not {status.value!r}")
        blob = self._blob_attrs("result", call_id, result)
        (name, value), = blob.items()  # "result" is a DynamoDB reserved word: always use a placeholder
        won = self._transition(
            call_id, "SET #st = :status, updated_at = :now, #blob = :blob", "#st IN (:pending, :running)",
            {":status": {"S": status.value}, ":pending": {"S": _UNFINISHED[0]}, ":running": {"S": _UNFINISHED[1]},
             ":blob": value},
            {"#blob": name},
        )
        if not won and "result_ref" in blob:
            self.claim_checks.delete(blob["result_ref"]["S"])  # the loser's upload is nobody's result
        return won

    def get(self, call_id: str) -> CallRecord | None:
        """The call's record; with a supervisor, an unfinished call whose worker is gone comes back
        FAILED with the `WorkerFailedError` that says why (`runtime.callstore.supervision`)."""
        record = self._read(call_id)
        if record is None or self.supervisor is None:
            return record
        if record.status.finished:
            self.supervisor.forget(call_id)
            return record
        if not self.supervisor.due(record):
            return record
        error = self.supervisor.verdict(record)
        if error is None:
            return record
        log.info("call %s: %s", call_id, error.cause)
        try:
            self.complete(call_id, CallStatus.FAILED, serialize_error(error))
        except self._ddb.exceptions.ClientError as exc:  # e.g. a reader allowed GetItem only: it keeps waiting
            log.warning("cannot settle call %s (%s): %s", call_id, exc.response.get("Error", {}).get("Code"), exc)
            return record
        return self._read(call_id)  # whichever write won: the verdict, or a result just before it

    def _read(self, call_id: str) -> CallRecord | None:
        item = self._item(call_id)
        if item is None:
            return None
        if FAILURE_ATTR in item and "result" not in item and "result_ref" not in item:
            return _failed_by_state_machine(call_id, item)
        created = _created_at(item)
        return CallRecord(
            call_id, item["app"]["S"], item["function"]["S"], CallStatus(item["status"]["S"]),
            created, float(item["updated_at"]["N"]) if "updated_at" in item else created,
            item.get("owner", {}).get("S"), self._blob(item, "result"),
        )

    def get_payload(self, call_id: str) -> bytes | None:
        item = self._item(call_id)
        if item is None:
            return None
        payload = self._blob(item, "payload")
        return _NO_ARGUMENTS if payload is None and SCHEDULED_AT_ATTR in item else payload

    # -- internals ---------------------------------------------------------------------------

    def _transition(
        self, call_id: str, update: str, condition: str, values: dict[str, Any], names: dict[str, str] | None = None
    ) -> bool:
        try:
            self._ddb.update_item(
                TableName=self.table, Key={"call_id": {"S": call_id}}, UpdateExpression=update,
                ConditionExpression=f"attribute_exists(call_id) AND {condition}",
                ExpressionAttributeNames={"#st": "status", **(names or {})},
                ExpressionAttributeValues={":now": {"N": repr(time.time())}, **values},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _item(self, call_id: str) -> dict[str, Any] | None:
        # consistent reads: a poller must see a completion as soon as it is acknowledged
        response = self._ddb.get_item(TableName=self.table, Key={"call_id": {"S": call_id}}, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _blob_attrs(self, name: str, call_id: str, data: bytes) -> dict[str, Any]:
        """Inline ``{name: B}`` for small blobs, ``{name_ref: S}`` (an S3 key) for large ones."""
        if len(data) <= self.threshold:
            return {name: {"B": data}}
        return {f"{name}_ref": {"S": self.claim_checks.put(call_id, name, data, self.threshold)}}

    def _blob(self, item: dict[str, Any], name: str) -> bytes | None:
        if name in item:
            return bytes(item[name]["B"])
        ref = item.get(f"{name}_ref", {}).get("S")
        return None if ref is None else self.claim_checks.get(item["call_id"]["S"], name, ref)


def _state_machines(env: ContainerEnv) -> dict[str, str]:
    """Function tag -> worker state machine ARN, from the app's targets (and this function's own)."""
    try:
        targets = json.loads(env.function_targets or "{}")
    except ValueError:
        targets = {}  # runtime.cloud_client.targets_from_env reports it where the targets are used
    machines = {tag: str(t["state_machine_arn"]) for tag, t in targets.items()
                if isinstance(t, dict) and t.get("state_machine_arn")}
    if env.function and env.state_machine_arn:
        machines.setdefault(env.function, env.state_machine_arn)
    return machines


def _failed_by_state_machine(call_id: str, item: dict[str, Any]) -> CallRecord:
    """The FAILED record for a call the state machine marked: its error, serialized like a worker's."""
    error, cause = _caught(item[FAILURE_ATTR]["S"])
    created = _created_at(item)
    updated = float(item["updated_at"]["N"]) if "updated_at" in item else created
    failed_at = _epoch(item.get(FAILURE_TIME_ATTR, {}).get("S")) or updated
    return CallRecord(
        call_id, item["app"]["S"], item["function"]["S"], CallStatus.FAILED,
        created, failed_at, item.get("owner", {}).get("S"),
        serialize(worker_failure(error, cause, call_id)),
    )


def _created_at(item: dict[str, Any]) -> float:
    """Epoch seconds: ``created_at``, or the ISO time of a record the state machine wrote."""
    if "created_at" in item:
        return float(item["created_at"]["N"])
    return _epoch(item.get(SCHEDULED_AT_ATTR, {}).get("S")) or 0.0


def _caught(marker: str) -> tuple[str, str]:
    """``(error, cause)`` from the Catch's JSON; a Lambda's cause is itself JSON with errorMessage."""
    try:
        caught = json.loads(marker)
    except ValueError:
        caught = None
    if not isinstance(caught, dict):
        return "States.Unknown", marker[:_CAUSE_MAX]
    error, cause = str(caught.get("Error") or "States.Unknown"), str(caught.get("Cause") or "")
    try:
        details = json.loads(cause)
    except ValueError:
        details = None
    if isinstance(details, dict) and "errorMessage" in details:
        cause = f"{details.get('errorType', 'Error')}: {details['errorMessage']}"
    return error, cause[:_CAUSE_MAX]


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
