"""The manifest as the runtime sees it: which function this container serves, and how.

Only the fields the runtime needs are read; docs/manifest.md is the full contract.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from runtime.adapters.base import WebKind, WebSpec

MANIFEST_ENV, FUNCTION_ENV = "TOOLKIT_MANIFEST", "TOOLKIT_FUNCTION"


class DeploymentError(RuntimeError):
    """The container is misconfigured (manifest missing, unknown function): the message names the fix."""


class FunctionEntry(NamedTuple):  # NamedTuples: cheap to define, a cold start pays for each class
    tag: str
    name: str
    kind: str
    timeout: float | None
    raw: dict[str, Any]

    @property
    def is_web(self) -> bool:
        return self.kind in {k.value for k in WebKind}

    @property
    def web(self) -> dict[str, Any]:
        return dict(self.raw.get("web") or {})

    @property
    def web_spec(self) -> WebSpec:
        return WebSpec.from_manifest(self.raw)

    @property
    def is_method(self) -> bool:
        return self.raw.get("cls") is not None


class Deployment(NamedTuple):
    app_name: str
    source: dict[str, Any]
    function: FunctionEntry


def load_deployment(manifest_path: str | None = None, tag: str | None = None) -> Deployment:
    path = manifest_path or os.environ.get(MANIFEST_ENV)
    tag = tag or os.environ.get(FUNCTION_ENV)
    if not path or not tag:
        raise DeploymentError(f"Set {MANIFEST_ENV} (path to manifest.json) and {FUNCTION_ENV} (a function tag).")
    try:
        manifest = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DeploymentError(f"Cannot read the manifest at {path!r}: {exc}") from exc
    return Deployment(manifest["app"]["name"] or "", manifest["app"]["source"], _entry(manifest, tag, path))


def _entry(manifest: dict[str, Any], tag: str, path: str) -> FunctionEntry:
    for fn in manifest.get("functions", []):
        if fn["tag"] == tag:
            timeout = (fn.get("resources") or {}).get("timeout")
            return FunctionEntry(fn["tag"], fn["name"], fn["kind"], timeout, fn)
    known = ", ".join(f["tag"] for f in manifest.get("functions", []))
    raise DeploymentError(f"{FUNCTION_ENV}={tag!r} is not in the manifest at {path!r}; it has: {known}.")
