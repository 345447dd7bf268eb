"""Every refusal names the alternative (issue 22): not only the "not supported" rows of docs/parity.md
(tests/core/test_parity.py uses each of them), but every ``NotSupportedError`` toolkit and the runtime
raise for an option or a situation they cannot honour.

The walk reads the source: each ``NotSupportedError(...)`` is built by `toolkit.unsupported.refusal`
(what, why, "Instead, ..."), or its literal text says what to do; toolkit/unsupported.py raises
the messages its callers built with ``refusal``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest
from core_helpers import REPO

import toolkit
from toolkit.exception import NotSupportedError

pytestmark = pytest.mark.timeout(120)

ALTERNATIVE = ("instead", "use ", "run ", "pass ", "start ")  # as test_parity's check of the refused names
BUILT_ELSEWHERE = {"toolkit/unsupported.py"}


def _name(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _refusals() -> Iterator[tuple[str, int, ast.Call]]:
    for package in ("toolkit", "runtime"):
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and _name(node.func) == "NotSupportedError":
                    yield path.relative_to(REPO).as_posix(), node.lineno, node


def _literal_text(node: ast.expr) -> str:
    return "".join(c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str))


def _names_an_alternative(where: str, call: ast.Call) -> bool:
    if not call.args:
        return False
    message = call.args[0]
    if isinstance(message, ast.Call) and _name(message.func) == "refusal":
        return True
    if where in BUILT_ELSEWHERE:
        return True  # toolkit.unsupported raises the messages its callers built with refusal(...)
    return any(word in _literal_text(message).lower() for word in ALTERNATIVE)


def test_the_walk_finds_the_refusals() -> None:
    assert len(list(_refusals())) > 40  # the walk reads the packages (not an empty glob)


def test_every_not_supported_error_names_an_alternative() -> None:
    silent = [f"{where}:{line}: {_literal_text(call)[:100]!r}" for where, line, call in _refusals()
              if not _names_an_alternative(where, call)]
    assert silent == [], "say what to do instead (or use toolkit.unsupported.refusal):\n" + "\n".join(silent)


# -- the messages the walk found silent, through their public calls --------------------------------------

def test_image_build_steps_refuse_volumes_and_network_file_systems_naming_the_alternative() -> None:
    with pytest.raises(NotSupportedError, match=r"run_commands\(volumes=\.\.\.\).*Instead, download into the image"):
        toolkit.Image.debian_slim().run_commands("true", volumes={"/v": object()})

    def fetch() -> None: ...

    with pytest.raises(NotSupportedError, match=r"run_function\(network_file_systems=\.\.\.\).*Instead, download "
                                                r"the files in the function itself"):
        toolkit.Image.debian_slim().run_function(fetch, network_file_systems={"/n": object()})

