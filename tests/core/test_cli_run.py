"""`toolkit run`: entrypoint and function parameters become options; mistakes exit non-zero in one line."""

from __future__ import annotations

from core_helpers import REPO, toolkit_cli

CALLS = str(REPO / "tests" / "fixtures" / "apps" / "calls_app.py")


def test_run_local_entrypoint_with_options() -> None:
    result = toolkit_cli("run", CALLS, "--x", "4", "--label", "sq", "--loud")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SQ=16"


def test_run_function_prints_result() -> None:
    result = toolkit_cli("run", CALLS + "::add", "--a", "2", "--b", "40")
    assert (result.returncode, result.stdout.strip()) == (0, "42")


def test_run_generator_prints_items() -> None:
    result = toolkit_cli("run", CALLS + "::countdown", "--n", "3")
    assert result.stdout.split() == ["3", "2", "1"]


def test_bad_option_value_is_a_usage_error() -> None:
    result = toolkit_cli("run", CALLS + "::square", "--x", "three")
    assert result.returncode == 2
    assert "'three' is not a valid integer" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_required_option() -> None:
    result = toolkit_cli("run", CALLS + "::square")
    assert result.returncode == 2 and "Missing option '--x'" in result.stderr


def test_unknown_function() -> None:
    result = toolkit_cli("run", CALLS + "::nope")
    assert result.returncode == 1
    assert "has no function 'nope'; choose one of:" in result.stderr
    assert "Traceback" not in result.stderr


def test_remote_on_web_function_from_cli() -> None:
    result = toolkit_cli("run", "examples/query_params.py::square", "--x", "2")
    assert result.returncode == 1
    assert "is a web endpoint" in result.stderr and "Traceback" not in result.stderr


def test_user_exception_shows_remote_traceback_and_exits_3() -> None:
    result = toolkit_cli("run", CALLS + "::fail", "--message", "boom")
    assert result.returncode == 3
    assert 'raise KeyError(message)' in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "Error: KeyError: 'boom'"


def test_syntax_error_app() -> None:
    result = toolkit_cli("run", str(REPO / "tests/fixtures/apps/syntax_error_app.py"))
    assert result.returncode == 1 and "syntax error" in result.stderr and "Traceback" not in result.stderr


def test_secret_create_then_use(tmp_path) -> None:
    env = {"TOOLKIT_HOME": str(tmp_path)}
    created = toolkit_cli("secret", "create", "db-creds", "USER=app", "PASSWORD=pw", env=env)
    assert created.returncode == 0, created.stderr
    stored = tmp_path / "secrets" / "db-creds.json"
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    assert "pw" not in created.stdout  # values are never echoed
    bad = toolkit_cli("secret", "create", "db-creds", "NOEQUALS", env=env)
    assert bad.returncode == 2 and "is not KEY=VALUE" in bad.stderr
