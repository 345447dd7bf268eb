"""``toolkit init [DIR]``: a starter app (app.py) and its tests (test_app.py) that serve, run and pass."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

import click

from toolkit.exception import InvalidError

__all__ = ["STARTER_FILES", "init"]

STARTER_FILES = {"app.py": "app.py.tmpl", "test_app.py": "test_app.py.tmpl"}  # written file -> template


@click.command()
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", metavar="NAME", help="The app's name (default: the directory's name).")
def init(directory: Path, name: str | None) -> None:
    """Write a starter app.py (a function, a web endpoint, a local entrypoint) and test_app.py into DIRECTORY."""
    app_name = name or _app_name(directory.resolve().name)
    targets = {directory / written: template for written, template in STARTER_FILES.items()}
    existing = [str(path) for path in targets if path.exists()]
    if existing:
        raise InvalidError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                           "toolkit init never overwrites: pick an empty directory, e.g. toolkit init my-app")
    directory.mkdir(parents=True, exist_ok=True)
    for path, template in targets.items():
        text = resources.files("toolkit.cli").joinpath("templates").joinpath(template).read_text()
        path.write_text(Template(text).substitute(name=app_name))
    app_file = directory / "app.py"
    click.echo(f"Created {app_file} and {directory / 'test_app.py'} (app {app_name!r}). Next:\n"
               f"  toolkit serve {app_file}\n"
               f"  toolkit run {app_file} --x 5\n"
               f"  python -m pytest {directory / 'test_app.py'}")


def _app_name(directory_name: str) -> str:
    """A name URLs accept: lower case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", directory_name.lower()).strip("-") or "my-app"
