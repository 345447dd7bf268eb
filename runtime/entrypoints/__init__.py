"""Thin mains, one per process kind a container starts besides the Lambda loop and the HTTP server.

* ``python -m runtime.entrypoints.worker_task``: an ECS worker task (one stored call).
* ``python -m runtime.entrypoints.server_host PARAMS``: one ``@web_server`` method instance.

Kept apart so that no library module imports an entrypoint (the layer test forbids cycles).
"""
