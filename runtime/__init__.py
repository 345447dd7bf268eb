"""What runs inside toolkit's containers; also the contracts and gateway pieces the SDK shares.

Importing this package loads nothing else.  The SDK (``toolkit``) may import only the modules in
`FRONT_DOORS` (tests/core/test_layers.py enforces it); everything else here is the containers'
own business (entrypoints, the Lambda loop, event adapters, the user-app loader) and may change
without notice.

Front doors, by concern:

* contracts: ``errors`` (the base errors users catch), ``manifest`` (the one manifest parser),
  ``schedule`` (Period/Cron rules), ``environment`` (every ``TOOLKIT_*`` variable a
  container reads), ``fargate`` (Fargate's task sizes), ``params`` (class-parameter codec),
  ``serialization``, ``types`` (ASGI types);
* the web gateway serve shares with the containers: ``gateway.middleware``, ``gateway.limits``,
  ``gateway.auth``, ``gateway.budget``, ``gateway.detach``, ``gateway.records``;
* web adapters serve runs in its workers: ``adapters`` (``build_web_app``), ``adapters.base``,
  ``adapters.web_server``, ``adapters.websocket_proxy``;
* stores: ``callstore`` (+ ``.base``, ``.sqlite``), ``primitives.*`` (Dict/Queue), ``volumes.*``;
* calls into a deployed app: ``cloud_client``, ``deployment``, ``awsclients``, ``batching``, ``callmap``;
* class instances built as every worker builds them: ``instances``;
* the platform's container variables (``MODAL_TASK_ID``, ...) every worker sets: ``container_identity``.
"""

FRONT_DOORS: tuple[str, ...] = (
    "runtime",
    "runtime.errors",
    "runtime.manifest",
    "runtime.schedule",
    "runtime.environment",
    "runtime.fargate",
    "runtime.params",
    "runtime.serialization",
    "runtime.types",
    "runtime.gateway.middleware",
    "runtime.gateway.limits",
    "runtime.gateway.auth",
    "runtime.gateway.budget",
    "runtime.gateway.detach",
    "runtime.gateway.records",
    "runtime.adapters",
    "runtime.adapters.base",
    "runtime.adapters.web_server",
    "runtime.adapters.websocket_proxy",
    "runtime.callstore",
    "runtime.callstore.base",
    "runtime.callstore.sqlite",
    "runtime.primitives.base",
    "runtime.primitives.sqlite",
    "runtime.primitives.dynamodb",
    "runtime.volumes.base",
    "runtime.volumes.mounts",
    "runtime.volumes.local",
    "runtime.volumes.s3",
    "runtime.cloud_client",
    "runtime.deployment",
    "runtime.awsclients",
    "runtime.batching",
    "runtime.callmap",
    "runtime.call_context",
    "runtime.container_identity",
    "runtime.instances",
)
