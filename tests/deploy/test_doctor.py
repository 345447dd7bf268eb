"""`toolkit doctor` through the real CLI: the FAKE pulumi on PATH, moto server for STS and EC2, and a
Service Quotas stand-in on 127.0.0.1 (moto implements only VPC quotas) reached through botocore's
per-service endpoint variable, as a user would point boto3 at any endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from deploy_helpers import FakePulumi, ServiceQuotasServer, no_pulumi_path

GOOD = {("lambda", "L-B99A9384"): 1000.0, ("ec2", "L-DB2E81BA"): 64.0, ("ec2", "L-3819A6DF"): 64.0}
NEW_ACCOUNT = {("lambda", "L-B99A9384"): 10.0}  # applied; G/VT quotas never raised: the defaults (0) apply
DEFAULTS = {("lambda", "L-B99A9384"): 1000.0, ("ec2", "L-DB2E81BA"): 0.0, ("ec2", "L-3819A6DF"): 0.0}


@pytest.fixture
def quotas() -> Iterator[ServiceQuotasServer]:
    server = ServiceQuotasServer(dict(GOOD), dict(DEFAULTS))
    try:
        yield server
    finally:
        server.close()


def _doctor(fake: FakePulumi, moto: str, quotas: ServiceQuotasServer | None, *args: str) -> Any:
    fake.env.update(AWS_ENDPOINT_URL=moto)
    if quotas is not None:
        fake.env.update(AWS_ENDPOINT_URL_SERVICE_QUOTAS=quotas.url)
    return fake.run("doctor", *args)


def _findings(result: Any) -> dict[str, dict[str, str]]:
    return {f["check"]: f for f in json.loads(result.stdout)}


def test_a_ready_account_passes(fake_pulumi: FakePulumi, moto_endpoint: str, quotas: ServiceQuotasServer) -> None:
    result = _doctor(fake_pulumi, moto_endpoint, quotas, "examples/gpu_job.py", "--json")
    assert result.returncode == 0, result.stderr
    found = _findings(result)
    assert {f["level"] for f in found.values()} == {"ok"}, found
    assert found["Pulumi CLI"]["detail"].startswith("3.190.0")
    assert found["region"]["detail"] == "eu-west-1"
    assert found["credentials"]["detail"].startswith("account 123456789012 as arn:aws:")
    assert found["network"]["detail"].startswith("default VPC vpc-")
    assert found["quota: Lambda concurrent executions"]["detail"] == "1000"
    assert ("GetServiceQuota", {"ServiceCode": "ec2", "QuotaCode": "L-DB2E81BA"}) in quotas.requests
    table = _doctor(fake_pulumi, moto_endpoint, quotas, "examples/gpu_job.py")
    assert table.returncode == 0 and "toolkit doctor" in table.stdout and "Running On-Demand G and VT" in table.stdout


def test_a_new_account_fails_on_its_quotas_with_the_fix(fake_pulumi: FakePulumi, moto_endpoint: str,
                                                        quotas: ServiceQuotasServer) -> None:
    quotas.applied = dict(NEW_ACCOUNT)
    result = _doctor(fake_pulumi, moto_endpoint, quotas, "examples/gpu_job.py", "--json")
    assert result.returncode == 1
    found = _findings(result)
    lam = found["quota: Lambda concurrent executions"]
    assert lam["level"] == "fail" and lam["detail"] == "10 (a first deploy needs 100)" and "L-B99A9384" in lam["fix"]
    on_demand = found["quota: Running On-Demand G and VT instances (vCPUs)"]
    assert on_demand["level"] == "fail" and on_demand["detail"].startswith("0 ") and "L-DB2E81BA" in on_demand["fix"]
    assert found["quota: All G and VT Spot Instance Requests (vCPUs)"]["level"] == "fail"
    assert "Error: 3 check(s) failed; first: quota: Lambda concurrent executions" in result.stderr
    # An app without GPU functions does not need G/VT quotas: they are not even asked for.
    quotas.requests.clear()
    no_gpu = _findings(_doctor(fake_pulumi, moto_endpoint, quotas, "examples/hello.py", "--json"))
    assert not any("G and VT" in check for check in no_gpu)
    assert all(code != "L-DB2E81BA" for _, body in quotas.requests for code in body.values())


def test_without_an_app_gpu_quotas_are_warnings(fake_pulumi: FakePulumi, moto_endpoint: str,
                                                 quotas: ServiceQuotasServer) -> None:
    quotas.applied = {("lambda", "L-B99A9384"): 1000.0}
    result = _doctor(fake_pulumi, moto_endpoint, quotas, "--json")
    assert result.returncode == 0, result.stderr
    assert _findings(result)["quota: All G and VT Spot Instance Requests (vCPUs)"]["level"] == "warn"


def test_unreadable_quotas_are_warnings_that_say_so(fake_pulumi: FakePulumi, moto_endpoint: str) -> None:
    """moto's Service Quotas knows no Lambda quota: the check cannot run, and says so."""
    result = _doctor(fake_pulumi, moto_endpoint, None, "examples/hello.py", "--json")
    assert result.returncode == 0, result.stderr
    lam = _findings(result)["quota: Lambda concurrent executions"]
    assert lam["level"] == "warn" and "could not read lambda L-B99A9384" in lam["detail"]
    assert "servicequotas:GetServiceQuota" in lam["fix"]


def test_no_default_vpc_and_a_configured_one(fake_pulumi: FakePulumi, moto_endpoint: str,
                                             quotas: ServiceQuotasServer) -> None:
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=moto_endpoint, region_name="eu-west-1",
                       aws_access_key_id="AKIAFAKEFAKEFAKE", aws_secret_access_key="fake-secret")
    (default,) = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default["VpcId"]]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=default["VpcId"])
    network = _findings(_doctor(fake_pulumi, moto_endpoint, quotas, "--json"))["network"]
    assert network["level"] == "fail" and "no default VPC" in network["detail"]
    assert "create-default-vpc" in network["fix"] and "TOOLKIT_SUBNET_IDS" in network["fix"]
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    fake_pulumi.env.update(TOOLKIT_VPC_ID=vpc, TOOLKIT_SUBNET_IDS=",".join(subnets))
    assert _findings(_doctor(fake_pulumi, moto_endpoint, quotas, "--json"))["network"] == {
        "check": "network", "level": "ok", "detail": f"configured VPC {vpc} (2 subnets)", "fix": ""}
    fake_pulumi.env.update(TOOLKIT_SUBNET_IDS=f"{subnets[0]},subnet-0nope")
    broken = _findings(_doctor(fake_pulumi, moto_endpoint, quotas, "--json"))["network"]
    assert broken["level"] == "fail" and "subnet-0nope" in broken["detail"]


def test_pulumi_missing_or_too_old(fake_pulumi: FakePulumi, moto_endpoint: str, quotas: ServiceQuotasServer,
                                   tmp_path: Any) -> None:
    fake_pulumi.scenario(version="3.50.0")
    old = _findings(_doctor(fake_pulumi, moto_endpoint, quotas, "--json"))["Pulumi CLI"]
    assert old["level"] == "fail" and "3.50.0" in old["detail"] and "pulumi self update" in old["fix"]
    fake_pulumi.env.update(PATH=":".join(map(str, no_pulumi_path(tmp_path))))
    missing = _findings(_doctor(fake_pulumi, moto_endpoint, quotas, "--json"))["Pulumi CLI"]
    assert missing["level"] == "fail" and "get.pulumi.com" in missing["fix"]


def test_no_credentials_or_region_stop_early_with_the_fix(fake_pulumi: FakePulumi) -> None:
    fake_pulumi.env.pop("AWS_REGION")
    found = _findings(fake_pulumi.run("doctor", "--json"))
    assert found["region"]["level"] == "fail" and "--region" in found["region"]["fix"] and "credentials" not in found
    fake_pulumi.env.update(AWS_REGION="eu-west-1")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        fake_pulumi.env.pop(key)
    result = fake_pulumi.run("doctor")
    error = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1 and error.startswith("Error: 1 check(s) failed; first: credentials")
    assert "aws configure" in error and "Traceback" not in result.stderr
    assert "network" not in result.stdout  # nothing after the credentials was attempted


def test_doctor_is_registered() -> None:
    from toolkit.cli import cli

    assert "doctor" in cli.commands
