"""`toolkit run --help` works wherever --help is typed (it used to be read as the app's file name)."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import EXAMPLES, toolkit_cli

TWO_FUNCTIONS = '''
import toolkit

app = toolkit.App("two")


@app.function()
def double(x: int) -> int:
    return 2 * x


@app.function()
def greet(name: str = "world") -> str:
    """Say hello."""
    return f"hello {name}"
'''


def test_run_help_alone_shows_the_command_help() -> None:
    result = toolkit_cli("run", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: toolkit run" in result.stdout and "APP_REF" in result.stdout
    assert "No such file" not in result.stderr


def test_run_module_help_shows_the_entrypoint_options() -> None:
    result = toolkit_cli("run", "-m", "examples.hello", "--help")
    assert result.returncode == 0, result.stderr
    assert "--n INTEGER" in result.stdout


def test_run_function_help_shows_its_options(tmp_path: Path) -> None:
    result = toolkit_cli("run", f"{EXAMPLES / 'hello.py'}::square", "--help")
    assert result.returncode == 0, result.stderr
    assert "--x INTEGER" in result.stdout and "[required]" in result.stdout


def test_run_help_on_an_app_with_several_functions_lists_them(tmp_path: Path) -> None:
    app = tmp_path / "two.py"
    app.write_text(TWO_FUNCTIONS)
    result = toolkit_cli("run", str(app), "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "double, greet" in result.stdout
    assert f"toolkit run {app}::double --help" in result.stdout
    described = toolkit_cli("run", f"{app}::greet", "--help", cwd=tmp_path)
    assert "Say hello." in described.stdout and "--name TEXT" in described.stdout
