"""``toolkit doctor``: what breaks a first deploy, checked before it starts, each with its fix.

In order, cheapest fix first: the Pulumi CLI and its version, the region, the credentials
(``sts:GetCallerIdentity``: which account and who), the network (the configured VPC and
subnets exist, else the account has a default VPC with subnets: accounts made after 2013
do unless someone deleted it), and the service quotas that stop a first deploy:

* Lambda concurrent executions (``L-B99A9384``): new accounts get 10, too few for toolkit's
  workers and endpoints together (1000 is the usual default);
* for GPU apps, the vCPUs of G and VT instances, on demand (``L-DB2E81BA``) and spot
  (``L-3819A6DF``): 0 on new accounts, so the GPU capacity provider can never start one.

Quotas come from the Service Quotas API.  A check that cannot run (no permission, a region
or emulator without that API) is a warning that says so, never a silent pass.
"""

from __future__ import annotations

import enum
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from toolkit.deploy.errors import CREDENTIALS_HINT, PULUMI_INSTALL_HINT, RegionError
from toolkit.deploy.stack_config import NETWORK_ENV, Network, network
from toolkit.deploy.target import Target, TargetKind, resolve_target

__all__ = ["GPU_QUOTAS", "LAMBDA_CONCURRENCY", "MIN_LAMBDA_CONCURRENCY", "MIN_PULUMI", "Finding", "Level",
           "Quota", "check_quota", "run_doctor"]

MIN_PULUMI = (3, 100, 0)  # the Automation API calls toolkit makes (pyproject: pulumi>=3.100)
MIN_LAMBDA_CONCURRENCY = 100
GPU_MIN_VCPUS = 4  # the smallest GPU instance toolkit picks (g4dn.xlarge, g5.xlarge: 4 vCPUs)


class Level(str, enum.Enum):
    """``OK``: nothing to do.  ``WARN``: a deploy may work, or the check could not run.
    ``FAIL``: a deploy will fail until the fix is applied."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    detail: str
    fix: str = ""

    def row(self) -> tuple[str, str, str, str]:
        return self.check, self.level.value, self.detail, self.fix

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "level": self.level.value, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class Quota:
    service: str
    code: str
    name: str
    minimum: float
    fix: str


LAMBDA_CONCURRENCY = Quota("lambda", "L-B99A9384", "Lambda concurrent executions", MIN_LAMBDA_CONCURRENCY,
                           "request 1000 in Service Quotas (AWS Lambda > Concurrent executions): "
                           "`aws service-quotas request-service-quota-increase --service-code lambda "
                           "--quota-code L-B99A9384 --desired-value 1000`")
GPU_QUOTAS = (
    Quota("ec2", "L-DB2E81BA", "Running On-Demand G and VT instances (vCPUs)", GPU_MIN_VCPUS,
          "request at least 8 vCPUs: `aws service-quotas request-service-quota-increase --service-code ec2 "
          "--quota-code L-DB2E81BA --desired-value 8`"),
    Quota("ec2", "L-3819A6DF", "All G and VT Spot Instance Requests (vCPUs)", GPU_MIN_VCPUS,
          "request at least 8 vCPUs: `aws service-quotas request-service-quota-increase --service-code ec2 "
          "--quota-code L-3819A6DF --desired-value 8`"),
)


# -- Pulumi, region, credentials -----------------------------------------------------------------


def _version(text: str) -> tuple[int, ...] | None:
    found = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(part) for part in found.groups()) if found else None


def check_pulumi(run: Callable[[list[str]], str] | None = None) -> Finding:
    path = shutil.which("pulumi")
    if path is None:
        return Finding("Pulumi CLI", Level.FAIL, "`pulumi` is not on PATH", PULUMI_INSTALL_HINT)
    try:
        output = (run or _run)([path, "version"])
    except (OSError, subprocess.SubprocessError) as exc:
        return Finding("Pulumi CLI", Level.FAIL, f"{path} does not run ({exc})", PULUMI_INSTALL_HINT)
    version = _version(output)
    wanted = ".".join(map(str, MIN_PULUMI))
    if version is None:
        return Finding("Pulumi CLI", Level.WARN, f"{path} printed no version ({output.strip()[:80]!r})",
                       f"make sure it is Pulumi {wanted} or newer")
    shown = ".".join(map(str, version))
    if version < MIN_PULUMI:
        return Finding("Pulumi CLI", Level.FAIL, f"{path} is {shown}; toolkit needs {wanted} or newer",
                       "upgrade: `pulumi self update`, or `curl -fsSL https://get.pulumi.com | sh`")
    return Finding("Pulumi CLI", Level.OK, f"{shown} ({path})")


def _run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    return done.stdout + done.stderr


def check_region(kind: TargetKind, region: str | None) -> tuple[Finding, Target | None]:
    try:
        target = resolve_target(kind, region)
    except RegionError as exc:
        return Finding("region", Level.FAIL, "no region configured", str(exc).split("; ", 1)[-1]), None
    return Finding("region", Level.OK, target.region + (f" (LocalStack at {target.endpoint})" if target.endpoint
                                                         else "")), target


def check_credentials(target: Target) -> Finding:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        identity = target.client("sts").get_caller_identity()
    except ClientError as exc:
        return Finding("credentials", Level.FAIL, f"AWS rejected them: {exc}", CREDENTIALS_HINT)
    except BotoCoreError as exc:  # no credentials, no endpoint
        return Finding("credentials", Level.FAIL, str(exc), CREDENTIALS_HINT)
    return Finding("credentials", Level.OK, f"account {identity['Account']} as {identity['Arn']}")


# -- network -------------------------------------------------------------------------------------


def check_network(target: Target, configured: Network) -> Finding:
    from botocore.exceptions import BotoCoreError, ClientError

    ec2 = target.client("ec2")
    try:
        if configured.configured:
            return _configured_network(ec2, configured)
        return _default_vpc(ec2)
    except (ClientError, BotoCoreError) as exc:
        return Finding("network", Level.WARN, f"could not read VPCs ({exc})",
                       "the deploying user needs ec2:DescribeVpcs and ec2:DescribeSubnets")


def _default_vpc(ec2: Any) -> Finding:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        return Finding("network", Level.FAIL, "this region has no default VPC (ECS services, GPU functions and "
                       "load balancers need one)",
                       f"`aws ec2 create-default-vpc`, or use your VPC: set {NETWORK_ENV['vpc_id']} and "
                       f"{NETWORK_ENV['subnet_ids']} (comma-separated; see docs/deploy.md)")
    vpc_id = vpcs[0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    if not subnets:
        return Finding("network", Level.FAIL, f"the default VPC {vpc_id} has no subnets",
                       "`aws ec2 create-default-subnet --availability-zone <zone>` for two zones")
    return Finding("network", Level.OK, f"default VPC {vpc_id} ({len(subnets)} subnets)")


def _configured_network(ec2: Any, configured: Network) -> Finding:
    wanted = list(dict.fromkeys(configured.subnet_ids + configured.alb_subnet_ids))
    found = {s["SubnetId"]: s for s in ec2.describe_subnets(
        Filters=[{"Name": "subnet-id", "Values": wanted}])["Subnets"]} if wanted else {}
    missing = [s for s in wanted if s not in found]
    if missing:
        return Finding("network", Level.FAIL, f"subnets not found in this region: {', '.join(missing)}",
                       f"fix {NETWORK_ENV['subnet_ids']} / {NETWORK_ENV['alb_subnet_ids']}")
    vpcs = {s["VpcId"] for s in found.values()}
    if configured.vpc_id and vpcs - {configured.vpc_id}:
        return Finding("network", Level.FAIL, f"subnets {', '.join(wanted)} are not all in {configured.vpc_id}",
                       f"set {NETWORK_ENV['vpc_id']} to their VPC ({', '.join(sorted(vpcs))})")
    if not wanted:
        return Finding("network", Level.FAIL, f"{NETWORK_ENV['vpc_id']} is set but no subnets are",
                       f"set {NETWORK_ENV['subnet_ids']} to that VPC's subnets (comma-separated)")
    return Finding("network", Level.OK, f"configured VPC {configured.vpc_id or next(iter(vpcs))} "
                                        f"({len(wanted)} subnets)")


# -- quotas --------------------------------------------------------------------------------------


def check_quota(quota: Quota, value: float | None, *, needed: bool = True, why: str = "") -> Finding:
    """A quota's value against what a first deploy needs (``value`` None: unreadable, ``why`` says why)."""
    label = f"quota: {quota.name}"
    if value is None:
        return Finding(label, Level.WARN, f"could not read {quota.service} {quota.code} ({why})",
                       "check it in the Service Quotas console; the deploying user needs "
                       "servicequotas:GetServiceQuota")
    shown = f"{value:g}"
    if value >= quota.minimum:
        return Finding(label, Level.OK, shown)
    level = Level.FAIL if needed else Level.WARN
    return Finding(label, level, f"{shown} (a first deploy needs {quota.minimum:g})", quota.fix)


def _quota_value(client: Any, quota: Quota) -> tuple[float | None, str]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = client.get_service_quota(ServiceCode=quota.service, QuotaCode=quota.code)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchResourceException",):  # never adjusted: the AWS default applies
            try:
                answer = client.get_aws_default_service_quota(ServiceCode=quota.service, QuotaCode=quota.code)
            except (ClientError, BotoCoreError) as inner:
                return None, str(inner)
        else:
            return None, str(exc)
    except BotoCoreError as exc:
        return None, str(exc)
    return float(answer["Quota"]["Value"]), ""


def check_quotas(target: Target, *, gpu: bool | None) -> list[Finding]:
    """``gpu``: True for an app with GPU functions, False for one without, None with no app given
    (then low GPU quotas are warnings, not failures)."""
    from botocore.config import Config

    # A quota API that answers 5xx (an emulator without it) is reported, not retried for seconds.
    client = target.boto3_session().client("service-quotas", endpoint_url=target.endpoint,
                                           config=Config(retries={"total_max_attempts": 2, "mode": "standard"}))
    quotas = [(LAMBDA_CONCURRENCY, True)]
    if gpu is not False:
        quotas += [(q, bool(gpu)) for q in GPU_QUOTAS]
    findings = []
    for quota, needed in quotas:
        value, why = _quota_value(client, quota)
        findings.append(check_quota(quota, value, needed=needed, why=why))
    return findings


# -- everything ----------------------------------------------------------------------------------


def app_uses_gpu(manifest: Mapping[str, Any] | None) -> bool | None:
    from runtime.manifest import load

    if manifest is None:
        return None
    return any(fn.resources.gpu for fn in load(manifest).functions)


def run_doctor(kind: TargetKind = "aws", region: str | None = None, manifest: Mapping[str, Any] | None = None,
               *, pulumi_runner: Callable[[list[str]], str] | None = None) -> list[Finding]:
    findings = [check_pulumi(pulumi_runner)]
    region_finding, target = check_region(kind, region)
    findings.append(region_finding)
    if target is None:
        return findings
    credentials = check_credentials(target)
    findings.append(credentials)
    if credentials.level is Level.FAIL:
        return findings  # every later check would fail for the same reason
    findings.append(check_network(target, network()))
    findings += check_quotas(target, gpu=app_uses_gpu(manifest))
    return findings
