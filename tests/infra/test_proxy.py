"""toolkit.Proxy on AWS, planned (Pulumi mocks): a function with proxy= runs in private subnets whose
default route goes through a NAT gateway holding the proxy's Elastic IP; functions without it stay out of
the VPC; a Lambda's role gets exactly the ENI actions Lambda needs in a VPC.  Locally: one warning, no
effect.  What stays unverified on AWS is in docs/proxy.md."""

from __future__ import annotations

import json
import warnings
from typing import Any

import botocore.session
import pytest
from infra_mocks import parse_json
from infra_support import run_program, settings_for  # sets Pulumi's mocks before infra is imported

import toolkit
from infra.components.proxy import LAMBDA_VPC_ACTIONS, proxy_subnet_cidrs, vpc_access_policy
from infra.config import ConfigError
from toolkit.manifest import build_manifest
from toolkit.proxy import deployed_lines, planned_lines

# The EC2 actions of AWS's managed policy AWSLambdaVPCAccessExecutionRole, version v3 (edited 2024-01-05):
# what Lambda does with the function's role to attach it to a VPC.
MANAGED_POLICY_EC2_ACTIONS = {"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                              "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                              "ec2:UnassignPrivateIpAddresses"}


def _manifest(*, gpu: bool = False) -> dict[str, Any]:
    app = toolkit.App("proxyapp")
    static = toolkit.Proxy.from_name("partner")

    def plain() -> None: ...

    def egress() -> None: ...

    def batch() -> None: ...

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        app.function()(plain)
        app.function(proxy=static)(egress)
        app.function(proxy=static, backend="ecs", gpu="T4" if gpu else None)(batch)
    return build_manifest(app)


def test_proxy_subnets_are_top_blocks_of_the_vpc_clear_of_default_subnets() -> None:
    assert proxy_subnet_cidrs("172.31.0.0/16", 0) == ["172.31.254.0/24", "172.31.255.0/24"]
    assert proxy_subnet_cidrs("172.31.0.0/16", 1) == ["172.31.252.0/24", "172.31.253.0/24"]
    assert proxy_subnet_cidrs("10.0.0.0/20", 0) == ["10.0.14.0/24", "10.0.15.0/24"]
    with pytest.raises(ValueError, match=r"10.0.0.0/22 is too small.*/21 or larger"):
        proxy_subnet_cidrs("10.0.0.0/22", 0)


def test_the_vpc_grant_is_exactly_what_lambda_needs_and_names_real_ec2_operations() -> None:
    [statement] = vpc_access_policy()["Statement"]
    assert set(statement["Action"]) == MANAGED_POLICY_EC2_ACTIONS and statement["Resource"] == "*"
    operations = set(botocore.session.get_session().get_service_model("ec2").operation_names)
    assert {a.removeprefix("ec2:") for a in LAMBDA_VPC_ACTIONS} <= operations


def test_proxied_functions_egress_through_the_nat_gateway_and_others_stay_out_of_the_vpc() -> None:
    run = run_program(settings_for(_manifest()))
    mocks = run.mocks
    eip = mocks.one("aws:ec2/eip:Eip", "proxy-partner")
    nat = mocks.one("aws:ec2/natGateway:NatGateway", "proxy-partner")
    assert eip.inputs["domain"] == "vpc"
    assert nat.inputs["allocationId"].startswith("eipalloc-") and nat.inputs["subnetId"] == "subnet-a"
    table = mocks.one("aws:ec2/routeTable:RouteTable", "proxy-partner")
    assert table.inputs["routes"] == [{"cidrBlock": "0.0.0.0/0", "natGatewayId": f"{nat.name}-id"}]
    subnets = {f"{s.name}-id": s.inputs for s in mocks.of_type("aws:ec2/subnet:Subnet")}
    assert sorted(s["cidrBlock"] for s in subnets.values()) == ["172.31.254.0/24", "172.31.255.0/24"]
    assert sorted(s["availabilityZone"] for s in subnets.values()) == ["us-east-1a", "us-east-1b"]
    assert not any(s.get("mapPublicIpOnLaunch") for s in subnets.values())
    associations = mocks.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    assert {(a.inputs["subnetId"], a.inputs["routeTableId"]) for a in associations} == \
        {(sid, f"{table.name}-id") for sid in subnets}
    group = mocks.one("aws:ec2/securityGroup:SecurityGroup", "proxy-partner")  # beside the ECS platform's groups
    assert not group.inputs.get("ingress")
    lambdas = {r.name.split("-lambda")[0].rsplit("-", 1)[-1]: r.inputs for r in mocks.of_type("aws:lambda/function:Function")}
    assert set(lambdas["egress"]["vpcConfig"]["subnetIds"]) == set(subnets)
    assert lambdas["egress"]["vpcConfig"]["securityGroupIds"] == [f"{group.name}-id"]
    assert not lambdas["plain"].get("vpcConfig")  # no proxy: no VPC, its default internet path kept
    assert list(run.outputs["proxies"]) == ["partner"] and run.outputs["proxies"]["partner"].startswith("203.0.113.")
    grants = [r for r in mocks.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.endswith("-vpc-access")]
    assert [g.name.split("-vpc-access")[0].rsplit("-", 1)[-1] for g in grants] == ["egress"]
    assert parse_json(grants[0].inputs["policy"]) == vpc_access_policy()


def test_an_ecs_function_with_a_proxy_runs_its_tasks_in_the_private_subnets_without_public_ips() -> None:
    run = run_program(settings_for(_manifest()))
    subnets = {f"{s.name}-id" for s in run.mocks.of_type("aws:ec2/subnet:Subnet")}
    machine = next(r for r in run.mocks.of_type("aws:sfn/stateMachine:StateMachine") if "-batch-" in r.name)
    text = machine.inputs["definition"]
    found = [json.loads(m) for m in _objects_with(text, "AwsvpcConfiguration")]
    assert found and all(set(c["Subnets"]) == subnets and c["AssignPublicIp"] == "DISABLED" for c in found)


def _objects_with(text: str, key: str) -> list[str]:
    """Every JSON value under ``key`` in a state machine definition."""
    out: list[str] = []

    def walk(node: Any) -> None:
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in children:
            if k == key:
                out.append(json.dumps(v))
            walk(v)

    walk(json.loads(text))
    return out


def test_an_ecs_endpoint_with_a_proxy_serves_from_the_private_subnets_behind_the_public_load_balancer() -> None:
    app = toolkit.App("proxyweb")

    def serve() -> None: ...

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        app.function(proxy=toolkit.Proxy.from_name("partner"))(toolkit.web_server(8000)(serve))
    run = run_program(settings_for(build_manifest(app)))
    subnets = {f"{s.name}-id" for s in run.mocks.of_type("aws:ec2/subnet:Subnet")}
    [service] = run.mocks.of_type("aws:ecs/service:Service")
    network = service.inputs["networkConfiguration"]
    assert set(network["subnets"]) == subnets and not network.get("assignPublicIp")
    [balancer] = run.mocks.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert set(balancer.inputs["subnets"]) == {"subnet-a", "subnet-b"}  # the ALB stays in the public subnets


def test_a_gpu_function_with_a_proxy_is_refused_with_the_alternative() -> None:
    with pytest.raises(ConfigError, match=r"'batch' asks for proxy='partner' and gpu='T4'.*CPU function with proxy="):
        run_program(settings_for(_manifest(gpu=True)))


def test_private_task_subnets_without_a_public_one_for_the_nat_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"NAT gateway needs a public subnet.*toolkit:albSubnetIds"):
        run_program(settings_for(_manifest(), subnet_ids=("subnet-p1",), private_subnets=True))


def test_plan_and_deploy_say_where_the_traffic_leaves_from() -> None:
    assert planned_lines(_manifest()) == ["proxy partner: a NAT gateway with a new Elastic IP for batch, egress "
                                          "(its address: `toolkit deploy`)"]
    assert deployed_lines({"partner": "203.0.113.7"}) == ["proxy partner: outbound traffic leaves from 203.0.113.7"]


def test_locally_the_decorator_says_once_that_the_proxy_has_no_effect() -> None:
    app = toolkit.App("proxy-local")
    with pytest.warns(UserWarning, match=r"proxy=toolkit.Proxy\('partner'\).*this machine's own IP") as got:
        app.function(proxy=toolkit.Proxy.from_name("partner"))(lambda: None)
    assert len(got) == 1 and got[0].filename == __file__
    with pytest.raises(toolkit.InvalidError, match=r"Proxy name 'no spaces'"):
        toolkit.Proxy.from_name("no spaces")
