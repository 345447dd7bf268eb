"""``.map`` against a deployed app spawns its calls concurrently (`runtime.cloud_client.CloudTransport.map`):
from outside AWS each spawn is two round trips (the call's record, its Step Functions execution), and
10,000 inputs one after the other would take 20,000 round trips end to end."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from state_machines import pass_state_machine

from runtime.awsclients import client
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.cloud_client import CloudTransport, FunctionTarget


class RendezvousStore(DynamoDBCallStore):
    """The DynamoDB store on moto, whose first ``creates`` records wait for each other: only spawns in
    flight together get past it (sequential ones break the barrier after its timeout)."""

    def __init__(self, table: str, bucket: str, creates: int) -> None:
        super().__init__(table, bucket)
        self.barrier = threading.Barrier(creates, timeout=20)
        self.lock, self.admitted, self.together = threading.Lock(), 0, 0

    def create(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:  # exactly the first `creates` calls meet at the barrier
            meet = self.admitted < self.barrier.parties
            self.admitted += meet
        if meet:
            self.barrier.wait()  # raises BrokenBarrierError if the others never come
            with self.lock:
                self.together += 1
        return super().create(*args, **kwargs)


def test_map_spawns_its_inputs_concurrently(recorded_executions: Any) -> None:
    machine = pass_state_machine("spawns")
    store = RendezvousStore(recorded_executions.table, recorded_executions.bucket, creates=4)
    transport = CloudTransport("demo", store, {"square": FunctionTarget("square", None, machine)})
    results = transport.map("square", [(x,) for x in range(8)], order_outputs=False)  # spawns happen here
    assert store.together == 4
    executions = client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    assert len(executions) == 8
    del results  # nothing ran them (recorded executions); the spawns are what is under test


def test_a_variant_made_at_run_time_is_refused_naming_the_fix(aws: Any) -> None:
    transport = CloudTransport("demo", DynamoDBCallStore(aws.table), {"embed": FunctionTarget("embed", None, "arn:sm")})
    with pytest.raises(LookupError, match=r"'embed' with these options \('embed~1a2b3c4d'\) is not deployed in app "
                                          r"'demo': a with_options variant is deployed only when it is made at module"):
        transport.spawn("embed~1a2b3c4d", (1,))
    with pytest.raises(LookupError, match=r"No deployed function 'other' in app 'demo' \(callable: embed\)"):
        transport.remote("other", (1,))
