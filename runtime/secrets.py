"""Secrets Manager -> ``os.environ`` at init, from ``TOOLKIT_SECRET_ARNS`` (a JSON list of ARNs).

Each secret's SecretString is a JSON object of ``{KEY: value}`` (how toolkit stores
``Secret.from_dict`` / ``from_dotenv`` / named secrets).  Only key names are ever logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, MutableMapping

from runtime.awsclients import client
from runtime.environment import ContainerEnv

SECRET_ARNS_ENV = ContainerEnv.name("secret_arns")
log = logging.getLogger("toolkit.runtime")


class SecretFormatError(ValueError):
    pass


def secret_arns(env: MutableMapping[str, str] = os.environ) -> list[str]:
    text = env.get(SECRET_ARNS_ENV) or "[]"
    arns = json.loads(text)
    if not isinstance(arns, list) or not all(isinstance(a, str) for a in arns):
        raise SecretFormatError(f"{SECRET_ARNS_ENV} must be a JSON list of secret ARNs.")
    return arns


@contextlib.contextmanager
def _botocore_quiet() -> Iterator[None]:
    """botocore's DEBUG log prints whole response bodies, i.e. the secret: mute it meanwhile."""
    logger = logging.getLogger("botocore")
    level = logger.level
    logger.setLevel(max(level, logging.INFO))
    try:
        yield
    finally:
        logger.setLevel(level)


def read_secret(arn: str) -> dict[str, str]:
    with _botocore_quiet():
        text = client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    try:
        values = json.loads(text)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        # never echo the secret's text: it may be the value itself
        raise SecretFormatError(f"Secret {arn} must hold a JSON object of KEY: value pairs.")
    return {str(k): str(v) for k, v in values.items()}


def load_secrets(env: MutableMapping[str, str] = os.environ) -> list[str]:
    """Put every configured secret's keys into ``env``; returns the key names (safe to log)."""
    names: list[str] = []
    for arn in secret_arns(env):
        values = read_secret(arn)
        env.update(values)
        names.extend(values)
    if names:
        log.info("loaded %d secret keys: %s", len(names), ", ".join(sorted(names)))
    return names
