"""Dev-only: dump the hosted platform client's public surface to test data (never run by CI).

The parity test (tests/core/test_parity.py) checks toolkit against this dump.  Regenerate it when
moving to a newer client, in a throwaway virtual environment so that client never touches toolkit's:

    python3 -m venv /tmp/platform && /tmp/platform/bin/pip install modal==1.6.4
    /tmp/platform/bin/python scripts/dump_platform_surface.py > tests/data/platform_surface.json

What is recorded: every name in the client's ``__all__``, the public members of the classes users
call most, and for each callable its parameter names and kinds (``inspect.signature``; the client's
async wrappers keep their signatures).
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from typing import Any

CLIENT = "modal"
CLASSES = ("App", "Function", "Cls", "FunctionCall", "Image", "Volume", "Dict", "Queue", "Secret", "Sandbox",
           "Retries", "Period", "Cron", "CloudBucketMount")


def parameters(obj: Any) -> list[list[str]] | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [[p.name, p.kind.name] for p in sig.parameters.values() if p.name not in ("self", "cls")]


def kind_of(owner: type, name: str) -> str:
    raw = inspect.getattr_static(owner, name)
    if isinstance(raw, property):
        return "property"
    if isinstance(raw, classmethod):
        return "classmethod"
    if isinstance(raw, staticmethod):
        return "staticmethod"
    # The client's async-capable methods are descriptors: what the class attribute resolves to tells.
    return "method" if callable(raw) or callable(getattr(owner, name, None)) else "attribute"


def member(owner: type, name: str) -> dict[str, Any]:
    kind = kind_of(owner, name)
    entry: dict[str, Any] = {"kind": kind}
    if kind != "property" and kind != "attribute":
        entry["parameters"] = parameters(getattr(owner, name))
    return entry


def top_level(module: Any, name: str) -> dict[str, Any]:
    obj = getattr(module, name)
    if inspect.ismodule(obj):
        return {"kind": "module"}
    if inspect.isclass(obj):
        return {"kind": "class", "parameters": parameters(obj)}
    if callable(obj):
        return {"kind": "function", "parameters": parameters(obj)}
    return {"kind": "attribute"}


def main() -> None:
    module = importlib.import_module(CLIENT)
    surface: dict[str, Any] = {"client": CLIENT, "version": module.__version__, "names": {}, "members": {}}
    for name in sorted(module.__all__):
        surface["names"][name] = top_level(module, name)
    for cls_name in CLASSES:
        owner = getattr(module, cls_name)
        public = sorted(n for n in dir(owner) if not n.startswith("_"))
        surface["members"][cls_name] = {n: member(owner, n) for n in public}
    json.dump(surface, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
