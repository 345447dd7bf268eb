"""The sandboxes' network, as a real account would treat it (AWS review, docs/aws-review.md).

Two facts of AWS the planned resources must respect:

* Fargate platform 1.4.0+ pulls a task's image and ships its awslogs through the task's own ENI, so its
  security group must reach ECR (``ecr.api``, ``ecr.dkr``) and S3 (the layers) -- ECS developer guide,
  "Migrating to Linux platform version 1.4.0".  A ``block_network=True`` sandbox may only reach VPC
  endpoints: without ECR's and S3's it never starts (CannotPullContainerError).
* An interface endpoint with private DNS answers its service's name for the whole VPC.  Its security group
  must admit every client of the VPC, or the app's tasks, proxied Lambdas and anything else in a default
  VPC lose SQS, CloudWatch Logs and ECR (a Fargate task with awslogs then fails to start).
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from infra_support import Run, load_fixture, run_program, settings_for

VPC_RANGE = "172.31.0.0/16"  # the mocks' default VPC (tests/infra/infra_mocks.py)
REGION = "us-east-1"


@pytest.fixture(scope="module")
def sandbox_run() -> Run:
    return run_program(settings_for(load_fixture("plain"), sandboxes=True))


def _endpoints(run: Run) -> dict[str, dict[str, Any]]:
    return {r.inputs["serviceName"]: r.inputs for r in run.mocks.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}


def test_a_blocked_sandbox_can_pull_its_image_through_endpoints(sandbox_run: Run) -> None:
    endpoints = _endpoints(sandbox_run)
    for service in ("ecr.api", "ecr.dkr"):
        endpoint = endpoints.get(f"com.amazonaws.{REGION}.{service}")
        assert endpoint is not None, f"no {service} endpoint: a blocked Fargate sandbox cannot pull its image"
        assert endpoint["vpcEndpointType"] == "Interface" and endpoint["privateDnsEnabled"] is True
    s3 = endpoints.get(f"com.amazonaws.{REGION}.s3")
    assert s3 is not None and s3["vpcEndpointType"] == "Gateway", "ECR's layers come from S3: a gateway endpoint"
    rules = {r.name for r in sandbox_run.mocks.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")}
    assert any(name.endswith("-blocked-to-s3") for name in rules), f"the blocked group cannot reach S3: {rules}"


def test_private_dns_endpoints_admit_the_whole_vpc(sandbox_run: Run) -> None:
    group = next(r for r in sandbox_run.mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
                 if r.name.endswith("-endpoints-sg"))
    admitted = {cidr for rule in group.inputs.get("ingress", []) if rule["fromPort"] <= 443 <= rule["toPort"]
                for cidr in rule.get("cidrBlocks", [])}
    assert VPC_RANGE in admitted, (
        f"the endpoints' group admits only blocked sandboxes ({group.inputs.get('ingress')}): private DNS sends "
        "every client of the VPC to these endpoints")


def test_groups_with_standalone_rules_declare_no_inline_rules_of_that_direction(sandbox_run: Run) -> None:
    """The provider treats an inline ``ingress``/``egress`` list, even ``[]``, as the whole set: after a refresh reads
    the standalone rules into it, the next deploy revokes them (pulumi-eks#1031; terraform-provider-aws docs:
    in-line rules and rule resources of one group conflict).  The blocked sandboxes' group then reaches nothing."""
    mocks = sandbox_run.mocks
    standalone = {("egress", r.inputs["securityGroupId"])
                  for r in mocks.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")}
    standalone |= {("ingress", r.inputs["securityGroupId"])
                   for r in mocks.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")}
    assert standalone, "no standalone rules planned: the test checks nothing"
    groups = {f"{r.name}-id": r for r in mocks.of_type("aws:ec2/securityGroup:SecurityGroup")}
    conflicts = [(direction, groups[gid].name) for direction, gid in sorted(standalone)
                 if gid in groups and direction in groups[gid].inputs]
    assert not conflicts, f"inline rules beside standalone ones: {conflicts}"


def test_gateway_endpoints_route_only_the_sandbox_subnets_tables(sandbox_run: Run) -> None:
    """The S3/DynamoDB gateway endpoints go on the route tables of the subnets sandboxes run in (and the main
    table those without an association use), never on every table of the VPC: a proxy's private table would
    then send same-region S3 traffic of ``proxy=`` functions past its Elastic IP."""
    lookups = [args for token, args, _ in sandbox_run.mocks.calls if token == "aws:ec2/getRouteTables:getRouteTables"]
    assert lookups, "the sandboxes planned no route table lookup"
    filters = sorted(f["name"] for args in lookups for f in args.get("filters") or [])
    assert all(args.get("filters") for args in lookups), f"a lookup takes every route table of the VPC: {lookups}"
    assert filters == ["association.main", "association.subnet-id"], filters
    documented = botocore.session.get_session().get_service_model("ec2").operation_model(
        "DescribeRouteTables").input_shape.members["Filters"].documentation
    assert all(f"<code>{name}</code>" in documented for name in filters)  # names EC2 knows
    by_subnet = next(f for args in lookups for f in args["filters"] if f["name"] == "association.subnet-id")
    assert by_subnet["values"] == sandbox_run.outputs["sandboxes"]["subnets"]
