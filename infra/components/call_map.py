"""The call map parameter: how a process outside AWS finds and calls this stack's functions.

One SSM String parameter (`runtime.callmap` names it and defines the document): the call table,
the payload bucket, and per function its Lambda alias, its Step Functions worker, its URL and its
CloudWatch log group (named by the stack for ECS/GPU functions: ``fn.logs`` reads it from here).
Read by ``Function.from_name``/``Cls.from_name``/``App.lookup`` in any process with the app's
credentials (toolkit/deployed_apps.py); nothing reads the Pulumi state.

Tier ``Intelligent-Tiering``: Standard (4 KB, free) while the document fits, Advanced (8 KB,
charged per parameter-month) past it, so a large app deploys instead of failing on the size.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import child
from infra.components.function import AppContext, ToolkitFunction
from runtime import manifest as schema
from runtime.callmap import CallMap, MappedFunction, deployed_options

__all__ = ["CallMapArgs", "CallMapParameter", "MappedOutputs", "call_map_args"]


@dataclass
class MappedOutputs:
    """One function's entry, with the ARNs and URL still Outputs."""

    tag: str
    kind: str
    lambda_arn: pulumi.Input[str] | None
    state_machine_arn: pulumi.Input[str] | None
    url: pulumi.Input[str] | None
    generator: bool = False
    cls: str | None = None
    log_group: pulumi.Input[str] | None = None  # the function's CloudWatch group, for ``fn.logs``
    options: dict[str, object] | None = None  # what it deploys with: a looked-up with_options finds its variant


@dataclass
class CallMapArgs:
    parameter_name: str
    app: str
    region: str
    calls_table: pulumi.Input[str]
    payload_bucket: pulumi.Input[str]
    functions: list[MappedOutputs]
    classes: dict[str, tuple[tuple[str, str, object], ...]]


class CallMapParameter(pulumi.ComponentResource):
    parameter: aws.ssm.Parameter

    def __init__(self, name: str, args: CallMapArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:callmap:CallMapParameter", name, None, opts)
        self.parameter = aws.ssm.Parameter(
            f"{name}-parameter", name=args.parameter_name, type="String", tier="Intelligent-Tiering",
            description=f"toolkit call map of app {args.app!r}: read by Function.from_name / App.lookup",
            value=_document(args), opts=child(self),
        )
        self.register_outputs({"name": self.parameter.name})


def _document(args: CallMapArgs) -> pulumi.Output[str]:
    per_function = [pulumi.Output.all(f.lambda_arn, f.state_machine_arn, f.url, f.log_group) for f in args.functions]
    return pulumi.Output.all(args.calls_table, args.payload_bucket, *per_function).apply(
        lambda values: CallMap(
            app=args.app, region=args.region, calls_table=values[0], payload_bucket=values[1],
            functions={f.tag: MappedFunction(f.tag, f.kind, v[0], v[1], v[2], f.generator, f.cls, v[3],
                                                   f.options)
                       for f, v in zip(args.functions, values[2:], strict=True)},
            classes=args.classes,
        ).dumps())


def call_map_args(ctx: AppContext, functions: dict[str, ToolkitFunction]) -> CallMapArgs:
    """The call map of the functions just declared.  Its parameter is named after the Pulumi project
    and stack (``toolkit-<app>`` and ``<env>-<region>`` under ``toolkit deploy``), which a lookup
    derives from the app's name, environment and region alone."""
    settings, app = ctx.settings, ctx.app
    entries = {e.tag: e for e in schema.load(settings.manifest).functions}
    return CallMapArgs(
        parameter_name=ctx.call_map_parameter(), app=app.app, region=settings.region,
        calls_table=ctx.calls.table.name, payload_bucket=ctx.calls.bucket.bucket,
        functions=[_mapped(ctx, fn, entries[tag]) for tag, fn in functions.items()],
        classes={e.cls.name: tuple((p.name, p.type, p.default) for p in e.cls.parameters)
                 for e in entries.values() if e.cls is not None},
    )


def _mapped(ctx: AppContext, fn: ToolkitFunction, entry: schema.FunctionEntry) -> MappedOutputs:
    plan = fn.plan
    callable_ = plan.web is None  # web endpoints are called over HTTP, at their URL
    return MappedOutputs(
        tag=plan.tag, kind=plan.kind, lambda_arn=ctx.invoke_arn(plan) if callable_ else None,
        state_machine_arn=ctx.worker_arn(plan) if callable_ else None, url=fn.url,
        generator=entry.is_generator, cls=entry.cls.name if entry.cls else None, log_group=fn.log_group.name,
        options=deployed_options(entry),
    )
