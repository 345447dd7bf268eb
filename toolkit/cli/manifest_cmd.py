"""``toolkit manifest``: print an app's manifest as JSON."""

from __future__ import annotations

import click

from toolkit.cli.options import app_ref_argument, parse_ref


@click.command()
@app_ref_argument
@click.option("--env", "environment", default=None, help="Environment name (URL suffix after the workspace).")
@click.option("--ephemeral", is_flag=True, help="Labels as `toolkit serve` gives them (with the dev suffix).")
def manifest(ref: str | None, module: str | None, environment: str | None, ephemeral: bool) -> None:
    """Print the manifest of APP_REF (app.py, app.py::app_name, or -m package.module)."""
    from toolkit import loader
    from toolkit.manifest import build_manifest, dumps

    parsed = parse_ref(ref, module)
    app = loader.load_app(parsed)
    manifest_data = build_manifest(app, ephemeral=ephemeral, environment=environment, source=parsed.source())
    click.echo(dumps(manifest_data), nl=False)
