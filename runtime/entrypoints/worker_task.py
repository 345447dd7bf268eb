"""``python -m runtime.entrypoints.worker_task``: an ECS worker task runs one stored call, then exits.

A thin main over `runtime.lambda_handler` (the same service the Lambda entrypoint runs), kept out
of the library modules so that none of them imports an entrypoint.
"""

from __future__ import annotations


def main() -> int:
    """``python -m runtime.entrypoints.worker_task``: the ECS worker (Step Functions ``ecs:runTask.sync``).

    Reads the worker task from ``TOOLKIT_WORKER_TASK`` (JSON, as infra/asl.py passes it) and
    runs it through the same service as the Lambda handler; exit 0 once the call is recorded.
    Either way, and on SIGTERM (ECS stopping the task), the environment is shut down before the
    process exits: the ASGI lifespan of a web function, and ``@exit`` hooks of the class instances
    the call built.  SIGTERM mid-call stops the call (it stays unrecorded, as if the task had been
    killed: Step Functions marks it failed) and exits 143, 128 + SIGTERM, as the signal would.
    """
    import json
    import signal
    import sys
    from types import FrameType

    from runtime.environment import ContainerEnv

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the shutdown below must not be cut short
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)  # before the import: it loads the user's code
    try:
        from runtime.lambda_handler import handler

        env = ContainerEnv.from_environ()
        task = json.loads(env.worker_task or "{}")
        if env.worker_attempt and isinstance(task, dict):  # a retried task may take its call back
            task["attempt"] = env.worker_attempt
        reply = handler(task, None)
        print(json.dumps({k: v for k, v in reply.items() if k != "body"} | {"ok": "status" in reply}))
        return 0 if "status" in reply else 1
    finally:
        service = sys.modules.get("runtime.lambda_handler")
        if service is not None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            service.shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
