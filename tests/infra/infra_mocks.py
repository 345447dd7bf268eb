"""Pulumi mock runtime for the infra tests: records every resource, answers every invoke.

``new_resource`` returns the inputs plus the computed attributes the program reads
(ARNs, endpoints, validation options); ``call`` answers the data sources the program uses.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

ACCOUNT = "123456789012"


@dataclass
class Recorded:
    typ: str
    name: str
    inputs: dict[str, Any]
    provider: str
    # the resource options the engine would see (replacement and deletion behaviour)
    options: dict[str, Any] = field(default_factory=dict)


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _validation_options(inputs: dict[str, Any]) -> list[dict[str, str]]:
    names = [inputs["domainName"], *(inputs.get("subjectAlternativeNames") or [])]
    return [
        {
            "domainName": n,
            "resourceRecordName": f"_{_h(n.removeprefix('*.'))}.{n.removeprefix('*.')}.",
            "resourceRecordType": "CNAME",
            "resourceRecordValue": f"_{_h(n)}.acm-validations.aws.",
        }
        for n in names
    ]


def _computed(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    physical = inputs.get("name") or name
    out: dict[str, Any] = {"arn": f"arn:aws:mock:us-east-1:{ACCOUNT}:{typ.split(':')[-1].lower()}/{physical}", "name": physical}
    extra: dict[str, dict[str, Any]] = {
        "aws:acm/certificate:Certificate": {"domainValidationOptions": _validation_options(inputs) if "domainName" in inputs else []},
        "aws:acm/certificateValidation:CertificateValidation": {"certificateArn": inputs.get("certificateArn")},
        "aws:apigatewayv2/api:Api": {
            "apiEndpoint": f"https://{_h(name)}.execute-api.us-east-1.amazonaws.com",
            "executionArn": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{_h(name)}",
        },
        "aws:apigatewayv2/domainName:DomainName": {
            "domainNameConfiguration": {**(inputs.get("domainNameConfiguration") or {}),
                                        "targetDomainName": f"d-{_h(name)}.execute-api.us-east-1.amazonaws.com",
                                        "hostedZoneId": "Z1UJRXOUMOOFQ8"},
        },
        "aws:lambda/function:Function": {"version": "1", "arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{physical}"},
        "aws:lambda/alias:Alias": {"arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{inputs.get('functionName')}:{physical}"},
        "aws:lambda/functionUrl:FunctionUrl": {"functionUrl": f"https://{_h(name)}.lambda-url.us-east-1.on.aws/",
                                               "urlId": _h(name)},
        "aws:cloudfront/distribution:Distribution": {"domainName": f"d{_h(name)}.cloudfront.net", "hostedZoneId": "Z2FDTNDATAQYW2"},
        "aws:lb/loadBalancer:LoadBalancer": {"dnsName": f"{physical}.us-east-1.elb.amazonaws.com", "zoneId": "Z35SXDOTRQ7X7K"},
        "aws:ecr/repository:Repository": {"repositoryUrl": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{physical}",
                                          "arn": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{physical}"},
        "aws:s3/bucket:Bucket": {"bucket": f"{name}-{_h(name)}", "arn": f"arn:aws:s3:::{name}-{_h(name)}"},
        "aws:route53/record:Record": {"fqdn": str(inputs.get("name", "")).rstrip(".")},
        "aws:dynamodb/table:Table": {"arn": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{physical}"},
        "aws:ecs/cluster:Cluster": {"arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{physical}"},
        "aws:ecs/taskDefinition:TaskDefinition": {"arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{inputs.get('family')}:1"},
        "aws:secretsmanager/secret:Secret": {"arn": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{physical}-AbCdEf"},
        "aws:cloudwatch/logGroup:LogGroup": {"arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{physical}"},
        "aws:sfn/stateMachine:StateMachine": {"arn": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{physical}"},
        "aws:iam/role:Role": {"arn": f"arn:aws:iam::{ACCOUNT}:role/{physical}"},
        "aws:ec2/eip:Eip": {"allocationId": f"eipalloc-{_h(name)}", "publicIp": f"203.0.113.{int(_h(name), 16) % 250 + 1}"},
    }
    out.update(extra.get(typ, {}))
    return out


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    resources: list[Recorded] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any], str | None]] = field(default_factory=list)
    # (type, name) -> options: keyed, because Pulumi registers resources concurrently and one shared
    # slot let a resource take another's options (or none: retain_on_delete read as a KeyError)
    pending_options: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    default_vpc: bool = True  # False: an account whose default VPC was deleted

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        options = self.pending_options.pop((args.typ, args.name), {})
        self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), args.provider or "", options))
        state = {**args.inputs, **_computed(args.typ, args.name, dict(args.inputs))}
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append((args.token, dict(args.args), args.provider))
        answers: dict[str, dict[str, Any]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/test", "userId": "AIDA", "id": ACCOUNT,
            },
            "aws:route53/getZone:getZone": {
                "zoneId": f"Z{_h(str(args.args.get('name'))).upper()}", "name": args.args.get("name"), "id": "zone",
            },
            "aws:ssm/getParameter:getParameter": {
                "value": "ami-0123456789abcdef0", "name": args.args.get("name"), "type": "String", "id": "param",
            },
            "aws:ec2/getVpc:getVpc": {"id": "vpc-0default", "cidrBlock": "172.31.0.0/16"},
            "aws:ec2/getVpcs:getVpcs": {"id": "vpcs", "ids": ["vpc-0default"] if self.default_vpc else []},
            "aws:ec2/getSubnet:getSubnet": {"id": args.args.get("id"), "vpcId": "vpc-0configured"},
            "aws:ec2/getSubnets:getSubnets": {"id": "subnets", "ids": ["subnet-a", "subnet-b"]},
            "aws:index/getAvailabilityZones:getAvailabilityZones": {"id": "azs", "names": ["us-east-1a", "us-east-1b"]},
        }
        return answers.get(args.token, {}), []

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name_contains: str) -> Recorded:
        found = [r for r in self.of_type(typ) if name_contains in r.name]
        assert len(found) == 1, f"{len(found)} {typ} named *{name_contains}*: {[r.name for r in self.of_type(typ)]}"
        return found[0]


def parse_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class OptionsMonitor(MockMonitor):  # type: ignore[misc]
    """The mock monitor, also keeping each resource's options: ``MockResourceArgs`` carries no
    ``delete_before_replace`` or ``retain_on_delete``, and several AWS constraints are about them."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        self.recording.pending_options[(request.type, request.name)] = {
            "delete_before_replace": bool(request.deleteBeforeReplace),
            "retain_on_delete": bool(request.retainOnDelete),
            "ignore_changes": list(request.ignoreChanges),
            "replace_on_changes": list(request.replaceOnChanges),
            "dependencies": list(request.dependencies),  # URNs: depends_on and those its inputs come from
        }
        return super().RegisterResource(request)
