"""``toolkit plan`` and ``toolkit deploy`` say, one line per function, that a memory snapshot asked for
with ``enable_memory_snapshot=True`` or ``@enter(snap=True)`` is not taken on AWS, and that snap hooks
still run first at each cold start; functions that asked for none get no line."""

from __future__ import annotations

from pathlib import Path

from deploy_helpers import DIGEST_A, FakePulumi, base_env, no_pulumi_path, run_cli, write_images

APP = '''
import toolkit

app = toolkit.App("snappy")


@app.function(enable_memory_snapshot=True)
def warm(x: int) -> int:
    return x


@app.function()
def plain(x: int) -> int:
    return x


@app.cls(backend="ecs")
class Model:
    @toolkit.enter(snap=True)
    def load(self) -> None:
        self.weights = 1

    @toolkit.enter()
    def connect(self) -> None:
        pass

    @toolkit.method()
    def predict(self, x: int) -> int:
        return x
'''

EXPECTED = [
    "memory snapshot Model.predict: not taken: ECS tasks take no memory snapshots; its @enter(snap=True) hooks "
    "(load) still run first, at each cold start",
    "memory snapshot warm: not taken: SnapStart is not applied to toolkit's container-image Lambda functions (their "
    "runtime client does not implement SnapStart's snapshot/restore lifecycle); @enter(snap=True) hooks still run "
    "first, at each cold start",
]


def _app(tmp_path: Path) -> Path:
    path = tmp_path / "snappy.py"
    path.write_text(APP)
    return path


def _snapshot_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("memory snapshot ")]


def test_plan_says_per_function_that_no_memory_snapshot_is_taken(tmp_path: Path) -> None:
    env = base_env(tmp_path, no_pulumi_path(tmp_path))
    result = run_cli(["plan", str(_app(tmp_path)), "--region", "eu-west-1"], env)
    assert result.returncode == 0, result.stderr
    assert _snapshot_lines(result.stdout) == EXPECTED


def test_deploy_says_it_too(fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    fake_pulumi.scenario(outputs={"app": "snappy", "endpoints": {}, "functions": {}, "secrets": {}}, resources=[],
                         repository_url="")
    images = write_images(tmp_path / "images.json", {t: DIGEST_A for t in ("warm", "plain", "Model.predict")})
    result = fake_pulumi.run("deploy", str(_app(tmp_path)), "--images", str(images))
    assert result.returncode == 0, result.stderr
    assert _snapshot_lines(result.stdout) == EXPECTED
