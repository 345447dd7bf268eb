"""Domain names: which Route53 zone holds a name, and how it must be recorded.

Pure helpers. Three shapes of custom domain exist: the apex of a zone (``example.com``,
which can only be an alias record), a subdomain (``api.example.com``) and a wildcard
(``*.apps.example.com``, which needs a wildcard certificate).
"""

from __future__ import annotations

from typing import Literal

__all__ = ["DomainKind", "domain_kind", "origin_domain", "validation_name", "workspace_url", "zone_for"]

DomainKind = Literal["apex", "subdomain", "wildcard"]


def zone_for(domain: str, hosted_zone: str | None = None) -> str:
    """The hosted zone that holds ``domain``.

    An explicit ``toolkit:hostedZone`` wins when ``domain`` lies inside it; otherwise the
    registrable part is taken as the last two labels (``api.example.com`` -> ``example.com``).
    Suffixes such as ``co.uk`` need the explicit zone.
    """
    bare = domain.removeprefix("*.").rstrip(".").lower()
    if hosted_zone:
        zone = hosted_zone.rstrip(".").lower()
        if bare == zone or bare.endswith("." + zone):
            return zone
    return ".".join(bare.split(".")[-2:])


def domain_kind(domain: str, hosted_zone: str | None = None) -> DomainKind:
    if domain.startswith("*."):
        return "wildcard"
    return "apex" if domain.rstrip(".").lower() == zone_for(domain, hosted_zone) else "subdomain"


def validation_name(domain: str) -> str:
    """ACM validates ``*.x`` and ``x`` with the same record, keyed by the bare name."""
    return domain.removeprefix("*.")


def origin_domain(host: str, custom_domain: str, hosted_zone: str | None = None) -> str:
    """``<host>.<zone of the custom domain>``: a name CloudFront can reach an ALB endpoint by over
    HTTPS when no base domain exists (a certificate can name it; the ALB's own DNS name it cannot)."""
    return f"{host}.{zone_for(custom_domain, hosted_zone)}"


def workspace_url(host: str, base_domain: str | None) -> str | None:
    """``https://<workspace>[-<env>]--<label>.<baseDomain>``, or None without a base domain."""
    return f"https://{host}.{base_domain}" if base_domain else None
