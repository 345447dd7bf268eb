"""Helpers for the deploy tests: run the real CLI in a subprocess with a chosen PATH and
environment; drive the FAKE pulumi (tests/deploy/fake_pulumi/pulumi).

Imported by basename (`from deploy_helpers import ...`), as tests/infra does with infra_mocks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
FAKE_PULUMI_DIR = Path(__file__).parent / "fake_pulumi"
PYTHON_BIN = Path(sys.executable).parent
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def base_env(tmp_path: Path, path: list[Path]) -> dict[str, str]:
    """A clean environment: no AWS settings from this machine, an isolated TOOLKIT_HOME."""
    empty = tmp_path / "empty-aws-file"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_", "TOOLKIT_", "LOCALSTACK"))}
    env.update(PATH=os.pathsep.join(str(p) for p in path), HOME=str(tmp_path / "home"),
               TOOLKIT_HOME=str(tmp_path / "toolkit-home"), AWS_CONFIG_FILE=str(empty),
               AWS_SHARED_CREDENTIALS_FILE=str(empty), AWS_EC2_METADATA_DISABLED="true", NO_COLOR="1",
               COLUMNS="200")
    return env


def no_pulumi_path(tmp_path: Path) -> list[Path]:
    """PATH with Python and the system tools, where `pulumi` cannot be found."""
    path = [PYTHON_BIN, Path("/usr/bin"), Path("/bin")]
    assert shutil.which("pulumi", path=os.pathsep.join(map(str, path))) is None
    return path


def run_cli(args: list[str], env: dict[str, str], cwd: Path = REPO, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    # Progress lines ("==> ...") may come first; the error itself is the last line, and one line.
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert all(line.startswith(("==>", "    ", "  ")) for line in lines[:-1]), result.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


@dataclass
class FakePulumi:
    """The fake `pulumi` on PATH, its scenario and what it recorded."""

    dir: Path
    env: dict[str, str]

    def scenario(self, **values: Any) -> None:
        (self.dir / "scenario.json").write_text(json.dumps(values))

    def calls(self) -> list[dict[str, Any]]:
        path = self.dir / "state" / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def commands(self) -> list[list[str]]:
        return [c["argv"] for c in self.calls()]

    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.dir / "state" / "state.json").read_text()))

    def config_sets(self) -> list[dict[str, str]]:
        """Every `config set-all` as a dict of the values it set."""
        sets = []
        for argv in self.commands():
            if argv[:2] == ["config", "set-all"]:
                sets.append(dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--plaintext"))
        return sets

    def run(self, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
        return run_cli(list(args), self.env, cwd)

    def reset_calls(self) -> None:
        (self.dir / "state" / "calls.jsonl").unlink(missing_ok=True)


def write_images(path: Path, tags_digests: dict[str, str], repo: str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/toolkit/x") -> Path:
    path.write_text(json.dumps({tag: f"{repo}@{digest}" for tag, digest in tags_digests.items()}))
    return path
