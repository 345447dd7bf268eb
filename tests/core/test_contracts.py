"""The typed contracts (issue 12): one manifest schema every phase reads through
(`runtime.manifest`), one container environment (`runtime.environment`), one codec for class
parameter values (`runtime.params`)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from core_helpers import REPO

import toolkit
from runtime import manifest as schema
from runtime import params as codec
from runtime.environment import FOR_USER_CODE, KNOBS, VARIABLES, ContainerEnv, ContainerEnvError, variables
from toolkit.loader import find_app, import_path
from toolkit.manifest import build, build_manifest, dumps

SOURCES = ("runtime", "infra", "toolkit")

contracts = toolkit.App("contracts")


@contracts.cls(retries=toolkit.Retries(max_retries=2, initial_delay=0.5), secrets=[toolkit.Secret.from_dict({"K": "v"})])
class Model:
    key: bytes = toolkit.parameter(default=b"\x00\xff")
    size: int = toolkit.parameter(default=3)
    fast: bool = toolkit.parameter(default=False)

    @toolkit.method()
    def run(self) -> int:
        return self.size


@contracts.function(schedule=toolkit.Period(minutes=5), gpu="T4", timeout=1200)
def nightly() -> None: ...


def _example_apps() -> list[toolkit.App]:
    return [find_app(import_path(str(path.relative_to(REPO)))) for path in sorted((REPO / "examples").glob("*.py"))]


# -- the manifest ------------------------------------------------------------------------------

@pytest.mark.parametrize("ephemeral", [False, True])
def test_every_app_round_trips_through_the_schema(ephemeral: bool) -> None:
    apps = [contracts, *_example_apps()]
    assert len(apps) > 10
    for app in apps:
        typed = build(app, ephemeral=ephemeral)
        data = build_manifest(app, ephemeral=ephemeral)
        assert typed.to_dict() == data, app.name
        assert schema.load(json.loads(dumps(data))) == typed, app.name  # through JSON text, as every reader gets it
        assert schema.dumps(typed) == dumps(data)


def test_the_typed_manifest_holds_decoded_values() -> None:
    typed = build(contracts)
    run = typed.function("Model.run")
    assert run.cls is not None and run.cls.parameters[0] == schema.ClsParameter("key", "bytes", b"\x00\xff")
    assert build_manifest(contracts)["functions"][0]["cls"]["parameters"][0]["default"] == "00ff"  # hex in JSON
    assert run.retries == schema.Retries(2, 2.0, 0.5, 60.0) and run.secrets[0].keys == ("K",)
    nightly_entry = typed.function("nightly")
    assert nightly_entry.backend == "gpu" and nightly_entry.timeout == 1200 and nightly_entry.schedule is not None
    with pytest.raises(schema.ManifestError, match="'missing' is not in the manifest; it has: Model.run, nightly"):
        typed.function("missing")


def _bad_version() -> dict[str, Any]:
    data = build_manifest(contracts)
    data["schema_version"] = 2
    return data


def test_an_unknown_schema_version_is_refused_by_every_reader(tmp_path: Path) -> None:
    from infra.config import ConfigError, Settings, load_manifest
    from infra.plan import plan_app as plan_infra
    from runtime.deployment import DeploymentError, load_deployment
    from toolkit.images.plan import PlanOptions
    from toolkit.images.plan import plan_app as plan_images
    from toolkit.serve.appinfo import AppInfo
    from toolkit.serve.routes import RouteTable

    bad = _bad_version()
    refused = "schema_version 2 is not supported"
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(DeploymentError, match=refused):  # runtime
        load_deployment(str(path), "Model.run")
    with pytest.raises(schema.ManifestError, match=refused):  # toolkit serve
        RouteTable.from_info(AppInfo(bad, {}, (), ()))
    with pytest.raises(schema.ManifestError, match=refused):  # images
        plan_images(bad, PlanOptions(root=REPO))
    with pytest.raises(ConfigError, match=refused):  # infra: the stack config, and the plan
        load_manifest(json.dumps(bad))
    with pytest.raises(ConfigError, match=refused):
        plan_infra(Settings(manifest=bad))


@pytest.mark.parametrize("change,named", [
    (lambda fn: fn["resources"].update(timeout="300"), r"functions\[0\] \('Model.run'\)\.resources\.timeout: expected int"),
    (lambda fn: fn.update(kind="lambda_fn"), r"functions\[0\] \('Model.run'\)\.kind: expected one of function, "),
    (lambda fn: fn.update(backend="auto"), r"\.backend: expected one of lambda, ecs, gpu, got 'auto'"),
    (lambda fn: fn["cls"]["parameters"][0].update(default="zz"), r"parameters\[0\]\.default: expected hex digits"),
    (lambda fn: fn.pop("name"), r"functions\[0\] \('Model.run'\)\.name is missing"),
])
def test_a_malformed_field_is_named_with_the_fix(change: Any, named: str) -> None:
    data = build_manifest(contracts)
    change(data["functions"][0])
    with pytest.raises(schema.ManifestError, match=named) as refused:
        schema.load(data)
    assert "toolkit manifest app.py" in str(refused.value)


def test_where_a_function_runs_is_derived_in_the_schema_only() -> None:
    """A hand-written manifest: a web_server is never a Lambda, a GPU always runs on GPU capacity."""
    data = build_manifest(contracts)
    server = {**data["functions"][0], "tag": "server", "kind": "web_server", "backend": "lambda",
              "web": {"label": "server", "host": "default--server", "port": 8000}}
    gpu = {**data["functions"][0], "tag": "gpu", "backend": "ecs", "resources": {"gpu": "A10G", "timeout": 60}}
    typed = schema.load({**data, "functions": [server, gpu]})
    assert [f.backend for f in typed.functions] == ["ecs", "gpu"]
    assert typed.functions[1].resources == schema.Resources(gpu="A10G", timeout=60)  # the rest: declared defaults


KNOWN_KEYS = {"schema_version", "requires_proxy_auth", "custom_domains", "startup_timeout", "user_label", "app_variable"}
NOT_MANIFESTS = {"toolkit/loader.py"}  # builds app.source for the writer from a CLI reference


def _raw_manifest_reads(path: Path) -> list[str]:
    """``x["key"]`` / ``x.get("key")`` where x is a manifest (by name) or the key is one only a manifest has."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            target, key = node.value, node.slice.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and node.args and isinstance(node.args[0], ast.Constant)):
            target, key = node.func.value, node.args[0].value
        else:
            continue
        if isinstance(key, str) and ("manifest" in ast.unparse(target).lower() or key in KNOWN_KEYS):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_only_the_schema_reads_raw_manifest_dicts() -> None:
    readers = {}
    for root in SOURCES:
        for path in sorted((REPO / root).rglob("*.py")):
            name = str(path.relative_to(REPO))
            if name not in NOT_MANIFESTS and (reads := _raw_manifest_reads(path)):
                readers[name] = reads
    assert set(readers) == {"runtime/manifest.py"}, readers


# -- the container environment -----------------------------------------------------------------

def test_the_environment_round_trips_and_names_a_bad_value() -> None:
    typed: dict[str, Any] = {"call_ttl_seconds": 60, "request_budget_s": 1.5, "stream_budget_s": 0.0, "stream_responses": False,
                             "rate_limit": 0.0, "max_instances": 2, "worker_attempt": 1, "bucket_sync_s": 0.5,
                             "shutdown_grace_s": 1.9}
    env = ContainerEnv(**{field: typed.get(field, f"value of {field}") for field in ContainerEnv._fields})
    assert set(env._fields) == set(VARIABLES)
    environ = env.to_environ()
    assert set(environ) == set(VARIABLES.values()) and environ["TOOLKIT_STREAM_RESPONSES"] == "0"
    assert ContainerEnv.from_environ(environ) == env
    assert ContainerEnv.from_environ({"TOOLKIT_CALLS_TABLE": "", "PATH": "/bin"}) == ContainerEnv()  # empty: unset
    with pytest.raises(ContainerEnvError, match=r"TOOLKIT_MAX_INSTANCES='eight' is not a whole number; set it to e\.g\. 8"):
        ContainerEnv.from_environ({"TOOLKIT_MAX_INSTANCES": "eight"})
    with pytest.raises(ContainerEnvError, match="'calls_tabel' is not a container variable"):
        variables({"calls_tabel": "t"})


def _calls(root: str, names: set[str]) -> list[ast.Call]:
    found = []
    for path in sorted((REPO / root).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if name in names:
                found.append(node)
    return found


def _written_fields() -> set[str]:
    """Fields the deploy sets: infra (`variables({...})`, ``_set("field", ...)``, ``ContainerEnv.name(...)``
    in the state machine) and the image (``ContainerEnv(...).to_environ()``)."""
    written: set[str] = set()
    for root in ("infra", "toolkit/images"):
        for call in _calls(root, {"variables", "_set", "name", "ContainerEnv"}):
            if call.args and isinstance(call.args[0], ast.Dict):
                written |= {str(k.value) for k in call.args[0].keys if isinstance(k, ast.Constant)}
            elif call.args and isinstance(call.args[0], ast.Constant) and call.args[0].value in VARIABLES:
                written.add(str(call.args[0].value))
            written |= {k.arg for k in call.keywords if k.arg is not None and k.arg in VARIABLES}
    return written


def _read_fields() -> set[str]:
    """Fields something reads: ``<...env...>.field``, or the variable looked up by ``ContainerEnv.name``."""
    read: set[str] = set()
    for root in ("runtime", "toolkit"):
        for path in sorted((REPO / root).rglob("*.py")):
            if path.name == "environment.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and node.attr in VARIABLES and "env" in ast.unparse(node.value).lower():
                    read.add(node.attr)
    for call in _calls("runtime", {"name"}) + _calls("toolkit", {"name"}):
        if call.args and isinstance(call.args[0], ast.Constant) and call.args[0].value in VARIABLES:
            read.add(str(call.args[0].value))
    return read


def test_every_variable_the_deploy_sets_is_read_and_every_one_read_is_set() -> None:
    written, read = _written_fields(), _read_fields()
    assert written == set(VARIABLES) - KNOBS  # the deploy sets all but the operator's knobs
    assert read == set(VARIABLES) - FOR_USER_CODE  # the runtime reads all but what is there for the user's code


def test_no_container_variable_is_spelled_outside_the_contract() -> None:
    names = set(VARIABLES.values())
    spelled = [f"{path.relative_to(REPO)}:{node.lineno}" for root in SOURCES for path in sorted((REPO / root).rglob("*.py"))
               if path.relative_to(REPO) != Path("runtime/environment.py")
               for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Constant) and node.value in names]
    assert spelled == []


def test_one_gateway_policy_per_front_door_from_the_environment() -> None:
    from runtime.deployment import Deployment
    from runtime.gateway import DEFAULT_BUDGET_S, HTTP_API_BUDGET_S

    entry = build(contracts).function("Model.run")._replace(
        kind="fastapi_endpoint", web=schema.WebConfig("run", requires_proxy_auth=True))
    bare = Deployment("contracts", schema.Source(), entry)
    assert (bare.gateway_policy("lambda").budget, bare.gateway_policy("stream").budget) == (HTTP_API_BUDGET_S,
                                                                                            DEFAULT_BUDGET_S)
    ecs = bare.gateway_policy("ecs")
    assert ecs.budget == DEFAULT_BUDGET_S and ecs.rate_limiter is not None and ecs.websockets
    assert ecs.requires_proxy_auth and ecs.timeout == entry.timeout
    env = ContainerEnv(request_budget_s=0.0, stream_budget_s=7.0, rate_limit=0.0)  # 0 is a value, not "unset"
    tuned = bare._replace(env=env)
    assert tuned.gateway_policy("lambda").budget == 0.0 and not tuned.gateway_policy("lambda").websockets
    assert tuned.gateway_policy("stream").budget == 7.0 and tuned.gateway_policy("ecs").rate_limiter is None


# -- class parameters --------------------------------------------------------------------------

def test_one_codec_for_class_parameters_locally_in_serve_and_in_the_runtime() -> None:
    import runtime.invocation
    import toolkit.functions
    from runtime.instances import ClassMethod
    from toolkit.serve.appinfo import FunctionSource
    from toolkit.serve.routes import endpoint_from_manifest

    assert toolkit.functions.Params is codec.Params and runtime.invocation.Params is codec.Params
    entry = build(contracts).function("Model.run")._replace(kind="fastapi_endpoint", web=schema.WebConfig("run"))
    endpoint = endpoint_from_manifest("contracts", entry, FunctionSource("m", None))
    query = {"key": "ab", "size": "4", "fast": "yes"}
    expected = (("key", b"ab"), ("size", 4), ("fast", True))
    assert endpoint.params_for(query) == expected  # toolkit serve, from the manifest's parameters
    model: Any = Model  # what @app.cls returns: a toolkit.Cls
    assert ClassMethod(model.info, "run").params_from_query(b"key=ab&size=4&fast=yes") == expected  # the runtime
    assert model(key=b"ab", size=4, fast=True)._params == expected  # the SDK
    assert codec.from_json(json.loads(json.dumps(codec.to_json(expected)))) == expected
    with pytest.raises(codec.ParameterError, match=r"Query parameter size='four' is not a valid int\."):
        codec.from_query("Model", entry.cls.parameters if entry.cls else (), {"size": "four"})


# -- one name, one concept ---------------------------------------------------------------------

# "backend" names one concept: where a function runs (the compute target).  Only these spellings
# may hold it; the state store and the call path have names of their own.
BACKEND_SPELLINGS = {
    "backend": "the user option backend=, the manifest key and the entry fields that mirror them; "
               "also the keyword of Pulumi's ProjectSettings(backend=...)",
    "ProjectBackend": "Pulumi's class for its state store URL (toolkit/deploy/workspace.py)",
}


def _identifiers(tree: ast.AST) -> list[tuple[int, str]]:
    """Every name the code binds or reads: variables, attributes, arguments, keywords, defs, imports."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.arg):
            found.append((node.lineno, node.arg))
        elif isinstance(node, ast.keyword) and node.arg is not None:
            found.append((node.value.lineno, node.arg))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((node.lineno, node.name))
        elif isinstance(node, ast.alias):
            found.append((node.lineno, node.asname or node.name))
    return found


def test_backend_names_only_the_compute_target() -> None:
    stray = [f"{path.relative_to(REPO)}:{line}: {name}" for root in SOURCES for path in sorted((REPO / root).rglob("*.py"))
             for line, name in _identifiers(ast.parse(path.read_text()))
             if "backend" in name.lower() and name not in BACKEND_SPELLINGS]
    modules = [str(path.relative_to(REPO)) for root in SOURCES for path in (REPO / root).rglob("*backend*.py")]
    assert stray == [] and modules == [], (
        "'backend' means the compute target only: name Pulumi's store StackStateStore/state_*, "
        f"a gateway's call path CallPath/call_path; found {stray + modules}")
