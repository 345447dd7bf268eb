"""Dicts and Queues on AWS: one DynamoDB table per app (the "state table"), S3 for large values.

Layout (hash key ``pk``, range key ``sk``, TTL attribute ``expires_at``)::

    pk                        sk               what
    dict#<name>               #meta            the Dict exists (created_at, ephemeral)
    dict#<name>               k#<sha256(key)>  one entry: key (B), value (B) or value_ref (S3 key), gen
    queue#<name>              #meta            the Queue exists; seq (N): last sequence number handed out;
                                               partitions (SS): every partition ever put to
    queue#<name>#p:<part>     i#<seq:020d>     one item, value or value_ref, expires_at, gen

Deleted objects stay deleted for old handles (`runtime.primitives.base`: generations).  The meta
item's ``created_at`` is the generation; entries and items written through a handle carry it as
``gen``.  A write checks the generation after writing (one consistent read) and takes its write
back if the object was deleted meanwhile; ``delete`` removes the meta item *first*, so a write
either sees the deletion or is removed by it.  A Dict entry write is also conditional on the
entry not belonging to another generation, and a Queue put reserves its sequence numbers only on
the same generation.  Readers skip entries and items of other generations (leftovers of a delete
that stopped half-way), so a Dict created again under an old name starts empty.

Why DynamoDB for Queue, not SQS FIFO:
* ``get(partition=...)`` reads one partition.  SQS cannot receive from one message group, so it
  would need one FIFO queue per partition, created at run time (IAM ``sqs:CreateQueue`` on a
  wildcard, a quota of queues, 60 s to reuse a deleted name).  Here a partition is a key prefix.
* ``len()`` is exact: a consistent COUNT query over the partition at that moment.  SQS only has
  ``ApproximateNumberOfMessages``.
* No visibility timeout: ``get`` deletes the item with a conditional delete, so an item goes to
  exactly one consumer and is gone (as on the platform; there is no "ack").  A consumer that
  crashes after ``get`` loses that item, as it would on the platform.
* Order: items of a partition come out in sequence-number order.  Numbers are handed out by an
  atomic counter when a put starts; two concurrent puts are ordered by that counter, and a reader
  never skips a lower number that is already visible.
* Cost of the choice: a blocking ``get`` polls (consistent query every 50 ms, backing off to 1 s)
  where SQS would long-poll; the 5,000-item partition cap is checked with a count before the put,
  so concurrent producers can overshoot it slightly.
Items carry ``expires_at`` = put time + ``partition_ttl``; reads skip expired items and TTL deletes
them.  Ephemeral objects carry ``expires_at`` on their meta item too (`EPHEMERAL_TTL`), so a crash
cannot leave one behind forever.  Values over `INLINE_LIMIT` go to
``s3://<state bucket>/state/<pk>/value-<uuid>`` (`runtime.callstore.claimcheck`).

Front door (``runtime.FRONT_DOORS``): the SDK imports `DynamoDBStateStore`, where a deployed app's
Dicts and Queues live; `__all__` is what it offers.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from runtime.awsclients import client
from runtime.callstore.claimcheck import ClaimChecks
from runtime.primitives.base import (
    EPHEMERAL_TTL,
    MAX_PARTITION_ITEMS,
    Kind,
    ObjectGoneError,
    ObjectInfo,
    QueueFullError,
    QueueGoneError,
    Waiter,
)

__all__ = ["INLINE_LIMIT", "DynamoDBStateStore", "PollingWaiter"]

INLINE_LIMIT = 350_000  # bytes kept in the item (DynamoDB's limit is 400 KB with the attribute names)
META = "#meta"
_POLL = (0.05, 1.0)
_BATCH = 25  # BatchWriteItem's limit


class StateBucketMissingError(RuntimeError):
    """A value needs a claim-check but no state bucket is configured."""


class PollingWaiter:
    """DynamoDB has no change notification a Lambda can block on: wait with back-off instead."""

    def __init__(self) -> None:
        self.delay = _POLL[0]

    def __enter__(self) -> PollingWaiter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def wait(self, timeout: float) -> None:
        time.sleep(max(0.0, min(timeout, self.delay)))
        self.delay = min(self.delay * 2, _POLL[1])


class DynamoDBStateStore:
    def __init__(self, table: str, bucket: str | None = None) -> None:
        self.table, self.bucket = table, bucket
        self._ddb, self.claims = client("dynamodb"), ClaimChecks(bucket)

    # -- named objects ---------------------------------------------------------------------

    def create(self, kind: Kind, name: str, *, ephemeral: bool = False) -> bool:
        now = time.time()
        item = {"pk": {"S": _object_pk(kind, name)}, "sk": {"S": META}, "created_at": {"N": repr(now)},
                "ephemeral": {"BOOL": ephemeral}}
        if ephemeral:
            item["expires_at"] = {"N": str(int(now + EPHEMERAL_TTL))}
        try:
            self._ddb.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def exists(self, kind: Kind, name: str) -> bool:
        return self._meta(kind, name) is not None

    def generation(self, kind: Kind, name: str) -> float | None:
        meta = self._meta(kind, name)
        return None if meta is None else float(meta["created_at"]["N"])

    def delete(self, kind: Kind, name: str) -> bool:
        meta = self._meta(kind, name)
        if meta is None:
            return False
        try:  # the meta item first: from here on every handle's write sees the deletion
            self._ddb.delete_item(TableName=self.table, Key=_key(_object_pk(kind, name), META),
                                  ConditionExpression="created_at = :gen",
                                  ExpressionAttributeValues={":gen": meta["created_at"]})
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False  # another delete was first (or deleted and created it again)
        if kind is Kind.DICT:
            self._delete_all(_object_pk(kind, name), "k#")
        else:
            for partition in _partitions(meta):
                self._delete_all(_queue_pk(name, partition), "i#")
        return True

    def list_objects(self, kind: Kind) -> list[ObjectInfo]:
        prefix, found = f"{kind.value}#", []
        pages = self._ddb.get_paginator("scan").paginate(
            TableName=self.table, FilterExpression="sk = :meta AND begins_with(pk, :prefix)",
            ExpressionAttributeValues={":meta": {"S": META}, ":prefix": {"S": prefix}}, ConsistentRead=True)
        for page in pages:
            for item in page["Items"]:
                if _live(item):
                    found.append(ObjectInfo(kind, item["pk"]["S"][len(prefix):], float(item["created_at"]["N"]),
                                            item.get("ephemeral", {}).get("BOOL", False)))
        return sorted(found, key=lambda info: info.name)

    # -- dicts -------------------------------------------------------------------------------

    def dict_put(self, name: str, key: bytes, value: bytes, *, skip_if_exists: bool = False,
                 ephemeral: bool = False, generation: float | None = None) -> bool:
        written = self._put_entry(name, key, value, skip_if_exists, ephemeral, generation)
        if written is not None:
            self._confirm(Kind.DICT, name, generation, [written])
        return written is not None

    def dict_get(self, name: str, key: bytes, *, generation: float | None = None) -> bytes | None:
        pk = _object_pk(Kind.DICT, name)
        item = self._ddb.get_item(TableName=self.table, Key=_key(pk, _entry_sk(key)), ConsistentRead=True).get("Item")
        if item is None or not _same(item, generation):
            self._check(Kind.DICT, name, generation)
            return None
        return self._value(item)

    def dict_pop(self, name: str, key: bytes, *, generation: float | None = None) -> bytes | None:
        pk = _object_pk(Kind.DICT, name)
        options: dict[str, Any] = {"ReturnValues": "ALL_OLD"}
        if generation is not None:  # never take an entry of another generation
            options.update(ConditionExpression="#gen = :gen", ExpressionAttributeNames={"#gen": "gen"},
                           ExpressionAttributeValues={":gen": {"N": repr(generation)}})
        try:
            old = self._ddb.delete_item(TableName=self.table, Key=_key(pk, _entry_sk(key)), **options).get("Attributes")
        except self._ddb.exceptions.ConditionalCheckFailedException:
            old = None
        if old is None:
            self._check(Kind.DICT, name, generation)
            return None
        value = self._value(old)
        self._forget(old)
        return value

    def dict_update(self, name: str, items: list[tuple[bytes, bytes]], *, ephemeral: bool = False,
                    generation: float | None = None) -> None:
        # one put each: BatchWriteItem cannot return the replaced values' S3 refs; one check for all
        written = [self._put_entry(name, key, value, False, ephemeral, generation) for key, value in items]
        self._confirm(Kind.DICT, name, generation, [w for w in written if w is not None])

    def dict_len(self, name: str, *, generation: float | None = None) -> int:
        self._check(Kind.DICT, name, generation)
        return self._count(_object_pk(Kind.DICT, name), "k#", generation)

    def dict_items(self, name: str, *, generation: float | None = None) -> Iterator[tuple[bytes, bytes]]:
        self._check(Kind.DICT, name, generation)  # now, not when the caller starts iterating
        return ((bytes(item["key"]["B"]), self._value(item))
                for item in self._query(_object_pk(Kind.DICT, name), "k#") if _same(item, generation))

    def dict_clear(self, name: str, *, generation: float | None = None) -> None:
        self._check(Kind.DICT, name, generation)
        self._delete_all(_object_pk(Kind.DICT, name), "k#")

    # -- queues ------------------------------------------------------------------------------

    def queue_put(self, name: str, partition: str, values: list[bytes], ttl: float, *,
                  generation: float | None = None) -> None:
        pk = _queue_pk(name, partition)
        if self._count(pk, "i#", generation) + len(values) > MAX_PARTITION_ITEMS:
            raise QueueFullError(f"partition holds {MAX_PARTITION_ITEMS} items or would with these")
        last = self._next_seq(name, partition, len(values), generation)
        expires, written = str(int(time.time() + ttl)), []
        for seq, value in zip(range(last - len(values) + 1, last + 1), values, strict=True):
            item = {**_key(pk, f"i#{seq:020d}"), "expires_at": {"N": expires}, **self._value_attrs(pk, value),
                    **_gen_attr(generation)}
            self._ddb.put_item(TableName=self.table, Item=item)
            written.append(item)
        self._confirm(Kind.QUEUE, name, generation, written)

    def queue_take(self, name: str, partition: str, n: int, *, generation: float | None = None) -> list[bytes]:
        pk, taken = _queue_pk(name, partition), list[bytes]()
        while len(taken) < n:
            heads = [item for item in self._query(pk, "i#", limit=n - len(taken)) if _same(item, generation)]
            claimed = [self._claim(item) for item in heads]
            taken += [value for value in claimed if value is not None]
            if not heads:
                break
        if not taken:
            self._check(Kind.QUEUE, name, generation)  # a consumer must not wait on a deleted Queue forever
        return taken

    def queue_peek(self, name: str, partition: str, n: int, *, generation: float | None = None) -> list[bytes]:
        self._check(Kind.QUEUE, name, generation)
        items = self._query(_queue_pk(name, partition), "i#", limit=n)
        return [self._value(item) for item in items if _same(item, generation)]

    def queue_len(self, name: str, partition: str | None, *, generation: float | None = None) -> int:
        meta = self._meta(Kind.QUEUE, name)
        if generation is not None and (meta is None or float(meta["created_at"]["N"]) != generation):
            raise ObjectGoneError(Kind.QUEUE, name)
        parts = [partition] if partition is not None else _partitions(meta or {})
        return sum(self._count(_queue_pk(name, p), "i#", generation) for p in parts)

    def queue_clear(self, name: str, partition: str | None, *, generation: float | None = None) -> None:
        self._check(Kind.QUEUE, name, generation)
        parts = [partition] if partition is not None else _partitions(self._meta(Kind.QUEUE, name) or {})
        for part in parts:
            self._delete_all(_queue_pk(name, part), "i#")

    def queue_waiter(self, name: str, partition: str) -> AbstractContextManager[Waiter]:
        return PollingWaiter()

    # -- internals ---------------------------------------------------------------------------

    def _meta(self, kind: Kind, name: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._ddb.get_item(
            TableName=self.table, Key=_key(_object_pk(kind, name), META), ConsistentRead=True).get("Item")
        return item if item is not None and _live(item) else None

    def _check(self, kind: Kind, name: str, generation: float | None) -> None:
        """`ObjectGoneError` unless the object still has ``generation`` (no check for None)."""
        if generation is not None and self.generation(kind, name) != generation:
            raise ObjectGoneError(kind, name)

    def _confirm(self, kind: Kind, name: str, generation: float | None, written: list[dict[str, Any]]) -> None:
        """After writing: if the object was deleted meanwhile, take back what was written and raise."""
        try:
            self._check(kind, name, generation)
        except ObjectGoneError:
            for item in written:
                self._take_back(item)
            raise

    def _take_back(self, item: dict[str, Any]) -> None:
        """Delete an item this handle wrote (it carries the handle's ``gen``), unless it is gone already
        (the delete that made it stale removed it too) or replaced by another generation's."""
        try:
            self._ddb.delete_item(TableName=self.table, Key=_key(item["pk"]["S"], item["sk"]["S"]),
                                  ConditionExpression="#gen = :gen", ExpressionAttributeNames={"#gen": "gen"},
                                  ExpressionAttributeValues={":gen": item["gen"]})
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return
        self._forget(item)

    def _put_entry(self, name: str, key: bytes, value: bytes, skip_if_exists: bool, ephemeral: bool,
                   generation: float | None) -> dict[str, Any] | None:
        """One Dict entry; None when not written (``skip_if_exists`` and set).  An entry of another
        generation is never overwritten: `ObjectGoneError` (this handle's Dict was deleted)."""
        pk = _object_pk(Kind.DICT, name)
        item = {**_key(pk, _entry_sk(key)), "key": {"B": key}, **self._value_attrs(pk, value), **_gen_attr(generation)}
        if ephemeral:  # expires with its Dict's meta item if the process that owns it never deletes it
            item["expires_at"] = {"N": str(int(time.time() + EPHEMERAL_TTL))}
        options: dict[str, Any] = {"ReturnValues": "ALL_OLD"}
        if skip_if_exists:
            options = {"ConditionExpression": "attribute_not_exists(pk)"}
        elif generation is not None:
            options.update(ConditionExpression="attribute_not_exists(pk) OR #gen = :gen",
                           ExpressionAttributeNames={"#gen": "gen"}, ExpressionAttributeValues={":gen": item["gen"]})
        try:
            old = self._ddb.put_item(TableName=self.table, Item=item, **options).get("Attributes")
        except self._ddb.exceptions.ConditionalCheckFailedException:
            self._forget(item)  # our upload is nobody's value
            if not skip_if_exists:
                raise ObjectGoneError(Kind.DICT, name) from None
            self._check(Kind.DICT, name, generation)
            return None
        self._forget(old)
        return item

    def _next_seq(self, name: str, partition: str, count: int, generation: float | None = None) -> int:
        """Reserve ``count`` sequence numbers; returns the last.  `QueueGoneError` if the Queue was deleted
        (or, given a ``generation``, is another one now)."""
        condition, values = "attribute_exists(pk)", {":n": {"N": str(count)}, ":p": {"SS": [_token(partition)]}}
        if generation is not None:
            condition, values[":gen"] = "created_at = :gen", {"N": repr(generation)}
        try:
            response = self._ddb.update_item(
                TableName=self.table, Key=_key(_object_pk(Kind.QUEUE, name), META),
                UpdateExpression="ADD #seq :n, #parts :p", ConditionExpression=condition,
                ExpressionAttributeNames={"#seq": "seq", "#parts": "partitions"},  # both are reserved words
                ExpressionAttributeValues=values, ReturnValues="UPDATED_NEW")
        except self._ddb.exceptions.ConditionalCheckFailedException:
            raise QueueGoneError(name) from None
        return int(response["Attributes"]["seq"]["N"])

    def _claim(self, item: dict[str, Any]) -> bytes | None:
        """Delete one item if it is still there: whoever deletes it owns it."""
        try:
            self._ddb.delete_item(TableName=self.table, Key=_key(item["pk"]["S"], item["sk"]["S"]),
                                  ConditionExpression="attribute_exists(pk)")
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return None  # another consumer was first
        value = self._value(item)
        self._forget(item)
        return value

    def _query(self, pk: str, prefix: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Live items under ``pk`` whose sort key starts with ``prefix``, in order (up to ``limit``)."""
        found: list[dict[str, Any]] = []
        args: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True, "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":p": {"S": prefix}}}
        while limit is None or len(found) < limit:
            page = self._ddb.query(**args, **({"Limit": limit - len(found)} if limit else {}))
            found += [item for item in page["Items"] if _live(item)]
            if "LastEvaluatedKey" not in page:
                break
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found

    def _count(self, pk: str, prefix: str, generation: float | None = None) -> int:
        live = "(attribute_not_exists(expires_at) OR expires_at > :now)"
        args: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True, "Select": "COUNT",
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)", "FilterExpression": live,
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":p": {"S": prefix}, ":now": {"N": str(int(time.time()))}}}
        if generation is not None:  # leftovers of another generation do not count
            args["FilterExpression"] = f"{live} AND (attribute_not_exists(#gen) OR #gen = :gen)"
            args["ExpressionAttributeNames"] = {"#gen": "gen"}
            args["ExpressionAttributeValues"][":gen"] = {"N": repr(generation)}
        total = 0
        while True:
            page = self._ddb.query(**args)
            total += int(page["Count"])
            if "LastEvaluatedKey" not in page:
                return total
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _delete_all(self, pk: str, prefix: str) -> None:
        items = self._query(pk, prefix)
        for start in range(0, len(items), _BATCH):
            batch = items[start:start + _BATCH]
            requests = [{"DeleteRequest": {"Key": _key(i["pk"]["S"], i["sk"]["S"])}} for i in batch]
            pending: dict[str, Any] = {self.table: requests}
            while pending:
                pending = self._ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            for item in batch:
                self._forget(item)

    def _value_attrs(self, pk: str, value: bytes) -> dict[str, Any]:
        if len(value) <= INLINE_LIMIT:
            return {"value": {"B": value}}
        if self.bucket is None:
            raise StateBucketMissingError(
                f"A value of {len(value):,} bytes is over the {INLINE_LIMIT:,} bytes a state-table item keeps, and "
                "no state bucket is configured for the rest: set TOOLKIT_STATE_BUCKET (toolkit deploy sets it on "
                "every function), or store less, e.g. an S3 key instead of the bytes.")
        return {"value_ref": {"S": self.claims.put(pk, "value", value, INLINE_LIMIT, prefix="state")}}

    def _value(self, item: dict[str, Any]) -> bytes:
        if "value" in item:
            return bytes(item["value"]["B"])
        return self.claims.get(item["pk"]["S"], "value", item["value_ref"]["S"])

    def _forget(self, item: dict[str, Any] | None) -> None:
        """Delete the S3 object of a value that was replaced or removed."""
        if item and "value_ref" in item:
            self.claims.delete(item["value_ref"]["S"])


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _object_pk(kind: Kind, name: str) -> str:
    return f"{kind.value}#{name}"


def _entry_sk(key: bytes) -> str:
    return "k#" + hashlib.sha256(key).hexdigest()  # fixed length: any key fits the 1 KB sort-key limit


def _token(partition: str) -> str:
    return "p:" + partition  # never empty: a string set cannot hold "" (the default partition)


def _queue_pk(name: str, partition: str) -> str:
    return f"queue#{name}#{_token(partition)}"


def _partitions(meta: dict[str, Any]) -> list[str]:
    return [token[2:] for token in meta.get("partitions", {}).get("SS", [])]


def _gen_attr(generation: float | None) -> dict[str, Any]:
    return {} if generation is None else {"gen": {"N": repr(generation)}}


def _same(item: dict[str, Any], generation: float | None) -> bool:
    """False for an entry or item written through a handle of another generation of its object."""
    gen = item.get("gen", {}).get("N")
    return generation is None or gen is None or float(gen) == generation


def _live(item: dict[str, Any]) -> bool:
    """False for an item past its ``expires_at`` that DynamoDB's TTL has not deleted yet (it may lag)."""
    expires = item.get("expires_at", {}).get("N")
    return expires is None or float(expires) > time.time()
