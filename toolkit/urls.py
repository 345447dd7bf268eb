"""Web endpoint labels, hostnames and custom domains.

A deployed endpoint lives at ``https://<source>--<label>.<domain>`` where

* ``source`` is the workspace slug, plus ``-<environment>`` when an environment is set;
* ``label`` is the user's ``label=`` (validated, never rewritten) or ``<app>-<function>``
  normalised to ``[a-z0-9-]``;
* ephemeral apps (``toolkit serve``) append the dev suffix (``-dev`` by default).

A DNS label holds at most 63 characters.  A longer host label is cut to
``base[:63 - 7 - len(suffix)] + "-" + sha256(base)[:6] + suffix`` where ``base`` is the
label *without* the suffix, so the dev and deployed versions of one endpoint share a hash
and distinct long labels stay distinct.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from toolkit import config
from toolkit.exception import InvalidError

MAX_LABEL = 63
HASH_LEN = 6
SOURCE_SEPARATOR = "--"

_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """Lower-case ``name`` and turn every run of other characters into one dash."""
    return _NOT_SLUG.sub("-", name.lower()).strip("-")


def label_problem(label: str) -> str | None:
    """Why ``label`` cannot be a user label, or None when it is fine."""
    if not label:
        return "it is empty"
    if len(label) > MAX_LABEL:
        return f"it is {len(label)} characters long and the limit is {MAX_LABEL}"
    if not _LABEL_RE.match(label):
        bad = sorted({c for c in label if not (c.islower() or c.isdigit() or c == "-")} - {""})
        if bad:
            return f"it contains {', '.join(map(repr, bad))}; use only lower-case letters, digits and '-'"
        return "it must start and end with a letter or digit"
    if SOURCE_SEPARATOR in label:
        return f"it contains {SOURCE_SEPARATOR!r}, which separates the workspace from the label"
    return None


def validate_user_label(label: str) -> str:
    problem = label_problem(label)
    if problem:
        raise InvalidError(
            f"Invalid web endpoint label {label!r}: {problem}. "
            f"Labels are used as they are written (e.g. label={slugify(label) or 'my-endpoint'!r})."
        )
    return label


def default_label(app_name: str, function_name: str) -> str:
    return slugify(f"{app_name}-{function_name}")


def source(workspace: str, environment: str | None = None) -> str:
    ws = slugify(workspace)
    if not ws:
        raise InvalidError(f"Workspace {workspace!r} has no letters or digits; set TOOLKIT_WORKSPACE")
    return f"{ws}-{slugify(environment)}" if environment else ws


def truncate(base: str, suffix: str = "") -> str:
    """Fit ``base + suffix`` into one DNS label, hashing ``base`` when it is too long."""
    if len(base) + len(suffix) <= MAX_LABEL:
        return base + suffix
    digest = hashlib.sha256(base.encode()).hexdigest()[:HASH_LEN]
    # Exactly the documented rule (no stripping of a trailing '-'): other tools may recompute it.
    return f"{base[: MAX_LABEL - HASH_LEN - 1 - len(suffix)]}-{digest}{suffix}"


def host_label(
    label: str, *, workspace: str, environment: str | None = None, ephemeral: bool = False,
    dev_suffix: str | None = None,
) -> str:
    """The full DNS label of an endpoint: ``<source>--<label>[<dev suffix>]``, at most 63 characters."""
    suffix = (dev_suffix if dev_suffix is not None else (config.setting("dev_suffix") or "")) if ephemeral else ""
    if suffix and label_problem(suffix.strip("-")):
        raise InvalidError(f"Dev suffix {suffix!r} is not DNS-safe; use something like '-dev'")
    return truncate(f"{source(workspace, environment)}{SOURCE_SEPARATOR}{label}", suffix)


@dataclass(frozen=True)
class CustomDomain:
    name: str
    kind: str  # "apex" | "subdomain" | "wildcard"

    @property
    def is_wildcard(self) -> bool:
        return self.kind == "wildcard"


def validate_domain(name: str) -> CustomDomain:
    """Check a custom domain name (``example.com``, ``api.example.com``, ``*.example.com``).

    "apex" here means two labels; a zone under a multi-part public suffix (``example.co.uk``)
    is told apart at deploy time, when the hosted zone is looked up.
    """
    domain = name.lower().rstrip(".")
    labels = domain.split(".")
    kind = "wildcard" if labels[0] == "*" else ("apex" if len(labels) == 2 else "subdomain")
    checked = labels[1:] if kind == "wildcard" else labels
    problem = _domain_problem(domain, checked)
    if problem:
        raise InvalidError(f"Invalid custom domain {name!r}: {problem}.")
    return CustomDomain(domain, kind)


def _domain_problem(domain: str, labels: list[str]) -> str | None:
    if len(domain) > 253:
        return "a domain name holds at most 253 characters"
    if "*" in "".join(labels):
        return "a wildcard must be the whole left-most label, as in '*.example.com'"
    if len(labels) < 2:
        return "it needs at least a name and a top-level domain, as in 'example.com'"
    for label in labels:
        if not label or len(label) > MAX_LABEL or not _LABEL_RE.match(label):
            return (f"the label {label!r} must be 1-63 letters, digits or '-' and must not "
                    "start or end with '-'")
    if labels[-1].isdigit():
        return "the top-level domain cannot be all digits"
    return None


def web_url(host: str, domain: str | None = None, *, scheme: str = "https", port: int | None = None) -> str | None:
    """``scheme://host.domain[:port]``, or None when no domain is known."""
    domain = domain or config.setting("domain")
    if not domain:
        return None
    default_port = {"https": 443, "http": 80}.get(scheme)
    netloc = f"{host}.{domain}" + (f":{port}" if port and port != default_port else "")
    return f"{scheme}://{netloc}"
