"""Secrets Manager and CloudWatch Logs for real, against a moto server on loopback (the
suite's AWS emulator, DESIGN §6), reached the way users reach LocalStack: AWS_ENDPOINT_URL.
Stack outputs come from the FAKE pulumi, as in test_orchestration."""

from __future__ import annotations

import json
import time
from pathlib import Path

from deploy_helpers import DIGEST_A, FakePulumi, write_images


def _client(endpoint: str, service: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name="eu-west-1",
                        aws_access_key_id="AKIAFAKEFAKEFAKE", aws_secret_access_key="fake-secret")


def test_secret_create_target_aws_stores_without_printing(fake_pulumi: FakePulumi, moto_endpoint: str) -> None:
    fake_pulumi.env.update(AWS_ENDPOINT_URL=moto_endpoint)
    first = fake_pulumi.run("secret", "create", "my-web-auth-token", "AUTH_TOKEN=s3cr3t-value", "--target", "aws")
    assert first.returncode == 0, first.stderr
    second = fake_pulumi.run("secret", "create", "my-web-auth-token", "AUTH_TOKEN=n3w-value", "--target", "aws")
    assert second.returncode == 0, second.stderr
    for result in (first, second):
        assert "s3cr3t" not in result.stdout + result.stderr and "n3w" not in result.stdout + result.stderr
        assert "AUTH_TOKEN" in result.stdout
    stored = _client(moto_endpoint, "secretsmanager").get_secret_value(SecretId="toolkit/secrets/my-web-auth-token")
    assert json.loads(stored["SecretString"]) == {"AUTH_TOKEN": "n3w-value"}
    assert not (Path(fake_pulumi.env["TOOLKIT_HOME"]) / "secrets").exists()  # the local store was not written


def test_deploy_copies_secret_values_into_the_stack_secrets(fake_pulumi: FakePulumi, moto_endpoint: str,
                                                           tmp_path: Path) -> None:
    client = _client(moto_endpoint, "secretsmanager")
    stack_secret = client.create_secret(Name="toolkit/auth-example-main/my-web-auth-token-x")["ARN"]  # as infra declares
    fake_pulumi.env.update(AWS_ENDPOINT_URL=moto_endpoint)
    fake_pulumi.scenario(outputs={"app": "auth-example", "secrets": {"my-web-auth-token": stack_secret}})
    manifest = json.loads(fake_pulumi.run("manifest", "examples/auth.py").stdout)
    images = write_images(tmp_path / "images.json", {f["tag"]: DIGEST_A for f in manifest["functions"]})
    missing = fake_pulumi.run("deploy", "examples/auth.py", "--images", str(images))
    assert missing.returncode == 1 and "toolkit secret create my-web-auth-token" in missing.stderr
    client.create_secret(Name="toolkit/secrets/my-web-auth-token", SecretString='{"AUTH_TOKEN": "tok-123"}')
    result = fake_pulumi.run("deploy", "examples/auth.py", "--images", str(images), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["secrets_written"] == ["my-web-auth-token"]
    assert json.loads(client.get_secret_value(SecretId=stack_secret)["SecretString"]) == {"AUTH_TOKEN": "tok-123"}
    again = fake_pulumi.run("deploy", "examples/auth.py", "--images", str(images), "--json")
    assert json.loads(again.stdout)["secrets_written"] == []  # same value: no new version
    assert "tok-123" not in result.stdout + result.stderr + again.stdout + again.stderr


def test_logs_prints_the_function_log_group(fake_pulumi: FakePulumi, moto_endpoint: str, tmp_path: Path) -> None:
    logs = _client(moto_endpoint, "logs")
    group = "/aws/lambda/hello-main-square"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="2024/01/01/[$LATEST]abc")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="2024/01/01/[$LATEST]abc", logEvents=[
        {"timestamp": now - 2000, "message": "START RequestId: 1"},
        {"timestamp": now - 1000, "message": "square(7) = 49"},
    ])
    fake_pulumi.env.update(AWS_ENDPOINT_URL=moto_endpoint)
    fake_pulumi.scenario(outputs={"app": "hello", "functions": {"square": {"log_group": group},
                                                                  "countdown": {"log_group": "/aws/lambda/other"}}})
    images = write_images(tmp_path / "images.json", {"square": DIGEST_A, "countdown": DIGEST_A})
    assert fake_pulumi.run("deploy", "examples/hello.py", "--images", str(images)).returncode == 0
    result = fake_pulumi.run("logs", "examples/hello.py::square")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == ["START RequestId: 1", "square(7) = 49"]
    assert all("[$LATEST]abc" in line for line in lines)


def test_log_tail_follow_prints_each_event_once(moto_endpoint: str) -> None:
    from toolkit.deploy.logs import LogTail

    logs = _client(moto_endpoint, "logs")
    group, stream = "/toolkit/follow-test", "s1"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": now, "message": "one"}])
    printed: list[str] = []
    rounds = iter(range(3))

    def keep_going() -> bool:
        step = next(rounds, None)
        if step == 1:  # a new event arrives between polls, with the same millisecond as the last
            logs.put_log_events(logGroupName=group, logStreamName=stream,
                                logEvents=[{"timestamp": now, "message": "two"}])
        return step is not None

    LogTail(logs, group, now - 60_000).follow(printed.append, interval=0.01, keep_going=keep_going)
    assert [line.rsplit(" ", 1)[-1] for line in printed] == ["one", "two"]
