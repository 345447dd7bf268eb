"""A `toolkit.Proxy` on AWS: a static outbound IP for the functions that ask for it.

One per proxy name of the app: an Elastic IP held by a NAT gateway in one of the app's public subnets,
two private subnets (in two availability zones) whose route table sends ``0.0.0.0/0`` to that NAT
gateway, and a security group that lets out everything and in nothing.  A function with
``proxy=`` runs in those subnets -- a Lambda through its ``vpc_config``, an ECS task through its
network configuration (no public IP) -- so every connection it opens to the internet leaves from
the Elastic IP, which `toolkit deploy` prints for the other side's allowlist.  Functions without
``proxy=`` stay exactly where they were (no VPC for a Lambda): a VPC costs a Lambda its default
internet path, and the NAT gateway costs by the hour and the gigabyte, so only those that ask pay.

The private subnets take the last /24 blocks of the VPC's range (`proxy_subnet_cidrs`), two per
proxy, where a default VPC (172.31.0.0/16, its subnets at the bottom) has room; a VPC whose top
blocks are taken needs another range (not configurable yet: docs/proxy.md).

A Lambda in a VPC creates and deletes its network interfaces with its own role's permissions:
`grant_vpc_access` gives the role exactly the EC2 actions of AWS's managed policy
AWSLambdaVPCAccessExecutionRole (its logs actions the role already has for its own log group).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import child, to_json

__all__ = ["LAMBDA_VPC_ACTIONS", "ProxyEgress", "ProxyEgressArgs", "grant_vpc_access", "proxy_subnet_cidrs",
           "vpc_access_policy"]

# The EC2 actions of the managed policy AWSLambdaVPCAccessExecutionRole (v3): a Lambda's ENIs.
LAMBDA_VPC_ACTIONS = ("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                      "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses")
SUBNETS_PER_PROXY = 2  # two availability zones: Lambda keeps running when one zone has trouble


def proxy_subnet_cidrs(vpc_cidr: str, index: int) -> list[str]:
    """The private subnets of the ``index``-th proxy: /24 blocks counted down from the top of ``vpc_cidr``."""
    network = ipaddress.ip_network(vpc_cidr)
    if network.prefixlen > 24 - 3:
        raise ValueError(f"the VPC's range {vpc_cidr} is too small for proxy subnets (/24 each); use a VPC of /21 "
                         "or larger (toolkit:subnetIds), or leave proxy= unset.")
    top = int(network.broadcast_address) + 1
    first = top - (index + 1) * SUBNETS_PER_PROXY * 256
    return [str(ipaddress.ip_network((first + i * 256, 24))) for i in range(SUBNETS_PER_PROXY)]


def vpc_access_policy() -> dict[str, Any]:
    """What Lambda needs of a function's role to place it in a VPC.  ``Resource: *``: Describe* calls
    cannot be scoped, and the interfaces do not exist before Lambda creates them."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "LambdaVpcNetworkInterfaces", "Effect": "Allow", "Action": list(LAMBDA_VPC_ACTIONS), "Resource": "*"}]}


def grant_vpc_access(parent: pulumi.Resource, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
    return aws.iam.RolePolicy(name, role=role.id, policy=to_json(vpc_access_policy()), opts=child(parent))


def _nth(index: int) -> Callable[[list[str]], str | None]:
    """The ``index``-th item, round-robin (two subnets, maybe one zone); None from an empty list (AWS picks)."""
    return lambda items: items[index % len(items)] if items else None


@dataclass
class ProxyEgressArgs:
    prefix: str  # the app's <app>-<stack>
    proxy: str  # the proxy's name (toolkit.Proxy.from_name)
    index: int  # its place among the app's proxies (sorted by name): which /24 blocks it takes
    vpc_id: pulumi.Input[str]
    vpc_cidr: pulumi.Input[str]
    public_subnet_id: pulumi.Input[str]  # where the NAT gateway sits: a subnet routed to an internet gateway
    availability_zones: pulumi.Input[list[str]] | None = None  # None: AWS picks the subnets' zones


class ProxyEgress(pulumi.ComponentResource):
    """The Elastic IP, its NAT gateway, the private subnets routed through it and their security group."""

    eip: aws.ec2.Eip
    nat_gateway: aws.ec2.NatGateway
    route_table: aws.ec2.RouteTable
    subnets: list[aws.ec2.Subnet]
    security_group: aws.ec2.SecurityGroup
    public_ip: pulumi.Output[str]
    subnet_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: ProxyEgressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:proxy:ProxyEgress", name, None, opts)
        tags = {"toolkit:proxy": args.proxy, "Name": f"{args.prefix}-proxy-{args.proxy}"}
        self.eip = aws.ec2.Eip(f"{name}-ip", domain="vpc", tags=tags, opts=child(self))
        self.nat_gateway = aws.ec2.NatGateway(f"{name}-nat", allocation_id=self.eip.allocation_id,
                                              subnet_id=args.public_subnet_id, tags=tags, opts=child(self))
        self.route_table = aws.ec2.RouteTable(
            f"{name}-routes", vpc_id=args.vpc_id, tags=tags,
            routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": self.nat_gateway.id}], opts=child(self))
        cidrs = pulumi.Output.from_input(args.vpc_cidr).apply(lambda cidr: proxy_subnet_cidrs(cidr, args.index))
        zones = pulumi.Output.from_input(args.availability_zones or [])
        self.subnets = []
        for i in range(SUBNETS_PER_PROXY):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{i}", vpc_id=args.vpc_id, cidr_block=cidrs.apply(_nth(i)),
                availability_zone=zones.apply(_nth(i)),
                map_public_ip_on_launch=False, tags=tags, opts=child(self))
            aws.ec2.RouteTableAssociation(f"{name}-private-{i}-routes", subnet_id=subnet.id,
                                          route_table_id=self.route_table.id, opts=child(self))
            self.subnets.append(subnet)
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", vpc_id=args.vpc_id, description=f"toolkit proxy {args.proxy}: egress only",
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
            tags=tags, opts=child(self))
        self.public_ip = self.eip.public_ip
        self.subnet_ids = pulumi.Output.all(*[s.id for s in self.subnets]).apply(list)
        self.register_outputs({"public_ip": self.public_ip, "subnet_ids": self.subnet_ids})
