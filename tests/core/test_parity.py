"""Parity with the hosted platform's client (issue 22), against tests/data/platform_surface.json.

* every name resolves and every parameter is accepted by name, except the gaps listed with a reason in
  tests/core/parity_gaps.py; a new gap fails, and so does a listed gap that has closed (the list shrinks);
* docs/parity.md is exactly what scripts/parity_table.py writes now;
* every "not supported" name raises NotSupportedError when used (never at import), naming itself and
  the alternative;
* the platform's public module paths resolve as toolkit.<same> to toolkit's objects.
"""

from __future__ import annotations

import datetime
import importlib
import inspect
import subprocess
import sys
from typing import Any

import parity
import pytest
from core_helpers import REPO
from parity_gaps import GAPS, NOTES
from test_import import HEAVY

import toolkit
from toolkit.exception import NotSupportedError

pytestmark = pytest.mark.timeout(120)

SURFACE = parity.load_surface()
ROWS = parity.compare(SURFACE)

# The platform's public module of each top-level name (its objects' __module__ in client 1.6.4; names
# whose module is private, such as Tunnel's modal._tunnel, are reached from the top level only).
HOME = {
    "App": "app", "Client": "client", "Cluster": "cluster", "Cls": "cls", "Cron": "schedule", "Dict": "dict",
    "Environment": "environments", "Error": "exception", "FilePatternMatcher": "file_pattern_matcher",
    "Function": "functions", "FunctionCall": "functions", "Image": "image",
    "NetworkFileSystem": "network_file_system", "Period": "schedule", "Proxy": "proxy", "Queue": "queue",
    "Retries": "retries", "CloudBucketMount": "cloud_bucket_mount", "Sandbox": "sandbox",
    "SchedulerPlacement": "scheduler_placement", "Secret": "secret", "Server": "server", "Volume": "volume",
    "Workspace": "workspace", "asgi_app": "partial_function", "batched": "partial_function",
    "clustered": "partial_function", "concurrent": "partial_function", "enable_output": "output",
    "enter": "partial_function", "exit": "partial_function", "fastapi_endpoint": "partial_function",
    "method": "partial_function", "parameter": "cls", "sessioned": "partial_function",
    "web_endpoint": "partial_function", "web_server": "partial_function", "wsgi_app": "partial_function",
}
# Modules programs import that define no top-level name of their own.
OTHER_MODULES = ("runner", "config", "billing", "types", "experimental")
# Sandbox helpers' module paths, with the names programs import from them.
SANDBOX_PATHS = {"stream_type": ("StreamType",), "container_process": ("ContainerProcess", "StreamType"),
                 "io_streams": ("StreamReader", "StreamWriter", "StreamType")}


def test_every_gap_is_listed_and_every_listed_gap_is_still_open() -> None:
    found = parity.gaps(ROWS)
    unlisted = sorted(found - GAPS.keys())
    closed = sorted(GAPS.keys() - found)
    assert not unlisted, f"new parity gaps: {unlisted}; make them resolve (or refuse), or list them with a " \
                         "reason in tests/core/parity_gaps.py"
    assert not closed, f"gaps that have closed: {closed}; delete them from tests/core/parity_gaps.GAPS"


def test_every_note_names_a_name_of_the_surface() -> None:
    names = {r.name for r in ROWS}
    assert sorted(NOTES.keys() - names) == []
    assert [r.name for r in ROWS if r.name in NOTES and r.status != "works (toolkit meaning)"] == []


def test_docs_parity_page_is_fresh() -> None:
    written = (REPO / "docs" / "parity.md").read_text()
    assert written == parity.table(ROWS, SURFACE), "docs/parity.md is stale: run python3 scripts/parity_table.py"


def _owner_and_member(name: str) -> tuple[Any, str | None]:
    owner, _, member = name.partition(".")
    return getattr(toolkit, owner), (member or None)


def _placeholders(fn: Any) -> tuple[list[Any], dict[str, Any]]:
    """None for each required parameter, so the call reaches the refusal instead of a TypeError."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.kind == p.KEYWORD_ONLY:
            kwargs[p.name] = None
        else:
            args.append(None)
    return args, kwargs


def _use(name: str) -> None:
    """Use a refused name the way a program would: call it, instantiate it, or read it."""
    owner, member = _owner_and_member(name)
    if member is None:
        args, kwargs = _placeholders(owner)
        owner(*args, **kwargs)
        return
    static = inspect.getattr_static(owner, member)
    instance = object.__new__(owner)  # no constructor side effects: the member alone must refuse
    if isinstance(static, property):
        getattr(instance, member)
        return
    bound = getattr(owner, member) if isinstance(static, (staticmethod, classmethod)) else getattr(instance, member)
    args, kwargs = _placeholders(bound)
    bound(*args, **kwargs)


REFUSED = [r for r in ROWS if r.status == "not supported"]


@pytest.mark.parametrize("row", REFUSED, ids=[r.name for r in REFUSED])
def test_a_refused_name_raises_when_used_naming_itself_and_the_alternative(row: parity.Row) -> None:
    with pytest.raises(NotSupportedError) as caught:
        _use(row.name)
    message = str(caught.value)
    short = row.name.rpartition(".")[2]
    assert short in message, f"{row.name}: the message should name the feature: {message}"
    assert "not supported" in message, message
    assert any(word in message.lower() for word in ("instead", "use ", "run ", "pass ", "start ")), \
        f"{row.name}: the message should name the alternative: {message}"


def test_importing_every_platform_module_path_refuses_nothing_and_stays_light() -> None:
    modules = sorted({*HOME.values(), *OTHER_MODULES, *SANDBOX_PATHS})
    code = "import importlib, sys, toolkit\n" + "".join(f"importlib.import_module('toolkit.{m}')\n" for m in modules)
    code += f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"  # no AWS, Pulumi or web-server code at import (as test_import checks)


@pytest.mark.parametrize("name", sorted(HOME))
def test_a_platform_module_path_gives_toolkits_object(name: str) -> None:
    module = importlib.import_module(f"toolkit.{HOME[name]}")
    assert getattr(module, name) is getattr(toolkit, name)


@pytest.mark.parametrize("module", sorted(SANDBOX_PATHS))
def test_sandbox_stream_module_paths_give_the_objects_sandboxes_use(module: str) -> None:
    from toolkit.sandboxes import streams

    found = importlib.import_module(f"toolkit.{module}")
    assert all(hasattr(found, name) for name in SANDBOX_PATHS[module])
    assert found.StreamType is streams.StreamType


def test_module_level_refusals_name_the_alternative() -> None:
    from toolkit import billing, experimental, types

    with pytest.raises(NotSupportedError, match="Cost Explorer"):
        billing.workspace_billing_report(start=datetime.datetime(2026, 1, 1))
    with pytest.raises(NotSupportedError, match=r"toolkit\.types\.AppInfo .*Instead"):
        types.AppInfo  # noqa: B018 - reading the name is the use
    with pytest.raises(NotSupportedError, match=r"use max_inputs= on @app.function"):
        experimental.stop_fetching_inputs()  # (experimental.http_server is built: tests/serve/test_platform_aliases.py)
    assert experimental.clustered is toolkit.clustered
    assert not hasattr(types, "_private")  # private names stay AttributeErrors (copy, pickle, inspect rely on it)


def test_a_refused_class_refuses_its_platform_classmethods_too() -> None:
    with pytest.raises(NotSupportedError, match=r"AWS_PROFILE.*Client\.from_env was asked for"):
        toolkit.Client.from_env()
    assert inspect.signature(toolkit.CloudBucketMount).parameters["read_only"].default is False
