"""Unknown keys in $TOOLKIT_HOME/config.toml are said once, with the setting they resemble."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import EXAMPLES, toolkit_cli


def test_unknown_config_keys_warn_once_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('workspce = "acme"\nfavourite_colour = "blue"\n')
    # A local entrypoint whose calls start workers: they read the config too, and stay quiet.
    result = toolkit_cli("run", str(EXAMPLES / "hello.py"), "--n", "2", env={"TOOLKIT_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    typo = f"{tmp_path / 'config.toml'}: unknown setting 'workspce' is ignored; did you mean 'workspace'?"
    assert result.stderr.count(typo) == 1, result.stderr
    assert result.stderr.count("unknown setting 'favourite_colour' is ignored; known settings: workspace,") == 1
    assert "Traceback" not in result.stderr


def test_known_config_keys_say_nothing(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('workspace = "acme"\ndev_suffix = "-local"\n')
    result = toolkit_cli("run", f"{EXAMPLES / 'hello.py'}::square", "--x", "3", env={"TOOLKIT_HOME": str(tmp_path)})
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "9", "")
