"""The images an app declares for its sandboxes, so that ``toolkit deploy`` builds them.

On AWS, ``Sandbox.create(image=img)`` runs a task definition planned at deploy time for
``img.spec_hash`` (`toolkit.sandboxes.aws_launch`), and only an image built by the deploy carries
the sandbox agent.  So the image must be known when the manifest is written, long before any
sandbox is created.  The rule (docs/sandboxes.md, "The image"):

- every `toolkit.Image` bound to a **module-level name** of a module that defines the app's
  functions (``image = toolkit.Image.debian_slim().pip_install(...)``, as programs written for the
  hosted platform do), also inside a module-level dict, list or tuple (``IMAGES = {"py": ...}``);
- the app's own image (``App(image=...)``);
- ``Image.debian_slim()``, what ``Sandbox.create()`` without ``image=`` runs (as on the platform and
  locally), so a deployed app's default sandbox is that image too.

Those that no function uses become the manifest's ``sandbox_images``; an image first made inside
a function at run time cannot be known and is refused on AWS with this rule as the fix.
"""

from __future__ import annotations

import ast
import inspect
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from toolkit.image import Image

__all__ = ["declared_images", "default_image", "refers_to_sandboxes", "sandbox_only_images"]


def _images_in(value: Any) -> Iterator[Image]:
    """``value`` itself when it is an Image, else the Images one level inside a dict, list or tuple."""
    if isinstance(value, Image):
        yield value
    elif isinstance(value, dict):
        yield from (v for v in value.values() if isinstance(v, Image))
    elif isinstance(value, (list, tuple)):
        yield from (v for v in value if isinstance(v, Image))


def _module_images(module_names: Iterable[str]) -> Iterator[Image]:
    for name in sorted(set(module_names)):
        module = sys.modules.get(name)
        for value in list(vars(module).values()) if module is not None else ():
            yield from _images_in(value)


def default_image() -> Image:
    """What a sandbox created without ``image=`` runs, everywhere (`toolkit.sandboxes.images.resolve`)."""
    return Image.debian_slim()


def declared_images(app: Any) -> list[Image]:
    """The app's image and the module-level images of its functions' modules, one per spec hash."""
    modules = [f.spec.module for f in app.registered_functions.values() if f.spec.module]
    found: dict[str, Image] = {}
    for image in [app.image, default_image(), *_module_images(modules)]:
        found.setdefault(image.spec_hash, image)
    return [found[key] for key in sorted(found)]


def sandbox_only_images(app: Any, used: Iterable[str]) -> list[dict[str, Any]]:
    """The declared images whose spec hash is not in ``used`` (the functions' images), as manifest JSON."""
    taken = set(used)
    return [image.to_dict() for image in declared_images(app) if image.spec_hash not in taken]


def refers_to_sandboxes(app: Any) -> bool:
    """Whether the source of a module defining the app's functions names ``Sandbox``
    (``modal.Sandbox.create(...)``, ``from toolkit import Sandbox``): then ``toolkit deploy`` plans the
    AWS side of sandboxes without being asked (``TOOLKIT_SANDBOXES=false`` still turns it off).

    Read from the source, not from what ran: a sandbox is created inside a function, long after the
    manifest is written.  A name in a comment or a string does not count."""
    modules = {f.spec.module for f in app.registered_functions.values() if f.spec.module}
    return any(_names_sandbox(sys.modules.get(name)) for name in sorted(modules))


def _names_sandbox(module: Any) -> bool:
    try:
        source = inspect.getsource(module) if module is not None else ""
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):  # no source to read (a built-in, a zip): nothing declared
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "Sandbox":
            return True
        if isinstance(node, ast.Name) and node.id == "Sandbox":
            return True
        if isinstance(node, ast.ImportFrom) and any(alias.name == "Sandbox" for alias in node.names):
            return True
    return False
