"""Async call surface: ``.aio`` on every call, ``FunctionCall.get.aio``/``gather``, async local entrypoints."""

from __future__ import annotations

import pytest
from core_helpers import REPO, toolkit_cli

pytestmark = pytest.mark.timeout(180)

ASYNC_APP = str(REPO / "tests" / "fixtures" / "apps" / "async_app.py")


def test_toolkit_run_awaits_an_async_local_entrypoint() -> None:
    result = toolkit_cli("run", ASYNC_APP, "--n", "3")
    assert result.returncode == 0, result.stderr
    assert "coroutine" not in result.stdout + result.stderr
    assert result.stdout.strip() == "9 [0, 1, 4] 16 [4, 9] [0, 1, 4] [25, 36] boom local=True worker=False"


def test_gather_refuses_what_is_not_a_call() -> None:
    import toolkit
    from toolkit.exception import InvalidError

    with pytest.raises(InvalidError, match=r"gather\(\) takes FunctionCall objects .* got 42"):
        toolkit.FunctionCall.gather(42)  # type: ignore[arg-type]


def test_public_module_paths_of_the_hosted_client() -> None:
    import toolkit
    from toolkit.functions import Function, FunctionCall

    assert toolkit.FunctionCall is FunctionCall and toolkit.Function is Function
