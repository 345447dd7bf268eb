"""`toolkit secret create | list | delete`, locally and in Secrets Manager (a moto server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cli_helpers import toolkit_cli


def test_local_secrets_list_keys_never_values_and_delete(tmp_path: Path) -> None:
    env = {"TOOLKIT_HOME": str(tmp_path)}
    assert toolkit_cli("secret", "create", "db", "USER=admin", "PASSWORD=hunter2", env=env).returncode == 0
    assert toolkit_cli("secret", "create", "api", "TOKEN=t0k", env=env).returncode == 0

    listed = toolkit_cli("secret", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == ["api\tTOKEN", "db\tPASSWORD, USER"]
    assert "hunter2" not in listed.stdout
    as_json = json.loads(toolkit_cli("secret", "list", "--json", env=env).stdout)
    assert as_json == [{"keys": ["TOKEN"], "name": "api"}, {"keys": ["PASSWORD", "USER"], "name": "db"}]

    deleted = toolkit_cli("secret", "delete", "db", "--yes", env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert not (tmp_path / "secrets" / "db.json").exists()
    assert json.loads(toolkit_cli("secret", "list", "--json", env=env).stdout) == [{"keys": ["TOKEN"], "name": "api"}]

    again = toolkit_cli("secret", "delete", "db", "--yes", env=env)
    assert again.returncode == 1 and "No local secret 'db' (local secrets: api)" in again.stderr
    assert "Traceback" not in again.stderr


def test_delete_asks_first_and_keeps_the_secret_on_no(tmp_path: Path) -> None:
    env = {"TOOLKIT_HOME": str(tmp_path)}
    toolkit_cli("secret", "create", "db", "USER=admin", env=env)
    refused = toolkit_cli("secret", "delete", "db", env=env)  # stdin is empty: the prompt reads "no"
    assert refused.returncode == 1 and "Delete local secret 'db'?" in refused.stdout
    assert (tmp_path / "secrets" / "db.json").exists()


def test_secrets_manager_list_and_delete(aws_env: dict[str, str], tmp_path: Path) -> None:
    env = {**aws_env, "TOOLKIT_HOME": str(tmp_path)}
    for name in ("db", "api"):
        created = toolkit_cli("secret", "create", name, "K=v", "--target", "aws", env=env)
        assert created.returncode == 0, created.stderr
    import boto3

    sm = boto3.client("secretsmanager", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name="eu-west-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    sm.create_secret(Name="unrelated/db", SecretString="{}")  # not a toolkit secret: not listed

    listed = json.loads(toolkit_cli("secret", "list", "--target", "aws", "--json", env=env).stdout)
    assert [row["name"] for row in listed] == ["api", "db"]
    assert all(row["changed"] for row in listed)
    text = toolkit_cli("secret", "list", "--target", "aws", env=env)
    assert [line.split("\t")[0] for line in text.stdout.splitlines()] == ["api", "db"]

    deleted = toolkit_cli("secret", "delete", "db", "--target", "aws", "--yes", "--force", env=env)
    assert deleted.returncode == 0, deleted.stderr
    listed = json.loads(toolkit_cli("secret", "list", "--target", "aws", "--json", env=env).stdout)
    assert [row["name"] for row in listed] == ["api"]

    missing = toolkit_cli("secret", "delete", "nope", "--target", "aws", "--yes", env=env)
    assert missing.returncode == 1 and "Secret 'nope' is not in Secrets Manager" in missing.stderr


def test_secrets_manager_without_a_region_says_how_to_set_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(TOOLKIT_HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "none"), HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "toolkit.cli", "secret", "list", "--target", "aws"], env=env,
                            capture_output=True, text=True, timeout=60)  # only this environment: no AWS_ variable
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "region" in result.stderr.lower()
