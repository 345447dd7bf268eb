"""A producer/consumer pipeline over Queues: two consumers share the work, each job done once.

    toolkit run examples/queue_pipeline.py --jobs 20

A blocking ``get`` sleeps until a put wakes it (locally a per-partition FIFO; on AWS it polls the
app's DynamoDB table), so idle consumers cost nothing.
"""

import time

import toolkit

app = toolkit.App("queue-pipeline")


@app.function()
def produce(jobs: toolkit.Queue, n: int, consumers: int) -> None:
    jobs.put_many([{"id": i, "x": i} for i in range(n)])
    jobs.put_many([None] * consumers)  # one stop sign per consumer


@app.function()
def consume(jobs: toolkit.Queue, results: toolkit.Queue, name: str) -> int:
    done = 0
    while (job := jobs.get(timeout=60)) is not None:
        time.sleep(0.01)  # the work; meanwhile the other consumer takes the next job
        results.put({"id": job["id"], "square": job["x"] ** 2, "by": name})
        done += 1
    return done


@app.local_entrypoint()
def main(jobs: int = 20) -> None:
    with toolkit.Queue.ephemeral() as work, toolkit.Queue.ephemeral() as results:
        consumers = [consume.spawn(work, results, f"consumer-{i}") for i in range(2)]
        produce.remote(work, jobs, len(consumers))
        per_consumer = [c.get(timeout=120) for c in consumers]
        squares = sorted(r["square"] for r in results.get_many(jobs, timeout=10))
        print("jobs per consumer:", per_consumer)
        print("results:", len(squares), "sum of squares:", sum(squares))
        assert sum(per_consumer) == jobs and squares == sorted(i * i for i in range(jobs))
