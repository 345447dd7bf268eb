"""Every AWS call that code running inside a deployed function can make is allowed by the role it runs under.

Found statically: for each module of runtime/ and toolkit/ in scope, the services it makes clients
for (``client("svc", ...)``, ``session.client("svc")``) and the calls on them (``.op_name(...)``,
``get_paginator("op_name")``) whose names are operations of those services in botocore's model.
Each operation becomes its IAM action (`iam_action`), and the action must be allowed by the planned
policies of the role that runs the module (a function's role for the SDK and runtime, the sandbox
task's role for the sandbox agent), over a whole program planned under Pulumi's mock runtime with
every optional feature on (secrets, Dicts/Queues, volumes, a bucket mount, sandboxes, schedules).  A
feature's calls are required only of the roles whose functions use it.  The roles that run no Python
of ours are checked too: each worker state machine's Task integrations, and the scheduler's targets.

A call that fails on a real account with AccessDenied was a feature shipped broken: this test finds
the next one at the commit that adds it.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name
from infra_mocks import parse_json
from infra_support import Run, run_program, settings_for

import toolkit
from toolkit.manifest import build_manifest

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("runtime", "toolkit")

# Out of scope: code that never runs inside a deployed function, by path prefix, with why.
EXCLUDED = {
    "toolkit/cli/": "the CLI runs on the user's machine with the user's credentials",
    "toolkit/deploy/": "deploy orchestration (toolkit deploy, doctor, logs, volumes, secrets) runs on the user's "
                       "machine; the SDK imports only pure helpers of autoscaler.py, and its AWS calls "
                       "(update_autoscaler) are refused inside a deployed function (toolkit/function_admin.py)",
    "toolkit/images/": "image builds (CodeBuild, ECR pushes) run from toolkit deploy on the user's machine",
    "toolkit/serve/": "toolkit serve is local: no AWS role",
    "toolkit/local/": "local worker pools: no AWS role",
}
# Modules whose method names match AWS operations but whose receivers are not boto3 clients.
NOT_AWS = {
    "toolkit/named_objects.py": "list_objects is the local named-object store's, not S3's",
}
# Calls of in-scope modules that code inside a deployed function never reaches, with why (no grant is owed).
NOT_IN_FUNCTIONS = {
    ("toolkit/call_search.py", "GetParametersByPath"):
        "inside a function FunctionCall.from_id reads its own app's call table (toolkit/calls.py FunctionCall._cloud "
        "takes the deployed runner first); only a process outside searches every app's call map",
}
# boto3's managed-transfer methods on an S3 client are no botocore operations: the operations they make.
S3_TRANSFERS = {
    "upload_file": ("CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload", "PutObject"),
    "download_file": ("HeadObject", "GetObject"), "copy": ("HeadObject", "CopyObject", "UploadPartCopy"),
}
S3_TRANSFERS |= {"upload_fileobj": S3_TRANSFERS["upload_file"], "download_fileobj": S3_TRANSFERS["download_file"]}
# IAM actions whose name is not the operation's (AWS's service authorization reference), and
# operations no permission governs.
ACTION_OF = {
    "s3:ListObjectsV2": "s3:ListBucket", "s3:HeadObject": "s3:GetObject", "s3:DeleteObjects": "s3:DeleteObject",
    "lambda:Invoke": "lambda:InvokeFunction",
    # a multipart upload is authorized as s3:PutObject, a copy as GetObject on the source and PutObject here
    "s3:CreateMultipartUpload": "s3:PutObject", "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject", "s3:CopyObject": "s3:PutObject", "s3:UploadPartCopy": "s3:PutObject",
}
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}  # AWS: "No permissions are required to perform this operation"
# botocore signs CloudWatch as "monitoring"; IAM's service prefix for it is "cloudwatch".
IAM_PREFIX = {"monitoring": "cloudwatch"}

SANDBOX_AGENT = "runtime/sandbox_agent.py"
# The volume store's writes: owed only to a function with a writable mount (a read-only one never writes).
VOLUME_WRITES = {"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}
# Modules that only run where a feature is on, and how to tell a role that has it.
FEATURE_OF = {
    "runtime/secrets.py": "secrets",
    "runtime/cloud_client.py": "lambda_targets",  # .remote() invokes a Lambda alias only where the app has one
    "runtime/volumes/s3.py": "volumes",
    "runtime/volumes/buckets.py": "bucket_mounts",
    "toolkit/sandboxes/aws.py": "sandboxes",
    "toolkit/sandboxes/aws_logs.py": "sandboxes",
    "toolkit/sandboxes/aws_network.py": "sandboxes",
}

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
MANAGED = "aws:iam/policy:Policy"
OIDC_ROLE = "arn:aws:iam::123456789012:role/bucket-reader"


@dataclass(frozen=True)
class AwsCall:
    module: str
    service: str
    operation: str  # botocore's (PascalCase)

    @property
    def action(self) -> str | None:
        return iam_action(self.service, self.operation)


@functools.cache
def service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


@functools.cache
def iam_action(service: str, operation: str) -> str | None:
    """``<IAM prefix>:<action>`` for a botocore operation; None where AWS checks no permission."""
    model = service_model(service)
    prefix = model.signing_name or model.endpoint_prefix
    action = f"{IAM_PREFIX.get(prefix, prefix)}:{operation}"
    return None if action in NEEDS_NO_PERMISSION else ACTION_OF.get(action, action)


# -- the scan ---------------------------------------------------------------------------------------------------

def scanned_modules() -> Iterator[Path]:
    for root in SCANNED:
        for path in sorted((REPO / root).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if not any(rel.startswith(prefix) for prefix in EXCLUDED) and rel not in NOT_AWS:
                yield path


def _client_service(node: ast.Call) -> str | None | bool:
    """The literal service of a ``client(...)`` call; True for a client of a service passed by value."""
    func = node.func
    named = isinstance(func, ast.Name) and func.id == "client" or isinstance(func, ast.Attribute) and func.attr == "client"
    if not named or not node.args:
        return None
    first = node.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else True


def module_services(tree: ast.AST) -> set[str]:
    """The services a module makes clients for.  A client of a service passed by value (a helper taking
    ``"ecs"``) counts every service named by a string constant in the module."""
    found = {_client_service(n) for n in ast.walk(tree) if isinstance(n, ast.Call)} - {None}
    services = {s for s in found if isinstance(s, str)}
    if True in found:
        known = set(botocore.session.get_session().get_available_services())
        services |= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in known}
    return services


def _called_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            names.add(node.func.attr)
            if node.func.attr == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
    return names


@functools.cache
def operations(service: str) -> dict[str, str]:
    """botocore's operations of ``service`` by the client method's name."""
    return {xform_name(op): op for op in service_model(service).operation_names}


def module_calls(path: Path) -> set[AwsCall]:
    tree = ast.parse(path.read_text())
    rel, called = path.relative_to(REPO).as_posix(), _called_names(tree)
    services = module_services(tree)
    found = {AwsCall(rel, service, op) for service in services for method, op in operations(service).items()
             if method in called}
    if "s3" in services:
        found |= {AwsCall(rel, "s3", op) for method in called & set(S3_TRANSFERS) for op in S3_TRANSFERS[method]}
    return found


@pytest.fixture(scope="module")
def calls() -> set[AwsCall]:
    return {call for path in scanned_modules() for call in module_calls(path)}


# -- the planned roles ------------------------------------------------------------------------------------------

def _full_manifest() -> dict[str, Any]:
    """An app with every feature that changes a function's grants (and schedules on Lambda and on ECS)."""
    app = toolkit.App("iamapp")
    weights = toolkit.Volume.from_name("weights", create_if_missing=True)
    shared = toolkit.Dict.from_name("shared", create_if_missing=True)  # noqa: F841 - Dicts live in the state table
    bucket = toolkit.CloudBucketMount("datasets", key_prefix="train/", oidc_auth_role_arn=OIDC_ROLE, read_only=True)

    def plain() -> None: ...

    def infer() -> None: ...

    def train() -> None: ...

    def page() -> str:
        return "hi"

    app.function(secrets=[toolkit.Secret.from_dict({"TOKEN": "t"})], schedule=toolkit.Period(hours=1))(plain)
    app.function(volumes={"/models": weights, "/data": bucket})(infer)
    app.function(backend="ecs", volumes={"/models": weights.read_only()}, schedule=toolkit.Cron("0 3 * * *"))(train)
    app.function()(toolkit.fastapi_endpoint()(page))
    return build_manifest(app)


@pytest.fixture(scope="module")
def full_run() -> Run:
    return run_program(settings_for(_full_manifest(), sandboxes=True))


@dataclass
class PlannedRole:
    name: str  # the Pulumi resource name
    documents: dict[str, dict[str, Any]]  # every policy on it, by the policy resource's name

    def has(self, suffix: str) -> bool:
        return any(name.endswith(suffix) for name in self.documents)

    def resources_for(self, action: str) -> list[str]:
        """The resources ``action`` is allowed on (``*`` patterns in actions honoured)."""
        found: list[str] = []
        for doc in self.documents.values():
            for statement in doc["Statement"]:
                assert statement["Effect"] == "Allow", (self.name, statement)  # no Deny to reason about
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if any(fnmatch.fnmatch(action.lower(), a.lower()) for a in actions):
                    resource = statement["Resource"]
                    found += resource if isinstance(resource, list) else [resource]
        return found


def planned_roles(run: Run) -> dict[str, PlannedRole]:
    """Each planned role with its inline policies and its attached managed policies (by ARN)."""
    roles = {r.name: r for r in run.mocks.of_type(ROLE)}
    managed = {f"arn:aws:mock:us-east-1:123456789012:policy/{p.name}": p for p in run.mocks.of_type(MANAGED)}
    planned = {name: PlannedRole(name, {}) for name in roles}
    for policy in run.mocks.of_type(ROLE_POLICY):  # role= the role's id: "<resource name>-id" under the mocks
        planned[policy.inputs["role"].removesuffix("-id")].documents[policy.name] = parse_json(policy.inputs["policy"])
    by_physical = {r.inputs.get("name") or name: name for name, r in roles.items()}
    for attachment in run.mocks.of_type(ATTACHMENT):
        policy = managed.get(attachment.inputs["policyArn"])
        if policy is not None:
            planned[by_physical[attachment.inputs["role"]]].documents[policy.name] = parse_json(policy.inputs["policy"])
    return planned


def function_roles(run: Run) -> list[PlannedRole]:
    return [role for name, role in planned_roles(run).items() if name.endswith("-identity-role")]


def sandbox_task_roles(run: Run) -> list[PlannedRole]:
    """The roles the sandbox agent runs under: each sandbox task definition's task role, and the one a
    sandbox with volumes is started with (RunTask's override: in the outputs, not a task definition)."""
    arns = {t.inputs.get("taskRoleArn") for t in run.mocks.of_type("aws:ecs/taskDefinition:TaskDefinition")
            if "sandbox" in t.inputs["family"]} | {run.outputs["sandboxes"]["volumes_task_role"]}
    roles = {r.name: r for r in run.mocks.of_type(ROLE)}
    planned = planned_roles(run)
    return [planned[name] for name, r in roles.items()
            if f"arn:aws:iam::123456789012:role/{r.inputs.get('name') or name}" in arns]


def role_environments(run: Run) -> dict[str, list[dict[str, str]]]:
    """The container environments each role ARN runs with: its Lambdas' and its ECS task definitions'."""
    found: dict[str, list[dict[str, str]]] = {}
    for fn in run.mocks.of_type("aws:lambda/function:Function"):
        found.setdefault(fn.inputs["role"], []).append(fn.inputs.get("environment", {}).get("variables", {}))
    for task in run.mocks.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        for container in parse_json(task.inputs["containerDefinitions"]):
            env = {e["name"]: e["value"] for e in container.get("environment", [])}
            found.setdefault(task.inputs.get("taskRoleArn", ""), []).append(env)
    return found


_ENVIRONMENTS: dict[int, tuple[Run, dict[str, list[dict[str, str]]]]] = {}  # by run: read once per planned program


def _environments(run: Run, role: PlannedRole) -> list[dict[str, str]]:
    if id(run) not in _ENVIRONMENTS or _ENVIRONMENTS[id(run)][0] is not run:
        names = {r.name: r.inputs["name"] for r in run.mocks.of_type(ROLE)}
        by_arn = role_environments(run)
        _ENVIRONMENTS[id(run)] = (run, {name: by_arn.get(f"arn:aws:iam::123456789012:role/{physical}", [])
                                        for name, physical in names.items()})
    return _ENVIRONMENTS[id(run)][1][role.name]


def _lambda_targets(run: Run, role: PlannedRole) -> set[str]:
    """The Lambda aliases runtime/cloud_client.py may invoke from this role's containers."""
    return {t["lambda_arn"] for env in _environments(run, role)
            for t in parse_json(env.get("TOOLKIT_FUNCTION_TARGETS") or "{}").values() if t.get("lambda_arn")}


def _secret_arns(run: Run, role: PlannedRole) -> set[str]:
    """The secrets runtime/secrets.py reads in this role's containers: the ARNs their environment names."""
    named: set[str] = set()
    for env in _environments(run, role):
        named |= set(parse_json(env.get("TOOLKIT_SECRET_ARNS") or "[]"))
        named |= set(parse_json(env.get("TOOLKIT_BUCKET_SECRET_ARNS") or "{}").values())
    return named


def _writes_volumes(run: Run, role: PlannedRole) -> bool:
    """Whether the role's function mounts a volume writable (from its plan, found by TOOLKIT_FUNCTION)."""
    tags = {env.get("TOOLKIT_FUNCTION") for env in _environments(run, role)}
    return any(set(f.volumes) - set(f.read_only_volumes) for f in run.result.plan.functions if f.tag in tags)


def _owed(run: Run, role: PlannedRole, call: AwsCall) -> bool:
    """Whether a function role owes a grant for ``call``: its function can reach it."""
    if FEATURE_OF.get(call.module) == "volumes" and call.action in VOLUME_WRITES:
        return _writes_volumes(run, role)
    return _uses(run, role, FEATURE_OF.get(call.module))


def _uses(run: Run, role: PlannedRole, feature: str | None) -> bool:
    """Whether a function role's function can reach a feature's module."""
    if feature == "secrets":
        return bool(_secret_arns(run, role))
    if feature == "lambda_targets":
        return bool(_lambda_targets(run, role))
    return {None: True, "volumes": role.has("-volume-access"), "bucket_mounts": role.has("-bucket-access"),
            "sandboxes": role.has("-sandbox-control")}[feature]


def _missing(role: PlannedRole, wanted: set[AwsCall]) -> list[str]:
    return sorted(f"{c.action} ({c.module}: {xform_name(c.operation)})" for c in wanted
                  if c.action is not None and not role.resources_for(c.action))


# -- the tests --------------------------------------------------------------------------------------------------

def test_the_scan_finds_the_calls_it_is_meant_to(calls: set[AwsCall]) -> None:
    """A guard on the scanner itself: calls made three different ways are all found."""
    found = {(c.module, c.action) for c in calls}
    assert ("runtime/secrets.py", "secretsmanager:GetSecretValue") in found  # client("svc").op(...)
    assert ("toolkit/call_search.py", "ssm:GetParametersByPath") in found  # a paginator
    assert {(c.module, c.operation) for c in calls} >= set(NOT_IN_FUNCTIONS)  # no stale exclusion
    assert ("runtime/callstore/supervision.py", "states:DescribeExecution") in found  # a service passed by value
    assert ("runtime/volumes/s3.py", "s3:ListBucket") in found  # an operation whose action is not its name
    assert ("runtime/volumes/s3.py", "s3:AbortMultipartUpload") in found  # boto3's upload_fileobj
    assert all(c.module.split("/")[0] in SCANNED for c in calls)
    assert not any(c.module.startswith(tuple(EXCLUDED)) for c in calls)


def test_every_module_calling_aws_operations_creates_its_client_or_is_listed() -> None:
    """A module calling ``.put_item(...)`` on a client it was handed (made elsewhere) would escape the scan:
    each in-scope module whose calls are named like operations of a service the runtime uses makes a
    client itself, or is in NOT_AWS with why."""
    used = {"dynamodb", "s3", "sqs", "ssm", "stepfunctions", "ecs", "lambda", "logs", "cloudwatch", "secretsmanager"}
    method_names = {m for s in used for m in operations(s)} - {"invoke", "query", "scan", "tag_resource"}
    escaped = []
    for path in scanned_modules():
        tree = ast.parse(path.read_text())
        if not module_services(tree) and (_called_names(tree) & method_names):
            escaped.append((path.relative_to(REPO).as_posix(), sorted(_called_names(tree) & method_names)))
    assert escaped == [], "make the client in the module that calls it, or list the module in NOT_AWS with why"


def test_every_call_of_the_sdk_and_runtime_is_granted_to_the_function_roles(calls: set[AwsCall], full_run: Run,
                                                                            web_run: Run, gpu_run: Run) -> None:
    in_functions = {c for c in calls if c.module != SANDBOX_AGENT and (c.module, c.operation) not in NOT_IN_FUNCTIONS}
    for run in (full_run, web_run, gpu_run):
        roles = function_roles(run)
        assert roles
        identity = {f"arn:aws:iam::123456789012:role/{r.inputs['name']}" for r in run.mocks.of_type(ROLE)
                    if r.name.endswith("-identity-role")}
        workloads = {fn.inputs["role"] for fn in run.mocks.of_type("aws:lambda/function:Function")} | {
            t.inputs["taskRoleArn"] for t in run.mocks.of_type("aws:ecs/taskDefinition:TaskDefinition")
            if "sandbox" not in t.inputs["family"]}
        assert workloads and workloads <= identity  # every Lambda and function task runs under a role checked here
        for role in roles:
            wanted = {c for c in in_functions if _owed(run, role, c)}
            assert _missing(role, wanted) == [], role.name


def test_the_full_app_exercises_every_feature(full_run: Run) -> None:
    roles = function_roles(full_run)
    for feature in set(FEATURE_OF.values()):  # else its calls would be checked against no role
        assert any(_uses(full_run, role, feature) for role in roles), feature
    assert any(_writes_volumes(full_run, role) for role in roles)
    assert any(_uses(full_run, role, "volumes") and not _writes_volumes(full_run, role) for role in roles)


def test_the_sandbox_agent_calls_are_granted_to_the_sandbox_task_roles(calls: set[AwsCall], full_run: Run) -> None:
    agent = {c for c in calls if c.module == SANDBOX_AGENT}
    assert {c.action for c in agent} >= {"sqs:ReceiveMessage", "dynamodb:PutItem"}
    volumes = {c for c in calls if FEATURE_OF.get(c.module) == "volumes"}  # the agent's mount and commit
    roles = sandbox_task_roles(full_run)
    assert len(roles) == 2 and sum(role.has("-task-volumes-access") for role in roles) == 1
    for role in roles:
        assert _missing(role, agent | (volumes if role.has("-task-volumes-access") else set())) == [], role.name


def _matches(arn: str, granted: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(arn, pattern) for pattern in granted)


def test_the_sdk_reads_only_its_own_apps_resources(full_run: Run) -> None:
    """Lookups, fn.stats() and fn.logs inside a function: granted on the app's own call map, Lambdas, log
    groups and call table; no search of every app's call maps (NOT_IN_FUNCTIONS)."""
    head = "arn:aws:ssm:us-east-1:123456789012:parameter"
    [parameter] = full_run.mocks.of_type("aws:ssm/parameter:Parameter")
    lambdas = [f.inputs["name"] for f in full_run.mocks.of_type("aws:lambda/function:Function")]
    [calls_table] = [t.inputs["name"] for t in full_run.mocks.of_type("aws:dynamodb/table:Table")
                     if t.name.endswith("-calls-table")]
    for role in function_roles(full_run):
        assert role.resources_for("ssm:GetParameter") == [head + parameter.inputs["name"]], role.name
        assert role.resources_for("ssm:GetParametersByPath") == [], role.name
        assert role.resources_for("cloudwatch:GetMetricData") == ["*"]  # AWS defines no resource for it
        assert f"arn:aws:dynamodb:us-east-1:123456789012:table/{calls_table}" in role.resources_for("dynamodb:Scan")
        functions, logs = role.resources_for("lambda:GetFunction"), role.resources_for("logs:FilterLogEvents")
        for name in lambdas:
            assert _matches(f"arn:aws:lambda:us-east-1:123456789012:function:{name}", functions), (role.name, name)
            assert _matches(f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{name}:*", logs), name
        assert not _matches("arn:aws:lambda:us-east-1:123456789012:function:other-app-fn", functions)
        assert not _matches("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/other-app-fn", logs)


def test_each_secret_and_lambda_target_a_function_is_given_is_granted_by_arn(full_run: Run, web_run: Run,
                                                                             gpu_run: Run) -> None:
    for run in (full_run, web_run, gpu_run):
        for role in function_roles(run):
            secrets, targets = _secret_arns(run, role), _lambda_targets(run, role)
            assert all(_matches(arn, role.resources_for("secretsmanager:GetSecretValue")) for arn in secrets)
            assert all(_matches(arn, role.resources_for("lambda:InvokeFunction")) for arn in targets)


def test_a_bucket_mounted_through_an_oidc_role_may_assume_exactly_that_role(full_run: Run) -> None:
    by_role = {role.name: role.resources_for("sts:AssumeRole") for role in function_roles(full_run)}
    assert by_role.pop("iamapp-test-infer-identity-role") == [OIDC_ROLE]
    assert all(granted == [] for granted in by_role.values()), by_role


class RecordingAws(ThreadingHTTPServer):
    """A loopback stand-in for AWS's JSON-protocol endpoints: records each call's X-Amz-Target and answers
    ``{}`` (DynamoDB: no item; anything else: an empty reply)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.targets: list[str] = []
        self.denied: set[str] = set()  # targets answered as IAM answers a call the role is not granted

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        assert isinstance(self.server, RecordingAws)
        target = self.headers.get("X-Amz-Target") or self.path
        self.server.targets.append(target)
        denied = target in self.server.denied
        body = b'{"__type":"AccessDeniedException","message":"not authorized"}' if denied else b"{}"
        self.send_response(400 if denied else 200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def aws_endpoint() -> Iterator[RecordingAws]:
    server = RecordingAws()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def inside_a_deployed_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               aws_endpoint: RecordingAws) -> Iterator[toolkit.Function]:
    """A function handle as user code sees it inside a deployed container: the runtime's environment,
    AWS pointed at the loopback recorder."""
    import json

    from runtime.awsclients import reset_clients

    app = toolkit.App("iam-refusal")

    @app.function()
    def square(x: int) -> int:
        return x * x

    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(build_manifest(app)))
    targets = {"square": {"lambda_arn": "arn:aws:lambda:us-east-1:123456789012:function:iam-refusal-square:live",
                          "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:iam-refusal-sq"}}
    for name, value in {"TOOLKIT_MANIFEST": str(manifest), "TOOLKIT_FUNCTION": "square", "TOOLKIT_CALLS_TABLE": "calls",
                        "TOOLKIT_FUNCTION_TARGETS": json.dumps(targets), "AWS_REGION": "us-east-1",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": aws_endpoint.url,
                        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(name, value)
    reset_clients()
    yield square
    reset_clients()  # the clients made here point at the recorder


def test_from_id_inside_a_deployed_function_reads_its_own_call_table_and_searches_no_call_map(
        inside_a_deployed_function: toolkit.Function, aws_endpoint: RecordingAws) -> None:
    """Why NOT_IN_FUNCTIONS holds: an id unknown to the app's own table is not looked for in other apps'."""
    with pytest.raises(LookupError, match="fc-0123456789abcdef"):
        toolkit.FunctionCall.from_id("fc-0123456789abcdef").get(timeout=0)
    assert aws_endpoint.targets and set(aws_endpoint.targets) == {"DynamoDB_20120810.GetItem"}


def test_update_autoscaler_inside_a_deployed_function_is_refused_not_granted(
        inside_a_deployed_function: toolkit.Function, aws_endpoint: RecordingAws) -> None:
    """Refused at the call site: no function role may change its app's capacity (docs/deploy.md, IAM)."""
    from toolkit.exception import NotSupportedError

    with pytest.raises(NotSupportedError, match=r"square.update_autoscaler\(\) inside a deployed function.*"
                                                r"call it from your machine.*toolkit deploy"):
        inside_a_deployed_function.update_autoscaler(max_containers=2)
    assert aws_endpoint.targets == []  # refused before any AWS call


# What a Step Functions service integration needs from the state machine's role (AWS: "IAM policies for
# integrated services"): the API's own action, and for a .sync ECS run the watch over the task.
SYNC_EXTRA = {"ecs:RunTask": {"ecs:StopTask", "ecs:DescribeTasks", "events:PutTargets", "events:PutRule",
                              "events:DescribeRule", "iam:PassRole"}}


def integration_actions(resource: str) -> set[str]:
    """``arn:aws:states:::dynamodb:updateItem`` -> {dynamodb:UpdateItem}; ``lambda:invoke`` -> InvokeFunction."""
    service, _, api = resource.removeprefix("arn:aws:states:::").partition(":")
    name, _, pattern = api.partition(".")
    action = "lambda:InvokeFunction" if (service, name) == ("lambda", "invoke") else f"{service}:{name[0].upper()}{name[1:]}"
    return {action} | (SYNC_EXTRA.get(action, set()) if pattern == "sync" else set())


def _task_resources(states: dict[str, Any]) -> Iterator[str]:
    for state in states.values():
        if state.get("Type") == "Task":
            yield state["Resource"]
        for nested in (*state.get("Branches", []), state.get("Iterator"), state.get("ItemProcessor")):
            if nested:
                yield from _task_resources(nested["States"])


def test_each_worker_state_machines_integrations_are_granted_to_its_role(full_run: Run, gpu_run: Run) -> None:
    """The Step Functions worker: each Task state's service integration, against its own role's policy."""
    for run in (full_run, gpu_run):
        roles = planned_roles(run)
        by_arn = {f"arn:aws:iam::123456789012:role/{r.inputs['name']}": roles[r.name] for r in run.mocks.of_type(ROLE)}
        machines = run.mocks.of_type("aws:sfn/stateMachine:StateMachine")
        assert machines
        for machine in machines:
            role = by_arn[machine.inputs["roleArn"]]
            needed = {a for r in _task_resources(parse_json(machine.inputs["definition"])["States"])
                      for a in integration_actions(r)}
            assert [a for a in sorted(needed) if not role.resources_for(a)] == [], machine.name


def test_each_schedule_may_start_exactly_its_target(full_run: Run) -> None:
    """EventBridge Scheduler: its role invokes a Lambda alias or starts a worker, each by ARN, and
    dead-letters what it could not deliver."""
    roles = planned_roles(full_run)
    by_arn = {f"arn:aws:iam::123456789012:role/{r.inputs['name']}": roles[r.name] for r in full_run.mocks.of_type(ROLE)}
    schedules = full_run.mocks.of_type("aws:scheduler/schedule:Schedule")
    assert {":lambda:" in s.inputs["target"]["arn"] for s in schedules} == {True, False}  # both kinds of target
    for schedule in schedules:
        target, role = schedule.inputs["target"], by_arn[schedule.inputs["target"]["roleArn"]]
        action = "lambda:InvokeFunction" if ":lambda:" in target["arn"] else "states:StartExecution"
        assert target["arn"] in role.resources_for(action), schedule.name
        assert target["deadLetterConfig"]["arn"] in role.resources_for("sqs:SendMessage"), schedule.name


def test_a_lookup_of_another_app_inside_a_deployed_function_says_the_role_reaches_only_its_own(
        inside_a_deployed_function: toolkit.Function, aws_endpoint: RecordingAws) -> None:
    aws_endpoint.denied.add("AmazonSSM.GetParameter")
    from toolkit.exception import NotFoundError

    with pytest.raises(NotFoundError, match=r"(?s)inside a deployed function the role reaches only its own app, not "
                                            r"'other-app'.*ssm:GetParameter on /toolkit/toolkit-other-app/"):
        toolkit.Function.from_name("other-app", "f").hydrate()
    assert aws_endpoint.targets[0] == "AmazonSSM.GetParameter"
