"""Running containers read their secrets once, at start: after a deploy that changed a secret's
value, the ECS services of the functions that use it are restarted so every task sees it.

The secret's *value* lives outside Pulumi's view (it is copied in after ``pulumi up``, see
aws_secrets.py), so no resource changes and nothing would restart on its own.  An ECS service
gets ``forceNewDeployment``: new tasks start (with the circuit breaker's rollback if they fail)
and the old ones drain, without changing anything Pulumi manages.  Lambda is not forced: its
published version behind the ``live`` alias keeps its warm environments until they are recycled
(minutes to hours), and recycling them would mean publishing a version Pulumi does not know.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["functions_using", "restart_services"]

_DESCRIBE_BATCH = 10  # ecs:DescribeServices takes at most 10 services


def functions_using(manifest: Mapping[str, Any], secrets: Iterable[str]) -> list[str]:
    """Tags of the functions that read any of ``secrets``."""
    from runtime.manifest import load

    changed = set(secrets)
    return [fn.tag for fn in load(manifest).functions if changed & {s.name for s in fn.secrets}]


def _services(client: Any, cluster: str) -> list[dict[str, Any]]:
    arns = [arn for page in client.get_paginator("list_services").paginate(cluster=cluster)
            for arn in page["serviceArns"]]
    found: list[dict[str, Any]] = []
    for start in range(0, len(arns), _DESCRIBE_BATCH):
        found += client.describe_services(cluster=cluster, services=arns[start:start + _DESCRIBE_BATCH])["services"]
    return found


def restart_services(client: Any, cluster: str | None, task_definitions: Mapping[str, str],
                     report: Callable[[str], None]) -> list[str]:
    """Force a new deployment of each service running one of ``task_definitions`` (tag -> ARN);
    returns the tags restarted."""
    if not cluster or not task_definitions:
        return []
    by_definition = {arn: tag for tag, arn in task_definitions.items()}
    restarted: list[str] = []
    for service in _services(client, cluster):
        tag = by_definition.get(service.get("taskDefinition", ""))
        if tag is None:
            continue
        client.update_service(cluster=cluster, service=service["serviceArn"], forceNewDeployment=True)
        restarted.append(tag)
        report(f"{tag}: new tasks started to read the changed secret ({service['serviceName']})")
    return sorted(restarted)
