"""A sandbox task's tunnels on AWS: its public IP, and a security group of its own that admits
only the exposed ports, from ``inbound_cidr_allowlist`` (default: anywhere, as the hosted
platform's tunnels are public).

Why a public IP and not a load balancer target: registering a target takes 30-60 s and a
listener rule per sandbox, too slow for sandboxes that live for seconds; a task's public IP is
there as soon as it runs.  The cost: no TLS in front of it, so only ``unencrypted_ports`` are
offered on AWS (`docs/sandboxes.md`).

The group is created before RunTask and tagged with the sandbox; it can only be deleted once the
task's network interface is gone (some seconds after the task stops), so every ``terminate`` and
every ``create`` sweeps the groups of sandboxes that have ended.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Any

from runtime.environment import SANDBOX_TUNNEL_TAG
from toolkit.exception import InvalidError

__all__ = ["TUNNEL_TAG", "check_cidrs", "create_tunnel_group", "public_ip", "sweep_tunnel_groups"]

TUNNEL_TAG = SANDBOX_TUNNEL_TAG  # its value: the app's queue prefix (the control policy's condition)
SANDBOX_TAG = "toolkit:sandbox"
ANYWHERE = ("0.0.0.0/0", "::/0")


def _ec2() -> Any:
    from runtime.awsclients import client

    return client("ec2")


def check_cidrs(cidrs: Sequence[str] | None) -> tuple[str, ...]:
    """``inbound_cidr_allowlist`` as networks; an entry that is not one is named."""
    if not cidrs:
        return ANYWHERE
    checked = []
    for cidr in cidrs:
        try:
            checked.append(str(ipaddress.ip_network(cidr, strict=False)))
        except (TypeError, ValueError):
            raise InvalidError(f"Sandbox inbound_cidr_allowlist entry {cidr!r} is not a CIDR block; write it like "
                               "'203.0.113.0/24' or '2001:db8::/32'.") from None
    return tuple(checked)


def _permissions(ports: Sequence[int], cidrs: Sequence[str]) -> list[dict[str, Any]]:
    v4 = [{"CidrIp": c} for c in cidrs if ":" not in c]
    v6 = [{"CidrIpv6": c} for c in cidrs if ":" in c]
    return [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": v4, "Ipv6Ranges": v6}
            for port in ports]


def create_tunnel_group(*, vpc_id: str, name: str, tag: str, sandbox_id: str, app: str, ports: Sequence[int],
                        cidrs: Sequence[str]) -> str:
    """The sandbox's own group: ingress on its ports from ``cidrs``, nothing else in."""
    ec2 = _ec2()
    group = ec2.create_security_group(
        GroupName=name, VpcId=vpc_id, Description=f"toolkit sandbox {sandbox_id}: its tunnels",
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [
            {"Key": TUNNEL_TAG, "Value": tag}, {"Key": SANDBOX_TAG, "Value": sandbox_id},
            {"Key": "toolkit:app", "Value": app}]}])["GroupId"]
    try:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=_permissions(ports, cidrs))
    except Exception:
        ec2.delete_security_group(GroupId=group)
        raise
    return str(group)


def sweep_tunnel_groups(tag: str, ended: Callable[[str], bool]) -> list[str]:
    """Delete the tunnel groups of ended sandboxes; a group whose interface is still attached
    stays for the next sweep.  Returns the ids deleted."""
    ec2 = _ec2()
    groups = ec2.describe_security_groups(Filters=[{"Name": f"tag:{TUNNEL_TAG}", "Values": [tag]}])["SecurityGroups"]
    deleted = []
    for group in groups:
        tags = {t["Key"]: t["Value"] for t in group.get("Tags", [])}
        if not ended(tags.get(SANDBOX_TAG, "")):
            continue
        try:
            ec2.delete_security_group(GroupId=group["GroupId"])
            deleted.append(group["GroupId"])
        except ec2.exceptions.ClientError as error:  # DependencyViolation: the ENI is not gone yet
            if error.response.get("Error", {}).get("Code") != "DependencyViolation":
                raise
    return deleted


def public_ip(task: dict[str, Any]) -> str | None:
    """The public IPv4 address of a task's network interface (DescribeTasks' attachment), once it has one."""
    ids = [d["value"] for a in task.get("attachments", []) for d in a.get("details", [])
           if d.get("name") == "networkInterfaceId"]
    if not ids:
        return None
    ec2 = _ec2()
    interfaces = ec2.describe_network_interfaces(NetworkInterfaceIds=ids)["NetworkInterfaces"]
    for interface in interfaces:
        address = interface.get("Association", {}).get("PublicIp")
        if address:
            return str(address)
    return None
