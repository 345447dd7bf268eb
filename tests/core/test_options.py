"""`@app.function` / `@app.cls` options: every option of the hosted platform by name, typed, each one
working, saying it has no effect here, or refusing with the alternative."""

from __future__ import annotations

import inspect
import textwrap
import warnings
from pathlib import Path

import pytest

import toolkit
from toolkit.exception import InvalidError, NotSupportedWarning
from toolkit.loader import load_app
from toolkit.options import NO_EFFECT

pytestmark = pytest.mark.timeout(120)

# The keyword parameters of App.function in the hosted platform's client 1.6.4 (read with
# inspect.signature in a throwaway venv; that client is never imported here).
PLATFORM_FUNCTION_OPTIONS = (
    "image", "schedule", "env", "secrets", "gpu", "serialized", "network_file_systems", "volumes", "cpu",
    "memory", "ephemeral_disk", "min_containers", "max_containers", "buffer_containers", "scaledown_window",
    "proxy", "retries", "timeout", "startup_timeout", "name", "is_generator", "cloud", "region",
    "routing_region", "nonpreemptible", "enable_memory_snapshot", "block_network", "restrict_modal_access",
    "single_use_containers", "i6pn", "include_source", "experimental_options",
    "_experimental_restrict_output", "max_inputs",
)
CLS_ONLY_ON_FUNCTION = {"schedule", "name", "is_generator"}


def _keywords(method: object) -> dict[str, inspect.Parameter]:
    params = inspect.signature(method).parameters  # type: ignore[arg-type]
    return {n: p for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def test_every_platform_option_is_a_typed_keyword() -> None:
    for method, expected in ((toolkit.App.function, PLATFORM_FUNCTION_OPTIONS),
                             (toolkit.App.cls, [o for o in PLATFORM_FUNCTION_OPTIONS if o not in CLS_ONLY_ON_FUNCTION])):
        keywords = _keywords(method)
        missing = [o for o in expected if o not in keywords]
        assert not missing, f"{method.__qualname__} lacks {missing}"
        untyped = [n for n, p in keywords.items() if p.annotation is inspect.Parameter.empty]
        assert not untyped


def test_mypy_sees_the_options(tmp_path: Path) -> None:
    from mypy import api

    snippet = tmp_path / "snippet.py"
    snippet.write_text(textwrap.dedent("""\
        import toolkit
        app = toolkit.App("x")
        @app.function(gpus="T4")
        def f() -> None: ...
        @app.function(timeout="long")
        def g() -> None: ...
        @app.function(gpu=["L4", "A10G"], memory=(1024, 2048), env={"A": "1"}, region="eu-west-1")
        def h() -> None: ...
    """))
    out, _, status = api.run([str(snippet), "--no-incremental", "--follow-imports=silent",
                              "--ignore-missing-imports", "--cache-dir", str(tmp_path / "cache")])
    assert status == 1
    assert 'snippet.py:3: error: Argument "gpus"' in out
    assert 'snippet.py:5: error: Argument "timeout"' in out and '"int"' in out
    assert "snippet.py:7" not in out


def test_env_reaches_the_worker_as_environment(tmp_path: Path) -> None:
    source = tmp_path / "env_app.py"
    source.write_text(textwrap.dedent("""\
        import os
        import toolkit
        app = toolkit.App("env-app")

        @app.function(env={"GREETING": "hej", "UNSET": None})
        def read(key: str):
            return os.environ.get(key)
    """))
    read = load_app(str(source)).registered_functions["read"]
    assert read.remote("GREETING") == "hej"
    assert read.remote("UNSET") is None


def test_resource_pairs_and_gpu_lists() -> None:
    app = toolkit.App("sizes")
    f = app.function(gpu=["L4", "A10G"], cpu=(0.5, 2.0), memory=(1024, 4096))(lambda: None)
    assert (f.spec.gpu, f.spec.cpu, f.spec.memory) == ("L4", 0.5, 4096)
    with pytest.raises(InvalidError, match=r"memory=\(2048, 1024\)\): a \(request, limit\) pair needs limit >= request"):
        app.function(memory=(2048, 1024), name="g")(lambda: None)
    with pytest.raises(InvalidError, match=r"gpu=\[\]\) names no GPU"):
        app.function(gpu=[], name="h")(lambda: None)


def test_platform_none_defaults_become_toolkit_defaults() -> None:
    f = toolkit.App("d").function(min_containers=None, scaledown_window=None, buffer_containers=None)(lambda: None)
    assert (f.spec.min_containers, f.spec.scaledown_window, f.spec.buffer_containers) == (0, 60, 0)


def test_options_without_effect_say_so_at_the_call_site() -> None:
    app = toolkit.App("warns")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app.function(routing_region="eu-west-1", enable_memory_snapshot=True)(lambda: None)
    messages = {str(w.message): w for w in caught if issubclass(w.category, NotSupportedWarning)}
    assert set(messages) == {
        f"app.function(routing_region=...) has no effect on toolkit: {NO_EFFECT['routing_region']}.",
        f"app.function(enable_memory_snapshot=...) has no effect on toolkit: {NO_EFFECT['enable_memory_snapshot']}.",
    }
    assert all(w.filename == __file__ for w in messages.values())  # pointed at the decorator line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app.function(name="quiet", region=None, block_network=False)(lambda: None)  # defaults are silent


def test_refused_options_name_the_alternative() -> None:
    app = toolkit.App("refuses")
    # network_file_systems= and proxy= work now (issue 22): what is refused is a value of the wrong kind
    with pytest.raises(InvalidError, match=r"network_file_systems=\{'/data': <object.*toolkit.NetworkFileSystem"):
        app.function(network_file_systems={"/data": object()})(lambda: None)
    with pytest.raises(InvalidError, match=r"volumes=\{'/data': <object.*mount a toolkit.Volume"):
        app.function(volumes={"/data": object()})(lambda: None)  # volumes= works now (toolkit.volume)
    with pytest.raises(InvalidError, match=r"proxy=<object.*must be a toolkit.Proxy"):
        app.cls(proxy=object())
    with pytest.raises(InvalidError, match=r"cloud='gcp'.*toolkit runs on AWS"):
        app.function(cloud="gcp")(lambda: None)


def test_is_generator_overrides_detection() -> None:
    def produce():
        return iter([1, 2])

    f = toolkit.App("gen").function(is_generator=True)(produce)
    assert f.spec.is_generator
