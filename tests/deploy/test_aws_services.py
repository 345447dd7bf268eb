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
    group = "/aws/lambda/hello-main-eu-west-1-square"  # as the deploy names it: toolkit logs reads the plan's name
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


def test_a_changed_secret_restarts_the_ecs_services_that_read_it(fake_pulumi: FakePulumi, moto_endpoint: str,
                                                                  tmp_path: Path) -> None:
    """Finding 16: tasks read secrets at start; a deploy that changes only a secret's value changes no
    resource, so the services using it get a new deployment (and those that do not use it keep theirs)."""
    app = tmp_path / "svc.py"
    app.write_text("import toolkit\napp = toolkit.App('svc')\n\n"
                   "@app.function(backend='ecs', secrets=[toolkit.Secret.from_name('db')])\ndef job():\n    return 1\n\n"
                   "@app.function(backend='ecs')\ndef other():\n    return 2\n")
    secrets, ecs = _client(moto_endpoint, "secretsmanager"), _client(moto_endpoint, "ecs")
    secrets.create_secret(Name="toolkit/secrets/db", SecretString='{"PASSWORD": "one"}')
    stack_secret = secrets.create_secret(Name="toolkit/svc-main/db-x")["ARN"]
    cluster = ecs.create_cluster(clusterName="svc-main")["cluster"]["clusterArn"]
    definitions, services = {}, {}
    for tag in ("job", "other"):
        definitions[tag] = ecs.register_task_definition(family=f"svc-main-{tag}", containerDefinitions=[
            {"name": "worker", "image": f"x@{DIGEST_A}", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
        services[tag] = ecs.create_service(cluster=cluster, serviceName=f"svc-main-{tag}",
                                           taskDefinition=definitions[tag], desiredCount=1)["service"]["serviceArn"]

    def deployment_ids() -> dict[str, str]:
        found = ecs.describe_services(cluster=cluster, services=list(services.values()))["services"]
        return {s["serviceName"].rsplit("-", 1)[1]: s["deployments"][0]["id"] for s in found}

    fake_pulumi.env.update(AWS_ENDPOINT_URL=moto_endpoint)
    fake_pulumi.scenario(outputs={"app": "svc", "secrets": {"db": stack_secret}, "cluster_arn": cluster,
                                  "functions": {t: {"backend": "ecs", "task_definition_arn": a}
                                                for t, a in definitions.items()}})
    images = write_images(tmp_path / "images.json", {"job": DIGEST_A, "other": DIGEST_A})
    before = deployment_ids()
    first = fake_pulumi.run("deploy", str(app), "--images", str(images), "--no-verify")
    assert first.returncode == 0, first.stderr
    after = deployment_ids()
    assert after["job"] != before["job"] and after["other"] == before["other"]
    assert "job: new tasks started to read the changed secret" in first.stderr
    again = fake_pulumi.run("deploy", str(app), "--images", str(images), "--no-verify")
    assert again.returncode == 0, again.stderr
    assert deployment_ids() == after  # same value: nothing restarted
