"""``toolkit build app.py``: build (and push) each function's image; print image and digest."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from toolkit.cli.extras import require_aws
from toolkit.cli.options import app_ref_argument, parse_ref


@click.command()
@app_ref_argument
@click.option("--registry", envvar="TOOLKIT_REGISTRY", default=None, metavar="HOST[:PORT]",
              help="Push here instead of your AWS account's ECR (env TOOLKIT_REGISTRY).")
@click.option("--builder", type=click.Choice(["podman", "docker", "codebuild"]), envvar="TOOLKIT_BUILDER",
              default=None, help="Default: podman, else docker, else CodeBuild (env TOOLKIT_BUILDER).")
@click.option("--base-mirror", "mirrors", multiple=True, metavar="FROM=TO",
              help="Redirect base images, e.g. docker.io/library/python=localhost:5000/python "
                   "(repeatable; env TOOLKIT_BASE_MIRRORS, comma-separated).")
@click.option("--ca-bundle", envvar="TOOLKIT_BUILD_CA_BUNDLE", default=None, type=click.Path(dir_okay=False),
              help="CA certificates for RUN steps behind a TLS-intercepting proxy (never stored in the image).")
@click.option("--no-push", is_flag=True, help="Build into the local engine only (for `toolkit serve --containers`).")
@click.option("--region", metavar="REGION",
              help="AWS region of the ECR registry and CodeBuild (default: AWS_REGION, else your AWS profile's).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Show no progress (the result still prints).")
def build(ref: str | None, module: str | None, registry: str | None, builder: str | None, mirrors: tuple[str, ...],
          ca_bundle: str | None, no_push: bool, region: str | None, as_json: bool, quiet: bool) -> None:
    """Build the container images of APP_REF (app.py, app.py::app_name, or -m package.module)."""
    from toolkit import loader
    from toolkit.deploy.images import for_this_deploy
    from toolkit.images import build_images, pick_builder, plan_app
    from toolkit.images import registry as registries
    from toolkit.images.plan import PlanOptions
    from toolkit.images.refs import parse_mirrors
    from toolkit.manifest import build_manifest
    from toolkit.progress import Display

    parsed = parse_ref(ref, module)
    app = loader.load_app(parsed)
    manifest = for_this_deploy(build_manifest(app, source=parsed.source()))  # sandbox images: with TOOLKIT_SANDBOXES
    plans = plan_app(manifest, PlanOptions.from_env(parse_mirrors(",".join(mirrors)), ca_bundle))
    log = Display.choose(quiet=quiet or as_json)  # a live status on a terminal, plain lines elsewhere
    override = None if no_push else registries.from_option(registry)
    if (not no_push and override is None) or (builder or os.environ.get("TOOLKIT_BUILDER")) == "codebuild":
        use_aws_region(region)  # ECR and CodeBuild clients: before either is made
    engine = pick_builder(builder, log=log)
    target = None if no_push else (override or registries.ecr())
    images = build_images(plans, engine, target, log=log)
    _report(images, as_json)


def use_aws_region(region: str | None) -> str:
    """The region AWS clients of this process use: ``--region``, else ``AWS_REGION``, else the profile's.

    botocore reads ``AWS_DEFAULT_REGION`` but not ``AWS_REGION`` (what Lambda and the other SDKs
    set), so the chosen one is written there; no region at all is one line saying how to set it.
    """
    require_aws("Pushing to ECR or building on CodeBuild", ("boto3",))
    from toolkit.deploy.target import resolve_target

    chosen = resolve_target("aws", region).region
    os.environ["AWS_DEFAULT_REGION"] = chosen
    return chosen


def _report(images: list[Any], as_json: bool) -> None:
    from toolkit.images.publish import pinned

    rows = [{"function": fn, "image": image.ref, "digest": image.digest, "built": image.built}
            for image in images for fn in image.functions]
    if as_json:  # "images" is what `toolkit deploy --images FILE` reads
        pins = pinned(images) if all(i.digest and ":" in i.ref for i in images) else {}
        click.echo(json.dumps({"images": pins, "builds": rows}, indent=2, sort_keys=True))
        return
    for row in sorted(rows, key=lambda r: r["function"]):
        state = "built" if row["built"] else "up to date"
        click.echo(f"{row['function']}\t{row['image']}@{row['digest']}\t{state}")
