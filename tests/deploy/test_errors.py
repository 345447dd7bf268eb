"""The deploy workflow's errors, for real: each is one line that names the fix, exit 1,
no traceback.  'No CLI' runs with a PATH that has no `pulumi`; 'no credentials' runs with
AWS_* unset and the AWS config and credentials files pointing at empty files; AWS failure
text comes from the FAKE pulumi, replayed the way Pulumi prints provider errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from deploy_helpers import (
    DIGEST_A,
    DIGEST_B,
    FakePulumi,
    HealthServer,
    assert_one_line_error,
    base_env,
    no_pulumi_path,
    run_cli,
    write_images,
)


@pytest.mark.parametrize("command", [
    ["deploy", "examples/hello.py"],
    ["preview", "examples/hello.py"],
    ["destroy", "examples/hello.py", "--yes"],
    ["url", "examples/simple_endpoint.py::f"],
    ["app", "list"],
])
def test_no_pulumi_cli_says_how_to_install_it(command: list[str], tmp_path: Path) -> None:
    env = base_env(tmp_path, no_pulumi_path(tmp_path))
    env.update(AWS_ACCESS_KEY_ID="AKIAFAKE", AWS_SECRET_ACCESS_KEY="x", AWS_REGION="us-east-1")
    assert_one_line_error(run_cli(command, env), "Pulumi CLI", "curl -fsSL https://get.pulumi.com | sh",
                          "https://www.pulumi.com/docs/")


def test_no_credentials(fake_pulumi: FakePulumi) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        fake_pulumi.env.pop(key)
    line = assert_one_line_error(fake_pulumi.run("deploy", "examples/hello.py"), "no AWS credentials",
                                 "aws configure", "AWS_PROFILE")
    assert "localstack" in line
    assert not [c for c in fake_pulumi.commands() if c[0] in ("up", "stack")], "failed before touching any stack"


def test_unknown_profile_is_a_credentials_error(fake_pulumi: FakePulumi) -> None:
    fake_pulumi.env.update(AWS_PROFILE="nobody")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        fake_pulumi.env.pop(key)
    assert_one_line_error(fake_pulumi.run("deploy", "examples/hello.py"), "nobody", "aws configure")


def test_no_region(fake_pulumi: FakePulumi) -> None:
    fake_pulumi.env.pop("AWS_REGION")
    assert_one_line_error(fake_pulumi.run("deploy", "examples/hello.py"), "No AWS region", "--region", "AWS_REGION")


def test_localstack_needs_no_credentials_or_region(fake_pulumi: FakePulumi, tmp_path: Path,
                                                   localstack: HealthServer) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        fake_pulumi.env.pop(key)
    fake_pulumi.env.update(LOCALSTACK_ENDPOINT=localstack.url)
    images = write_images(tmp_path / "images.json", {"square": DIGEST_A, "countdown": DIGEST_B})
    result = fake_pulumi.run("deploy", "examples/hello.py", "--target", "localstack", "--images", str(images))
    assert result.returncode == 0, result.stderr


CAPACITY = """Updating (main):
 +  aws:autoscaling:Group gpu-job-main-run-gpu-asg creating (301s) error: waiting for Auto Scaling Group capacity
error: update failed

  aws:autoscaling:Group (gpu-job-main-run-gpu-asg):
    error: 1 error occurred:
    \t* creating Auto Scaling Group (gpu-job-main-run-gpu-asg): waiting for Auto Scaling Group (gpu-job-main-run-gpu-asg) capacity satisfied: scaling activity (1a2b3c): Failed: We currently do not have sufficient g5.xlarge capacity in the Availability Zone you requested (eu-west-1a). Our system will be working on provisioning additional capacity. Launching EC2 instance failed. Status Reason: InsufficientInstanceCapacity
"""
QUOTA = """error: update failed
  aws:autoscaling:Group (gpu-job-main-run-gpu-asg):
    error: scaling activity (9f): Failed: You have requested more vCPU capacity than your current vCPU limit of 0 allows for the instance bucket that the specified instance type g5.xlarge belongs to. Launching EC2 instance failed. Status Reason: VcpuLimitExceeded
"""
SPOT = """error: update failed
    error: scaling activity (77): Failed: Max spot instance count exceeded. Launching EC2 instance failed.
"""
ZONE = """error: update failed
  aws:route53:Record (text-to-speech-main-tts-front-api-example-com):
    error: reading Route 53 Hosted Zone: no matching Route 53 Hosted Zone found for name "example.com"
"""
GENERIC = """error: update failed
  aws:iam:Role (hello-main-square-identity-role):
    error: creating IAM Role (hello-main-square-identity-role): operation error IAM: CreateRole, https response error StatusCode: 403, AccessDenied: User is not authorized to perform: iam:CreateRole
"""


@pytest.mark.parametrize(("stderr", "needles"), [
    (CAPACITY, ["no GPU capacity", "g5.xlarge", "eu-west-1", "gpu=\"T4\"", "--region"]),
    (QUOTA, ["quota", "g5.xlarge", "Service Quotas", "--region"]),
    (SPOT, ["quota", "Spot", "--region"]),
    (ZONE, ["hosted zone", "'example.com'", "create-hosted-zone", "TOOLKIT_HOSTED_ZONE"]),
    (GENERIC, ["pulumi up failed", "iam:CreateRole"]),
], ids=["capacity", "vcpu-quota", "spot-quota", "hosted-zone", "other"])
def test_aws_failures_during_up_are_explained(stderr: str, needles: list[str], fake_pulumi: FakePulumi,
                                              tmp_path: Path) -> None:
    fake_pulumi.scenario(fail={"up": stderr})
    images = write_images(tmp_path / "images.json", {"describe_device": DIGEST_A, "Embedder.embed": DIGEST_B})
    result = fake_pulumi.run("deploy", "examples/gpu_job.py", "--images", str(images))
    assert_one_line_error(result, *needles)


def test_images_file_must_pin_digests(fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    path = tmp_path / "images.json"
    path.write_text('{"square": "repo:latest", "countdown": "repo:latest"}')
    assert_one_line_error(fake_pulumi.run("deploy", "examples/hello.py", "--images", str(path)), "sha256")


def test_url_of_an_app_never_deployed(fake_pulumi: FakePulumi) -> None:
    assert_one_line_error(fake_pulumi.run("url", "examples/simple_endpoint.py::f"), "no deployment", "toolkit deploy")
