"""Pulumi entry point (Pulumi.yaml: ``main: infra/``). Stack config keys: see infra/config.py
and infra/README.md."""

from __future__ import annotations

import pulumi

from infra.config import settings_from
from infra.stack import deploy

config = pulumi.Config("toolkit")
settings = settings_from(
    config.get, stack=pulumi.get_stack(), default_region=pulumi.Config("aws").get("region"), project=pulumi.get_project()
)
for key, value in deploy(settings).outputs.items():
    pulumi.export(key, value)
