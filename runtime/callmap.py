"""The call map: what a process outside AWS needs to call a deployed app, stored where it can read it.

``toolkit deploy`` writes it (infra/components/call_map.py) as one SSM parameter per stack, at a
name any process can derive from the app's name, environment and region (`parameter_name`):
``/toolkit/<project>/<stack>/call-map``.  ``Function.from_name``, ``Cls.from_name`` and
``App.lookup`` read it with one ``ssm:GetParameter`` (toolkit/deployed_apps.py) and then call the
functions exactly as a deployed function calls its app's others (`runtime.cloud_client`): the
Lambda alias or the Step Functions worker, through the app's DynamoDB call table and payload
bucket.  Neither the Pulumi CLI, the stack's state nor the user's source is needed.

The document (JSON, compact; past SSM's 4 KB Standard tier, zlib-compressed and base64-encoded
behind the ``zlib+b64:`` prefix, so that large apps fit the 8 KB Advanced tier)::

    {"version": 1, "app": "demo", "region": "eu-west-1",
     "calls_table": "...", "payload_bucket": "...",
     "functions": {"<tag>": {"kind": "function", "lambda_arn": "...|null", "state_machine_arn": "...|null",
                             "url": "...|null", "generator": false, "cls": "<class>|null",
                             "log_group": "...|null", "options": {"cpu": 1.0, "memory": 2048, ...}|null}},
     "classes": {"<class>": {"parameters": [["size", "int", 3]]}}}

Stdlib only: infra imports it to write the document, the SDK to read it.

Front door (``runtime.FRONT_DOORS``): the SDK imports `CallMap`: how the SDK outside AWS finds a
deployed app's functions; `__all__` is what it offers.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["CALL_MAP_VERSION", "CallMap", "CallMapError", "MappedFunction", "deployed_options", "parameter_name"]

CALL_MAP_VERSION = 1
# SSM's value limits (botocore's PutParameter model says so; a test reads it there): Standard 4 KB,
# Advanced 8 KB.  A document past the first is stored compressed, which keeps a few hundred
# functions within the second (about 35 bytes each once their ARNs, which share prefixes, compress:
# tests/runtime/test_callmap_size.py measured 150 functions in 5 KB).
STANDARD_BYTES, ADVANCED_BYTES = 4096, 8192
COMPRESSED = "zlib+b64:"  # the prefix of a compressed document; JSON never starts with it
UNPACKED_LIMIT = 1024 * 1024  # what a compressed value may inflate to (a corrupt or hostile one stops here)


class CallMapError(ValueError):
    """A call map that cannot be used: the message names the parameter and the fix."""


def parameter_name(project: str, stack: str) -> str:
    """The SSM parameter of one stack's call map (SSM names allow ``a-zA-Z0-9_.-/``; project and
    stack are already slugs: toolkit/deploy/names.py)."""
    return f"/toolkit/{project}/{stack}/call-map"


class MappedFunction(NamedTuple):
    tag: str
    kind: str = "function"  # the manifest's kind: "function", "fastapi_endpoint", ...
    lambda_arn: str | None = None  # the `live` alias `.remote()` invokes; None: spawn and wait
    state_machine_arn: str | None = None  # its Step Functions worker (`.spawn()`, `.map()`)
    url: str | None = None  # a web endpoint's deployed URL
    generator: bool = False
    cls: str | None = None  # the ``@app.cls`` class of a method (tag ``Cls.method``)
    # its CloudWatch log group (``fn.logs``); None in maps written before the field existed: redeploy
    log_group: str | None = None
    # the options it was deployed with (`deployed_options`): a looked-up handle's ``with_options`` finds
    # the deployed variant from them (toolkit/variants.py); None in maps written before: redeploy
    options: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "lambda_arn": self.lambda_arn, "state_machine_arn": self.state_machine_arn,
                "url": self.url, "generator": self.generator, "cls": self.cls, "log_group": self.log_group,
                "options": None if self.options is None else _compact(self.options)}


class CallMap(NamedTuple):
    app: str
    region: str
    calls_table: str
    payload_bucket: str | None
    functions: Mapping[str, MappedFunction]
    classes: Mapping[str, tuple[tuple[str, str, Any], ...]] = {}  # class -> (name, type name, default)

    def dumps(self) -> str:
        """The parameter's value: the JSON itself while it fits SSM's Standard tier, else compressed.
        CallMapError when even that is past the Advanced tier's 8 KB (naming the count and the fix)."""
        text = self.document()
        if len(text.encode()) <= STANDARD_BYTES:
            return text
        packed = COMPRESSED + base64.b64encode(zlib.compress(text.encode(), 9)).decode("ascii")
        if len(packed) > ADVANCED_BYTES:
            raise CallMapError(
                f"the call map of app {self.app!r} ({len(self.functions)} functions) is {len(packed)} bytes "
                f"compressed, past SSM's {ADVANCED_BYTES}-byte limit for one parameter; split the app into "
                "several apps (each deploys its own call map).")
        return packed

    def document(self) -> str:
        """The call map as compact JSON (what `loads` reads back, compressed or not)."""
        return json.dumps({
            "version": CALL_MAP_VERSION, "app": self.app, "region": self.region, "calls_table": self.calls_table,
            "payload_bucket": self.payload_bucket,
            "functions": {tag: f.to_json() for tag, f in sorted(self.functions.items())},
            "classes": {name: {"parameters": [_parameter_json(p) for p in params]}
                        for name, params in sorted(self.classes.items())},
        }, separators=(",", ":"), sort_keys=True)

    @staticmethod
    def loads(text: str, where: str) -> CallMap:
        """Parse the document read from ``where`` (the parameter's name, for the error)."""
        try:
            raw = json.loads(_unpacked(text))
            if raw.get("version") != CALL_MAP_VERSION:
                raise CallMapError(f"{where} is call map version {raw.get('version')!r}; this toolkit reads "
                                   f"version {CALL_MAP_VERSION}: upgrade toolkit, or redeploy the app with this one.")
            functions = {tag: _function(tag, f) for tag, f in dict(raw["functions"]).items()}
            classes = {name: tuple(_parameter(p) for p in c["parameters"])
                       for name, c in dict(raw.get("classes") or {}).items()}
            return CallMap(str(raw["app"]), str(raw["region"]), str(raw["calls_table"]),
                           raw.get("payload_bucket") or None, functions, classes)
        except CallMapError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, zlib.error) as exc:
            raise CallMapError(f"{where} is not a toolkit call map ({type(exc).__name__}: {exc}); "
                               "redeploy the app (`toolkit deploy`) to rewrite it.") from None


def _unpacked(text: str) -> str:
    if not text.startswith(COMPRESSED):
        return text
    packed = text[len(COMPRESSED):]
    if not re.fullmatch(r"[A-Za-z0-9+/=]*", packed):
        raise ValueError("the compressed document is not base64")
    inflate = zlib.decompressobj()
    document = inflate.decompress(base64.b64decode(packed), UNPACKED_LIMIT)
    if inflate.unconsumed_tail or not inflate.eof:
        raise ValueError(f"the compressed document is cut off, or inflates past {UNPACKED_LIMIT} bytes")
    return document.decode()


def _function(tag: str, raw: Mapping[str, Any]) -> MappedFunction:
    return MappedFunction(tag, str(raw.get("kind") or "function"), raw.get("lambda_arn") or None,
                          raw.get("state_machine_arn") or None, raw.get("url") or None,
                          bool(raw.get("generator")), raw.get("cls") or None, raw.get("log_group") or None,
                          _options(raw.get("options")))


# what `deployed_options` gives a function declared with no options: left out of the document, which
# SSM caps at 8 KB, and filled back in when it is read
_UNSET_OPTIONS: dict[str, Any] = {
    "cpu": None, "memory": None, "gpu": None, "timeout": 300, "min_containers": 0, "max_containers": None,
    "buffer_containers": 0, "scaledown_window": 60, "max_inputs": 1, "target_inputs": None, "backend": "lambda",
    "retries": None, "secrets": [], "volumes": [], "bucket_mounts": [],
}


def _compact(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in _UNSET_OPTIONS or _UNSET_OPTIONS[k] != v}


def _options(raw: Any) -> Mapping[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise TypeError(f"a function's options are an object, not {raw!r}")
    return {**_UNSET_OPTIONS, **raw}


def deployed_options(entry: Any) -> dict[str, Any]:
    """The options a manifest function entry (`runtime.manifest.FunctionEntry`) deploys with, as plain
    JSON values: the same keys and forms as `toolkit.variants.deployed_options` gives for the handle it
    came from (a test holds the two together), so a process that looked the app up computes the same
    variant tag from ``fn.with_options(...)`` as the app's own import did.  ``batch`` and ``regions`` are
    not in the manifest: a looked-up handle takes them as unset."""
    res, scaling, retries = entry.resources, entry.scaling, entry.retries
    return {
        "cpu": None if res.cpu is None else float(res.cpu), "memory": res.memory, "gpu": res.gpu,
        "timeout": res.timeout, "min_containers": scaling.min_containers, "max_containers": scaling.max_containers,
        "buffer_containers": scaling.buffer_containers, "scaledown_window": scaling.scaledown_window,
        "max_inputs": scaling.max_inputs, "target_inputs": scaling.target_inputs, "backend": entry.backend,
        "retries": None if retries is None else [retries.max_retries, float(retries.backoff_coefficient),
                                                 float(retries.initial_delay), float(retries.max_delay)],
        "secrets": sorted(s.name for s in entry.secrets),
        "volumes": [[v.path, v.name, v.create_if_missing, v.read_only] for v in entry.volumes],
        "bucket_mounts": [list(b) for b in entry.bucket_mounts],
    }


def _parameter_json(parameter: tuple[str, str, Any]) -> list[Any]:
    name, type_name, default = parameter
    return [name, type_name, default.hex() if isinstance(default, bytes) else default]  # as the manifest keeps it


def _parameter(raw: list[Any]) -> tuple[str, str, Any]:
    name, type_name, default = str(raw[0]), str(raw[1]), raw[2]
    return name, type_name, bytes.fromhex(default) if type_name == "bytes" and isinstance(default, str) else default
