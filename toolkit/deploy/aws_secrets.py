"""Secret values in AWS Secrets Manager.  Values are never printed or logged.

``toolkit secret create NAME K=V --target aws`` stores a workspace secret at
``toolkit/secrets/<NAME>`` (a JSON object).  The infra program declares one empty secret per
stack (``toolkit/<app>-<stack>/<NAME>``, its ARN in the ``secrets`` output); after each
deploy the values are copied into it: a named secret's from the workspace secret, an
inline one's (``Secret.from_dict`` / ``from_dotenv``) from the app in memory.  An unchanged
value writes no new version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from toolkit.deploy.errors import DeployError

__all__ = ["WORKSPACE_PREFIX", "check_named_secrets", "delete_workspace_secret", "list_workspace_secrets",
           "put_workspace_secret", "sync_stack_secrets"]

WORKSPACE_PREFIX = "toolkit/secrets/"


def _code(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def put_workspace_secret(client: Any, name: str, values: Mapping[str, str]) -> str:
    """Create or update ``toolkit/secrets/<name>``; returns its ARN."""
    from botocore.exceptions import ClientError

    secret_id, body = WORKSPACE_PREFIX + name, json.dumps(dict(values), sort_keys=True)
    try:
        return str(client.create_secret(Name=secret_id, SecretString=body,
                                        Description=f"toolkit secret {name!r}")["ARN"])
    except ClientError as exc:
        if _code(exc) != "ResourceExistsException":
            raise DeployError(f"Secrets Manager refused secret {name!r}: {_code(exc) or exc}") from None
    return str(client.put_secret_value(SecretId=secret_id, SecretString=body)["ARN"])


def list_workspace_secrets(client: Any) -> list[dict[str, str]]:
    """The workspace secrets (``toolkit/secrets/<name>``): name and last change, never values."""
    rows: list[dict[str, str]] = []
    kwargs: dict[str, Any] = {"Filters": [{"Key": "name", "Values": [WORKSPACE_PREFIX]}]}
    while True:
        page = client.list_secrets(**kwargs)
        for entry in page.get("SecretList", []):
            if str(entry["Name"]).startswith(WORKSPACE_PREFIX):  # the filter matches a prefix of any word
                changed = entry.get("LastChangedDate") or entry.get("CreatedDate")
                rows.append({"name": str(entry["Name"])[len(WORKSPACE_PREFIX):],
                             "changed": changed.isoformat() if changed else ""})
        if not page.get("NextToken"):
            return sorted(rows, key=lambda r: r["name"])
        kwargs["NextToken"] = page["NextToken"]


def delete_workspace_secret(client: Any, name: str, *, recovery_days: int | None = 7) -> None:
    """Delete ``toolkit/secrets/<name>``: restorable for ``recovery_days`` (7-30), or at once with None."""
    from botocore.exceptions import ClientError

    options: dict[str, Any] = ({"ForceDeleteWithoutRecovery": True} if recovery_days is None
                               else {"RecoveryWindowInDays": recovery_days})
    try:
        client.delete_secret(SecretId=WORKSPACE_PREFIX + name, **options)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            raise DeployError(f"Secret {name!r} is not in Secrets Manager ({WORKSPACE_PREFIX}{name}); "
                              "`toolkit secret list --target aws` shows the ones that are.") from None
        raise DeployError(f"Secrets Manager refused to delete secret {name!r}: {_code(exc) or exc}") from None


def _current(client: Any, secret_id: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        return str(client.get_secret_value(SecretId=secret_id)["SecretString"])
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise


def _named_values(client: Any, name: str) -> str:
    value = _current(client, WORKSPACE_PREFIX + name)
    if value is None:
        raise DeployError(f"Secret {name!r} is not in Secrets Manager; create it with "
                          f"`toolkit secret create {name} KEY=VALUE... --target aws`, then deploy again.")
    return value


def check_named_secrets(client: Any, names: Iterable[str]) -> None:
    """Every ``Secret.from_name`` the app uses exists, checked before any resource changes: a
    deploy that fails on a missing secret after ``pulumi up`` has already replaced the
    functions that need it."""
    from botocore.exceptions import ClientError

    missing: list[str] = []
    for name in sorted(set(names)):
        try:
            client.describe_secret(SecretId=WORKSPACE_PREFIX + name)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise DeployError(f"Cannot read secret {name!r} from Secrets Manager ({_code(exc) or exc}); "
                                  "the deploying user needs secretsmanager:DescribeSecret on "
                                  f"{WORKSPACE_PREFIX}*.") from None
            missing.append(name)
    if missing:
        first = missing[0]
        raise DeployError(f"Named secret{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} not in "
                          f"Secrets Manager ({WORKSPACE_PREFIX}<name>); nothing was deployed. Create "
                          f"{'each' if len(missing) > 1 else 'it'} with `toolkit secret create {first} KEY=VALUE... "
                          "--target aws`, then deploy again.")


def sync_stack_secrets(client: Any, secrets: Iterable[Any], arns: Mapping[str, str],
                       report: Callable[[str], None]) -> list[str]:
    """Copy each secret's values into its stack secret; returns the names written."""
    written: list[str] = []
    for secret in secrets:
        arn = arns.get(secret.name)
        if arn is None:
            continue
        body = _named_values(client, secret.name) if secret.source == "named" else \
            json.dumps(secret.values(), sort_keys=True)
        if _current(client, arn) != body:
            client.put_secret_value(SecretId=arn, SecretString=body)
            written.append(secret.name)
            report(f"secret {secret.name}: value updated")
    return written
