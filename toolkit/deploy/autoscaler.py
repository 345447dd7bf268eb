"""``Function.update_autoscaler()`` on a deployed function: the AWS settings a decorator's
``min_containers``/``max_containers`` became, changed in place until the next ``toolkit deploy``.

Where the bounds live (infra/components/lambda_function.py, infra/components/ecs.py):

* a Lambda function: ``min_containers`` is provisioned concurrency on its ``live`` alias
  (``PutProvisionedConcurrencyConfig``; 0 deletes it), ``max_containers`` its reserved concurrency
  (``PutFunctionConcurrency``);
* an ECS/GPU web service: Application Auto Scaling's min/max capacity of its desired count
  (``RegisterScalableTarget``, at least 1: an ALB cannot wake a service from zero, as at deploy),
  and the desired count moved into the new bounds now (``UpdateService``);
* an ECS/GPU function that is not a web endpoint runs one task per call: nothing to keep warm or cap.

A later ``toolkit deploy`` sets them back to the decorator's values (Pulumi restores what it declared),
as the platform's update_autoscaler lasts until the next deploy.  Resource names follow infra's naming
(`deployed_names`), the Lambda's from the call map's alias ARN where it has one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from toolkit.exception import InvalidError, NotFoundError, NotSupportedError
from toolkit.unsupported import refusal

__all__ = ["LIVE_ALIAS", "Bounds", "DeployedNames", "LambdaScaling", "ServiceScaling", "aws_region",
           "deployed_names", "scaling_for"]

LIVE_ALIAS = "live"  # the alias infra declares on every Lambda function (lambda_function.ALIAS_NAME)
_ECS_DIMENSION = "ecs:service:DesiredCount"


@dataclass(frozen=True)
class Bounds:
    """The bounds now in force on AWS (max None: no limit; min None: a Lambda's, left unchanged)."""

    min_containers: int | None
    max_containers: int | None


@dataclass(frozen=True)
class DeployedNames:
    """The physical names of one deployed function's compute (infra/plan.py, infra/components/ecs.py)."""

    function: str  # the Lambda function, and the ECS service, of the tag
    cluster: str  # the app's ECS cluster: the stack's prefix


def deployed_names(app: str, tag: str, environment: str | None, region: str) -> DeployedNames:
    """infra's names: ``prefix = <app>-<stack>`` (40 chars at most), ``<prefix>-<tag>`` (56)."""
    from infra.naming import physical_name
    from toolkit.deploy.names import stack_name

    stack = stack_name(app, environment, region=region)
    prefix = physical_name(app, stack.stack, max_len=40)  # toolkit deploy's project: no project mark
    return DeployedNames(physical_name(prefix, tag, max_len=56), prefix)


@dataclass(frozen=True)
class LambdaScaling:
    client: Any  # a boto3 Lambda client
    function: str
    alias: str = LIVE_ALIAS

    def apply(self, min_containers: int | None, max_containers: int | None) -> Bounds:
        if max_containers is not None:
            self.client.put_function_concurrency(**self.reserved_request(max_containers))
        if min_containers == 0:
            self._delete_warm()
        elif min_containers is not None:
            self.client.put_provisioned_concurrency_config(**self.provisioned_request(min_containers))
        return self.bounds(min_containers)

    def reserved_request(self, max_containers: int) -> dict[str, Any]:
        """``PutFunctionConcurrency``: at most ``max_containers`` environments run at once."""
        return {"FunctionName": self.function, "ReservedConcurrentExecutions": max_containers}

    def provisioned_request(self, min_containers: int) -> dict[str, Any]:
        """``PutProvisionedConcurrencyConfig`` on the alias callers invoke: ``min_containers`` kept warm."""
        return {"FunctionName": self.function, "Qualifier": self.alias, "ProvisionedConcurrentExecutions": min_containers}

    def bounds(self, min_containers: int | None) -> Bounds:
        """The reserved concurrency read back; ``min_containers`` as set (None: this call left it)."""
        reserved = self.client.get_function_concurrency(FunctionName=self.function).get("ReservedConcurrentExecutions")
        return Bounds(min_containers, reserved)

    def _delete_warm(self) -> None:
        missing = self.client.exceptions.ProvisionedConcurrencyConfigNotFoundException
        with contextlib.suppress(missing):  # none set: 0 warm containers already
            self.client.delete_provisioned_concurrency_config(FunctionName=self.function, Qualifier=self.alias)


@dataclass(frozen=True)
class ServiceScaling:
    ecs: Any  # boto3 clients: ECS and Application Auto Scaling
    autoscaling: Any
    cluster: str
    service: str

    @property
    def resource_id(self) -> str:
        return f"service/{self.cluster}/{self.service}"

    def apply(self, min_containers: int | None, max_containers: int | None) -> Bounds:
        low, high = self._current()
        low = low if min_containers is None else max(min_containers, 1)  # the ALB needs one task
        high = high if max_containers is None else max_containers
        if low > high:
            raise InvalidError(f"update_autoscaler(): ECS service {self.service!r} would get min_containers={low} "
                               f"above max_containers={high}; raise max_containers or lower min_containers.")
        self.autoscaling.register_scalable_target(**self.target_request(low, high))
        desired = self._service()["desiredCount"]
        if not low <= desired <= high:  # Auto Scaling would move it on its next alarm; do it now
            self.ecs.update_service(cluster=self.cluster, service=self.service, desiredCount=min(max(desired, low), high))
        return Bounds(low, high)

    def target_request(self, low: int, high: int) -> dict[str, Any]:
        """``RegisterScalableTarget`` on the service's desired count (updates an existing target)."""
        return {"ServiceNamespace": "ecs", "ResourceId": self.resource_id, "ScalableDimension": _ECS_DIMENSION,
                "MinCapacity": low, "MaxCapacity": high}

    def _service(self) -> dict[str, Any]:
        found = self.ecs.describe_services(cluster=self.cluster, services=[self.service])["services"]
        active = [s for s in found if s.get("status") == "ACTIVE"]
        if not active:
            raise NotFoundError(f"ECS service {self.service!r} is not in cluster {self.cluster!r}; deploy the app "
                                "(`toolkit deploy`), or set TOOLKIT_ENVIRONMENT to the environment it was deployed to.")
        return dict(active[0])

    def _current(self) -> tuple[int, int]:
        targets = self.autoscaling.describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[self.resource_id], ScalableDimension=_ECS_DIMENSION)["ScalableTargets"]
        if targets:
            return int(targets[0]["MinCapacity"]), int(targets[0]["MaxCapacity"])
        desired = int(self._service()["desiredCount"])
        return max(desired, 1), max(desired, 1)


def aws_region() -> str | None:
    """The region boto3 would use (as a lookup finds the app: AWS_REGION, AWS_DEFAULT_REGION, the profile's)."""
    import os

    import boto3

    found: str | None = os.environ.get("AWS_REGION") or boto3.session.Session().region_name
    return found


def scaling_for(tag: str, app: str, lambda_arn: str | None, environment: str | None,
                region: str) -> LambdaScaling | ServiceScaling:
    """Where ``tag``'s bounds live: its Lambda alias, its ECS service, or a refusal naming why none."""
    from runtime.awsclients import client

    if lambda_arn:  # arn:<partition>:lambda:<region>:<account>:function:<name>:<alias>
        parts = lambda_arn.split(":")
        return LambdaScaling(client("lambda", region), parts[6], parts[7] if len(parts) > 7 else LIVE_ALIAS)
    names = deployed_names(app, tag, environment, region)
    ecs = client("ecs", region)
    if _has_service(ecs, names):
        return ServiceScaling(ecs, client("application-autoscaling", region), names.cluster, names.function)
    lam = client("lambda", region)
    try:
        lam.get_function(FunctionName=names.function)
    except lam.exceptions.ResourceNotFoundException:
        raise NotSupportedError(refusal(
            f"{tag}.update_autoscaler() on the deployed app {app!r}", f"{tag!r} has no Lambda function or ECS "
            f"service named {names.function!r} in region {region} (an ECS/GPU function that is not a web endpoint "
            "runs one task per call: it keeps no containers)", "change min_containers/max_containers in the "
            "decorator and run `toolkit deploy` (or set TOOLKIT_ENVIRONMENT to the environment it was deployed to)"
        )) from None
    return LambdaScaling(lam, names.function)


def _has_service(ecs: Any, names: DeployedNames) -> bool:
    try:
        found = ecs.describe_services(cluster=names.cluster, services=[names.function])["services"]
    except ecs.exceptions.ClusterNotFoundException:
        return False
    return any(s.get("status") == "ACTIVE" for s in found)
