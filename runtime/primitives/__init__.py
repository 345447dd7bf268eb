"""Dicts and Queues: one byte-level store interface (`base.StateStore`), one implementation per place.

* `sqlite.SQLiteStateStore` -- embedded, one file under ``TOOLKIT_HOME`` shared by every local
  process; blocking queue reads wake on a per-partition FIFO (`wakeup`), not by polling.
* `dynamodb.DynamoDBStateStore` -- the deployed app's state table (values over the item limit
  claim-checked to S3, as the call store does).

`toolkit.dicts` and `toolkit.queues` hold the user-facing API and pickle the values; the stores
see only names, partitions and bytes.
"""
