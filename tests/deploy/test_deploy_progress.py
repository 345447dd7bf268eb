"""`toolkit deploy` as a person sees it, against the FAKE `pulumi` (tests/deploy/fake_pulumi): each
phase says how long it took; on a terminal a spinner runs beside it, in a pipe plain lines only."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from cli.pty_run import ANSI, run_in_pty, visible
from deploy_helpers import DIGEST_A, REPO, FakePulumi, write_images

TAGS = {"hello": DIGEST_A, "show_url": DIGEST_A, "web_endpoint_handler": DIGEST_A}
OUTPUTS = {"app": "text_to_speech", "endpoints": {}, "custom_domain_urls": {}, "functions": {}, "secrets": {}}
RESOURCES = [["aws:lambda/function:Function", f"text-to-speech-main-{t}-lambda-function"] for t in TAGS]


def _deploy_args(tmp_path: Path) -> list[str]:
    images = write_images(tmp_path / "images.json", TAGS)
    return ["deploy", "examples/urls_and_domains.py", "--images", str(images), "--no-verify"]


def test_in_a_pipe_each_phase_ends_with_its_time_and_no_escape_sequences(fake_pulumi: FakePulumi,
                                                                           tmp_path: Path) -> None:
    fake_pulumi.scenario(outputs=OUTPUTS, resources=RESOURCES)
    result = fake_pulumi.run(*_deploy_args(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    deploying = lines.index("==> Deploying resources")
    created = [line for line in lines[deploying:] if line.startswith("  + aws:lambda/function:Function ")]
    assert len(created) == 2 * len(TAGS)  # "create..." then "created", each resource
    summary = next(i for i, line in enumerate(lines) if line.startswith("==> Resources: 3 created"))
    assert re.fullmatch(r"    done in \d+\.\ds", lines[summary - 1]), lines  # the phase's time, before its summary
    phases = [line for line in lines if line.startswith("==> ") and not line.startswith("==> Resources")]
    assert len([line for line in lines if re.fullmatch(r"    done in \d+\.\ds", line)]) == len(phases), lines
    images = lines.index("==> Images")  # the image phase reports through toolkit.progress.Display (plain here)
    assert lines[images + 1].startswith("    using prebuilt images from "), lines
    assert re.fullmatch(r"    done in \d+\.\ds", lines[images + 2]), lines


def test_on_a_terminal_a_spinner_beside_each_phase_then_its_time(fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    fake_pulumi.scenario(outputs=OUTPUTS, resources=RESOURCES)
    code, output = run_in_pty([sys.executable, "-m", "toolkit.cli", *_deploy_args(tmp_path)], cwd=REPO,
                              env=fake_pulumi.env, timeout=120)
    shown = visible(output)
    assert code == 0, shown
    assert ANSI.search(output)
    assert "Deploying resources ..." in shown  # the spinner's line while the phase ran
    assert re.search(r"using prebuilt images from .*\n.*✓ Images done in \d+\.\ds", shown), shown
    assert re.search(r"✓ Deploying resources done in \d+\.\ds", shown), shown
    assert "==> Resources: 3 created" in shown
    assert "Deployed text_to_speech (no web endpoints)." in shown  # the result, after the phases ended
