"""IAM policy documents as plain dicts: least privilege, one builder per grantee.

Pure so the tests can parse what the program attaches. No statement grants ``*`` actions;
the only ``*`` resources are on actions AWS defines no resource for (ECR auth tokens, log
delivery for Step Functions, CloudWatch GetMetricData).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.naming import partition

__all__ = [
    "AppReads",
    "app_reads_statements",
    "assume_role",
    "cluster_tasks",
    "ecr_arn_from_image",
    "ecr_lambda_pull",
    "execution_role_policy",
    "executions_of",
    "function_policy",
    "ecs_instance_managed_policy",
    "state_machine_policy",
]

Doc = dict[str, Any]
VERSION = "2012-10-17"


def _doc(*statements: Doc) -> Doc:
    return {"Version": VERSION, "Statement": [s for s in statements if s["Resource"]]}


def _allow(actions: list[str], resources: list[str] | str) -> Doc:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def assume_role(*services: str) -> Doc:
    return {
        "Version": VERSION,
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}
        ],
    }


@dataclass(frozen=True)
class AppReads:
    """What the SDK reads about its own app from inside one of its functions, as ARNs (patterns)."""

    call_map_arn: str  # the app's call map parameter: Function.from_name / App.lookup of the app itself
    functions_arn: str  # the app's Lambda functions (<prefix>-*): fn.stats() finds a web endpoint's
    lambda_logs_arn: str  # their log groups (/aws/lambda/<prefix>-*): fn.logs of a Lambda function


def app_reads_statements(reads: AppReads | None, calls_table_arn: str) -> list[Doc]:
    """The SDK's reads of its own app (toolkit/deployed_apps.py, cloud_stats.py, cloud_logs.py,
    function_admin.py).  Another app's call map or call table is not granted: a function reaches only
    its own app; cross-app calls need a grant the user adds.  No ``ssm:GetParametersByPath``: inside a
    function ``FunctionCall.from_id`` reads its own call table and never searches (toolkit/calls.py)."""
    if reads is None:
        return []
    return [
        _allow(["ssm:GetParameter"], [reads.call_map_arn]),
        # fn.stats(): the call records of a window (a filtered Scan of the call table) and the Lambda's metrics.
        _allow(["dynamodb:Scan"], [calls_table_arn]),
        # GetMetricData has no resource type in AWS's service authorization reference: "*" is the only form.
        _allow(["cloudwatch:GetMetricData"], "*"),
        _allow(["lambda:GetFunction"], [reads.functions_arn]),
        _allow(["logs:FilterLogEvents"], [reads.lambda_logs_arn]),
    ]


def function_policy(
    *,
    log_group_arn: str,
    table_arn: str,
    bucket_arn: str,
    state_machine_arn: str,
    executions_arn: str,
    secret_arns: list[str],
    app_state_machine_arns: list[str] | None = None,
    app_invoke_arns: list[str] | None = None,
    cluster_arn: str | None = None,
    reads: AppReads | None = None,
) -> Doc:
    """What a function's code may do: log, keep call state, start and watch its own worker, and
    call the app's other functions (``.spawn``/``.map`` start their workers, ``.remote`` invokes
    their Lambda alias) -- only this app's, named one by one.  Reading a call may settle it when its
    worker is gone (runtime/callstore/supervision.py): DescribeExecution on the app's workers'
    executions, and, with ECS in the app (``cluster_arn``), DescribeTasks on that cluster's tasks.
    ``reads``: what the SDK reads about the app itself (`app_reads_statements`)."""
    app_executions = [executions_of(arn) for arn in app_state_machine_arns or []]
    return _doc(
        _allow(["logs:CreateLogStream", "logs:PutLogEvents"], [log_group_arn, f"{log_group_arn}:*"]),
        _allow(
            [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:ConditionCheckItem",
            ],
            [table_arn, f"{table_arn}/index/*"],
        ),
        _allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [f"{bucket_arn}/*"]),
        _allow(["states:StartExecution"], sorted({state_machine_arn, *(app_state_machine_arns or [])})),
        _allow(["lambda:InvokeFunction"], sorted(set(app_invoke_arns or []))),
        _allow(["states:DescribeExecution", "states:StopExecution"], [executions_arn]),
        # settle (Describe) or cancel (Stop, FunctionCall.cancel) a call to another of the app's functions
        _allow(["states:DescribeExecution", "states:StopExecution"], sorted(set(app_executions) - {executions_arn})),
        _allow(["ecs:DescribeTasks"], [cluster_tasks(cluster_arn)] if cluster_arn else []),
        _allow(["secretsmanager:GetSecretValue"], secret_arns),
        *app_reads_statements(reads, table_arn),
    )


def executions_of(state_machine_arn: str) -> str:
    """The ARN pattern of a state machine's executions (``...:execution:<name>:*``)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":*"


def cluster_tasks(cluster_arn: str) -> str:
    """The ARN pattern of an ECS cluster's tasks (``...:task/<cluster name>/*``)."""
    return f"{cluster_arn.replace(':cluster/', ':task/', 1)}/*"


def state_machine_policy(
    *,
    function_arns: list[str],
    task_definition_arn: str | None,
    cluster_arn: str | None,
    pass_role_arns: list[str],
    events_rule_arn: str | None,
    calls_table_arn: str,
) -> Doc:
    """What the worker state machine may do: invoke its Lambda, or run and watch its task, and
    mark a call FAILED when its worker stops without a result (infra/asl.py ``MarkFailed``)."""
    task_family = task_definition_arn.rsplit(":", 1)[0] + ":*" if task_definition_arn else None
    return _doc(
        _allow(["lambda:InvokeFunction"], function_arns),
        _allow(["ecs:RunTask"], [task_family] if task_family else []),
        _allow(
            ["ecs:StopTask", "ecs:DescribeTasks"],
            [cluster_tasks(cluster_arn)] if cluster_arn else [],
        ),
        # runTask.sync watches the task through this managed EventBridge rule.
        _allow(["events:PutTargets", "events:PutRule", "events:DescribeRule"], [events_rule_arn] if events_rule_arn else []),
        _allow(["iam:PassRole"], pass_role_arns),
        _allow(["dynamodb:UpdateItem"], [calls_table_arn]),
        # Log delivery actions support no resource-level permissions (AWS documents "*").
        _allow(
            [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
            "*",
        ),
    )


def execution_role_policy(*, repository_arns: list[str], log_group_arns: list[str]) -> Doc:
    """ECS task execution role: pull the images, ship container logs."""
    return _doc(
        _allow(["ecr:GetAuthorizationToken"], "*"),  # an account-wide token: no resource form
        _allow(
            ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            repository_arns,
        ),
        _allow(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{arn}:*" for arn in log_group_arns]),
    )


def ecs_instance_managed_policy(region: str) -> str:
    """AWS's managed policy for container instances: AWS keeps its action list in step with the
    ECS agent (a hand-written copy drifts, and some of its actions take no cluster resource)."""
    return f"arn:{partition(region)}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"


def ecr_lambda_pull(region: str, account: str, function_prefix: str) -> Doc:
    """Repository policy: Lambda may pull images for this app's functions only."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "LambdaPull",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Condition": {
                    "StringLike": {"aws:sourceArn": f"arn:{partition(region)}:lambda:{region}:{account}:function:{function_prefix}-*"}
                },
            }
        ],
    }


def ecr_arn_from_image(image_uri: str) -> str | None:
    """``123.dkr.ecr.eu-west-1.amazonaws.com/repo@sha256:..`` -> the repository's ARN."""
    host, _, rest = image_uri.partition("/")
    parts = host.split(".")
    if len(parts) < 6 or parts[1:3] != ["dkr", "ecr"] or not rest:
        return None
    repo = rest.split("@", 1)[0].rsplit(":", 1)[0] if "@" in rest else rest.rsplit(":", 1)[0]
    return f"arn:{partition(parts[3])}:ecr:{parts[3]}:{parts[0]}:repository/{repo}"
