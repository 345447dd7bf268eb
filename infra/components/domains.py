"""Route53 zones and DNS-validated ACM certificates.

A certificate for CloudFront must live in us-east-1: callers pass the explicit us-east-1
provider. One validation record serves ``x`` and ``*.x`` (ACM asks for the same CNAME), so
records are keyed by the bare name.

ACM asks every certificate of a name in one account for the same validation CNAME, so two
stacks on one base domain declare the same record. Each may write it (``allow_overwrite``:
the value is identical), but neither deletes it on destroy (``retain_on_delete``): the other
stack's certificate still renews through it, and a leftover validation CNAME is harmless.
Alias records are the opposite: a name pointing at one stack's front door belongs to that
stack, so a second stack claiming it fails instead of silently taking it over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import child
from infra.dns import validation_name
from infra.naming import slug

__all__ = ["Certificate", "CertificateArgs", "ZoneLookup", "alias_records"]


class ZoneLookup:
    """``aws.route53.get_zone`` once per zone name, through the given provider."""

    def __init__(self, provider: aws.Provider) -> None:
        self._provider = provider
        self._zones: dict[str, pulumi.Output[str]] = {}

    def zone_id(self, zone: str) -> pulumi.Output[str]:
        if zone not in self._zones:
            result = aws.route53.get_zone_output(
                name=zone, private_zone=False, opts=pulumi.InvokeOptions(provider=self._provider)
            )
            self._zones[zone] = result.zone_id
        return self._zones[zone]


@dataclass
class CertificateArgs:
    domains: Sequence[str]  # first is the certificate's name, the rest its SANs
    zone_id_for: Callable[[str], pulumi.Input[str]]
    provider: aws.Provider  # us-east-1 for CloudFront, the default region otherwise


class Certificate(pulumi.ComponentResource):
    certificate_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:domains:Certificate", name, None, opts)
        cert = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=args.domains[0],
            subject_alternative_names=list(args.domains[1:]),
            validation_method="DNS",
            opts=child(self, provider=args.provider),
        )
        fqdns = [self._record(name, cert, domain, args) for domain in _unique_validation_names(args.domains)]
        validation = aws.acm.CertificateValidation(
            f"{name}-validation",
            certificate_arn=cert.arn,
            validation_record_fqdns=fqdns,
            opts=child(self, provider=args.provider),
        )
        self.certificate_arn = validation.certificate_arn
        self.register_outputs({"certificate_arn": self.certificate_arn})

    def _record(self, name: str, cert: aws.acm.Certificate, domain: str, args: CertificateArgs) -> pulumi.Output[str]:
        option = cert.domain_validation_options.apply(
            lambda options: next(o for o in options if validation_name(o.domain_name or "") == domain)
        )
        record = aws.route53.Record(
            f"{name}-validation-{slug(domain)}",
            zone_id=args.zone_id_for(domain),
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=60,
            allow_overwrite=True,
            opts=child(self, retain_on_delete=True),
        )
        return record.fqdn


def _unique_validation_names(domains: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(validation_name(d) for d in domains))


def alias_records(
    parent: pulumi.Resource,
    name: str,
    domain: str,
    zone_id: pulumi.Input[str],
    target_name: pulumi.Input[str],
    target_zone_id: pulumi.Input[str],
    ipv6: bool = True,
) -> list[aws.route53.Record]:
    """A (and AAAA) alias records: the only record an apex name may carry, fine for any name."""
    types = ["A", "AAAA"] if ipv6 else ["A"]
    return [
        aws.route53.Record(
            f"{name}-{slug(domain)}-{rtype.lower()}",
            zone_id=zone_id,
            name=domain,
            type=rtype,
            aliases=[{"name": target_name, "zone_id": target_zone_id, "evaluate_target_health": False}],
            allow_overwrite=False,
            opts=child(parent),
        )
        for rtype in types
    ]
