"""Deploys that must not break or destroy things (issue 14: findings 7, 8, 16, 19, 20), driven
through the real CLI against the FAKE pulumi, moto server and a LocalStack stand-in, all on
127.0.0.1.  Each test fails on the deploy code as it was before the finding's fix."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from deploy_helpers import (
    COMMUNITY_SERVICES,
    DIGEST_A,
    DIGEST_B,
    EXAMPLES,
    FakePulumi,
    HealthServer,
    RecordingPublisher,
    assert_one_line_error,
    in_process_deployer,
    read_manifest,
    write_images,
)

REPO_URL = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/toolkit/hello-main-eu-west-1"
HELLO_RESOURCES = [["aws:ecr/repository:Repository", "registry-repo"],
                   ["aws:lambda/function:Function", "hello-main-square-lambda-function"],
                   ["aws:lambda/function:Function", "hello-main-countdown-lambda-function"],
                   ["aws:dynamodb/table:Table", "hello-main-calls-table"]]


# -- finding 7: never a registry-only `up` that would delete the stack's resources ------------------


def test_lost_outputs_do_not_turn_a_redeploy_into_a_registry_only_up(fake_pulumi: FakePulumi, monkeypatch: Any) -> None:
    from toolkit.deploy.errors import DeployError

    fake_pulumi.scenario(resources=HELLO_RESOURCES, repository_url=REPO_URL)
    deployer, loaded, publisher = in_process_deployer(fake_pulumi, monkeypatch, EXAMPLES / "hello.py")
    deployer.deploy(loaded)  # first deploy: registry phase, then everything
    qualified = f"organization/{loaded.stack.project}/{loaded.stack.stack}"
    assert fake_pulumi.stack_resources(qualified) == HELLO_RESOURCES
    # An update fails and this CLI drops the stack's outputs; every resource still exists.
    fake_pulumi.scenario(resources=HELLO_RESOURCES, repository_url=REPO_URL, fail={"up": "error: boom"},
                         drop_outputs_on_failure=True)
    with contextlib.suppress(DeployError):
        deployer.deploy(loaded)
    assert fake_pulumi.state()["stacks"][qualified]["outputs"] == {}
    fake_pulumi.scenario(resources=HELLO_RESOURCES, repository_url=REPO_URL)
    fake_pulumi.reset_calls()
    deployer.deploy(loaded)
    assert all(c["toolkit:registryOnly"] == "false" for c in fake_pulumi.config_sets())  # no registry-only phase
    assert fake_pulumi.stack_resources(qualified) == HELLO_RESOURCES  # nothing was deleted
    assert publisher.repositories[-1] == REPO_URL  # the repository came from the state


def test_registry_phase_on_a_stack_with_resources_is_targeted(fake_pulumi: FakePulumi, monkeypatch: Any) -> None:
    """A stack that owns resources but no repository (state edited, repository deleted by hand)."""
    others = HELLO_RESOURCES[1:]
    fake_pulumi.scenario(resources=others, repository_url=REPO_URL)
    from toolkit.deploy.images import PrebuiltImages

    deployer, loaded, _ = in_process_deployer(fake_pulumi, monkeypatch, EXAMPLES / "hello.py")
    # First deploy with prebuilt images: no registry needed, so no registry phase.
    images = write_images(Path(fake_pulumi.dir) / "images.json", {"square": DIGEST_A, "countdown": DIGEST_A})
    deployer.publisher = PrebuiltImages(images)
    deployer.deploy(loaded)
    qualified = f"organization/{loaded.stack.project}/{loaded.stack.stack}"
    assert fake_pulumi.stack_resources(qualified) == others
    state = fake_pulumi.state()  # resources, no repository; outputs lost too
    state["stacks"][qualified]["outputs"] = {}
    (fake_pulumi.dir / "state" / "state.json").write_text(json.dumps(state))
    fake_pulumi.reset_calls()
    deployer.publisher = RecordingPublisher()
    deployer.deploy(loaded)
    ups = [c for c in fake_pulumi.commands() if c[0] == "up"]
    assert "--target" in ups[0] and ups[0][ups[0].index("--target") + 1].endswith(
        "::**aws:ecr/repository:Repository::*")
    assert "--target" not in ups[1]
    assert sorted(fake_pulumi.stack_resources(qualified)) == sorted(others)  # the targeted phase deleted nothing


# -- finding 8: the region is part of the stack ---------------------------------------------------------


def test_each_region_gets_its_own_stack(fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    fake_pulumi.scenario(resources=HELLO_RESOURCES[1:])
    images = write_images(tmp_path / "images.json", {"square": DIGEST_A, "countdown": DIGEST_B})
    assert fake_pulumi.run("deploy", "examples/hello.py", "--images", str(images)).returncode == 0
    moved = fake_pulumi.run("deploy", "examples/hello.py", "--images", str(images), "--region", "us-west-2")
    assert moved.returncode == 0, moved.stderr
    stacks = fake_pulumi.state()["stacks"]
    assert set(stacks) == {"organization/toolkit-hello/main-eu-west-1", "organization/toolkit-hello/main-us-west-2"}
    assert {s["config"]["aws:region"] for s in stacks.values()} == {"eu-west-1", "us-west-2"}
    # Each stack keeps its own resources: the second region did not replace the first one's.
    assert all(s["resources"] == HELLO_RESOURCES[1:] for s in stacks.values())
    # Commands that find a deployment look in the region's stack.
    assert_one_line_error(fake_pulumi.run("url", "examples/hello.py::square", "--region", "us-west-2"),
                          "toolkit-hello/main-us-west-2")


# -- finding 16: named secrets checked before any resource changes ------------------------------------


def test_missing_named_secret_fails_before_pulumi_up(fake_pulumi: FakePulumi, tmp_path: Path, moto_endpoint: str) -> None:
    app = tmp_path / "needs_secret.py"
    app.write_text("import toolkit\napp = toolkit.App('needs-secret')\n\n"
                   "@app.function(secrets=[toolkit.Secret.from_name('db-password'), toolkit.Secret.from_name('api-key')])\n"
                   "def f():\n    return 1\n")
    fake_pulumi.env.update(AWS_ENDPOINT_URL=moto_endpoint)
    images = write_images(tmp_path / "images.json", {"f": DIGEST_A})
    line = assert_one_line_error(fake_pulumi.run("deploy", str(app), "--images", str(images)),
                                 "'api-key'", "'db-password'", "toolkit secret create", "nothing was deployed")
    assert "Secrets Manager" in line
    assert not any(c[0] in ("up", "config") for c in fake_pulumi.commands())  # not even the stack's config
    created = fake_pulumi.run("secret", "create", "db-password", "P=x", "--target", "aws")
    assert created.returncode == 0, created.stderr
    assert_one_line_error(fake_pulumi.run("deploy", str(app), "--images", str(images)), "'api-key'")
    assert fake_pulumi.run("secret", "create", "api-key", "K=y", "--target", "aws").returncode == 0
    deployed = fake_pulumi.run("deploy", str(app), "--images", str(images))
    assert deployed.returncode == 0, deployed.stderr
    assert any(c[0] == "up" for c in fake_pulumi.commands())


# -- finding 19: the manifest travels in a file, not on a command line --------------------------------


def test_a_manifest_over_the_argument_limit_deploys(fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    app = tmp_path / "big.py"
    big = "x" * 200_000  # one argument over Linux's 128 KiB MAX_ARG_STRLEN fails exec with E2BIG
    app.write_text(f"import toolkit\nimage = toolkit.Image.debian_slim().env({{'BIG': {big!r}}})\n"
                   "app = toolkit.App('big', image=image)\n\n@app.function()\ndef f():\n    return 1\n")
    images = write_images(tmp_path / "images.json", {"f": DIGEST_A})
    result = fake_pulumi.run("deploy", str(app), "--images", str(images))
    assert result.returncode == 0, result.stderr
    assert max(len(arg) for argv in fake_pulumi.commands() for arg in argv) < 16_384
    (config,) = fake_pulumi.config_sets()
    assert big in json.dumps(read_manifest(config))


def test_a_changed_app_changes_the_manifest_config(fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    """The config holds a content-named path: an edited app is a changed config, an unchanged one is not."""
    app = tmp_path / "app.py"
    source = "import toolkit\napp = toolkit.App('edited')\n\n@app.function(timeout={})\ndef f():\n    return 1\n"
    images = write_images(tmp_path / "images.json", {"f": DIGEST_A})
    for timeout in (60, 60, 120):
        app.write_text(source.format(timeout))
        assert fake_pulumi.run("deploy", str(app), "--images", str(images)).returncode == 0
    first, same, edited = (c["toolkit:manifest"] for c in fake_pulumi.config_sets())
    assert first == same != edited
    assert read_manifest({"toolkit:manifest": edited})["functions"][0]["resources"]["timeout"] == 120
    assert not Path(first).exists()  # the stale manifest file is gone


# -- finding 20: LocalStack's services are checked, and what is missing is named ----------------------


def test_localstack_community_is_refused_with_the_missing_services(fake_pulumi: FakePulumi, tmp_path: Path,
                                                                    localstack: HealthServer) -> None:
    localstack.edition, localstack.services = "community", COMMUNITY_SERVICES
    fake_pulumi.env.update(LOCALSTACK_ENDPOINT=localstack.url)
    images = write_images(tmp_path / "images.json", {"my_file_server": DIGEST_A})
    line = assert_one_line_error(
        fake_pulumi.run("deploy", "examples/web_server.py", "--target", "localstack", "--images", str(images)),
        "community edition", "ecr (", "ecs (", "elbv2 (my_file_server: web endpoint behind a load balancer)",
        "Nothing was deployed", "docs/deploy.md")
    assert "lambda container images" not in line  # web_server runs on ECS: no Lambda needed
    assert not any(c[0] in ("up", "config") for c in fake_pulumi.commands())
    lambda_app = fake_pulumi.run("deploy", "examples/query_params.py", "--target", "localstack",
                                 "--images", str(write_images(tmp_path / "q.json", {"square": DIGEST_A})))
    assert_one_line_error(lambda_app, "lambda container images (square: runs on Lambda", "apigatewayv2 (")


def test_localstack_that_does_not_answer(fake_pulumi: FakePulumi, tmp_path: Path, localstack: HealthServer) -> None:
    url = localstack.url
    localstack.close()
    fake_pulumi.env.update(LOCALSTACK_ENDPOINT=url)
    images = write_images(tmp_path / "images.json", {"square": DIGEST_A, "countdown": DIGEST_B})
    assert_one_line_error(fake_pulumi.run("deploy", "examples/hello.py", "--target", "localstack", "--images",
                                          str(images)), f"LocalStack is not answering at {url}", "LOCALSTACK_ENDPOINT")


def _pulumi_glob(glob: str) -> Any:
    """Pulumi's --target glob as its engine compiles it (UrnTargets.getMatcher in pulumi/pulumi's
    pkg/resource/deploy): `**` any characters, `*` any but `:`, the rest literal."""
    import re

    segments = ("[^:]*".join(re.escape(part) for part in seg.split("*")) for seg in glob.split("**"))
    return re.compile("^" + ".*".join(segments) + "$")


def test_registry_targets_match_the_repository_and_nothing_that_could_be_deleted() -> None:
    from toolkit.deploy.state import registry_targets

    head = "urn:pulumi:main-eu-west-1::toolkit-hello::"
    targeted = [head + "toolkit:registry:Registry$aws:ecr/repository:Repository::hello-main-eu-west-1-registry-repo",
                head + "toolkit:registry:Registry::hello-main-eu-west-1-registry",
                head + "pulumi:providers:aws::hello-main-eu-west-1-aws"]
    untouched = [head + "toolkit:function:ToolkitFunction$aws:lambda/function:Function::hello-main-square",
                 head + "toolkit:calls:CallStore$aws:dynamodb/table:Table::hello-main-calls",
                 "urn:pulumi:main-us-west-2::toolkit-hello::toolkit:registry:Registry::hello-main-us-west-2-registry"]
    globs = [_pulumi_glob(g) for g in registry_targets("main-eu-west-1", "toolkit-hello")]
    assert all(any(g.match(urn) for g in globs) for urn in targeted)
    assert not any(g.match(urn) for g in globs for urn in untouched)


def test_localstack_needs_follow_the_app() -> None:
    """What the LocalStack check asks for is a pure function of the manifest."""
    from toolkit.deploy.localstack import LAMBDA_IMAGES, needed_services
    from toolkit.loader import load_app
    from toolkit.manifest import build_manifest

    def needs(example: str, **kwargs: Any) -> set[str]:
        return set(needed_services(build_manifest(load_app(str(EXAMPLES / example))), **kwargs))

    base = {"ecr", "iam", "sts", "s3", "dynamodb", "logs", "stepfunctions", "ssm"}  # ssm: the call map
    assert needs("query_params.py") == base | {"lambda", LAMBDA_IMAGES, "apigatewayv2"}
    assert needs("web_server.py") == base | {"ecs", "ec2", "elbv2"}
    assert {"autoscaling", "ssm"} <= needs("gpu_job.py")
    assert {"cloudfront", "route53", "acm"} <= needs("query_params.py", base_domain="apps.example.com")
    assert {"cloudfront", "route53", "acm"}.isdisjoint(needs("query_params.py"))
    assert {"scheduler", "sqs"} <= needs("schedule.py")
