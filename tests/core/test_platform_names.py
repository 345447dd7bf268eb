"""Behaviour of the platform names toolkit's parity sweep made work (issue 22): FilePatternMatcher,
App.include/tags, Dict/Queue IDs and the ``objects`` namespaces across processes, the Secret members.
The refusals are covered by test_parity.py; web_endpoint by tests/serve/test_platform_aliases.py."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from core_helpers import REPO, toolkit_cli
from loopback import free_port

import toolkit
from toolkit.exception import InvalidError, NotFoundError, NotSupportedError

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TOOLKIT_HOME of the test's own, for this process and the ones it starts."""
    monkeypatch.setenv("TOOLKIT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


# -- FilePatternMatcher ----------------------------------------------------------------------------

@pytest.mark.parametrize(("patterns", "path", "expected"), [
    (("*.pyc",), "mod.pyc", True),
    (("*.pyc",), "pkg/mod.pyc", False),  # "*" stays in one segment, from the top
    (("**/*.pyc",), "pkg/sub/mod.pyc", True),
    (("**/*.pyc",), "mod.pyc", True),  # "**/" also matches no directory
    (("build",), "build/lib/x.py", True),  # a matched directory matches what is under it
    (("docs/**",), "docs/a/b.md", True),
    (("docs/**",), "docsx/a.md", False),
    (("a?c.txt",), "abc.txt", True),
    (("a?c.txt",), "a/c.txt", False),
    (("[ab].txt",), "b.txt", True),
    (("*.py", "!keep.py"), "keep.py", False),  # a later "!" re-includes
    (("*.py", "!keep.py"), "drop.py", True),
    (("!keep.py", "*.py"), "keep.py", True),  # the last matching pattern wins
    (("/top.txt",), "top.txt", True),  # a leading slash means the context root
    (("file(1).txt",), "file(1).txt", True),  # regex characters are literal
    (("*",), ".", False),  # never the whole directory
])
def test_file_pattern_matcher_follows_dockerignore_rules(patterns: tuple[str, ...], path: str,
                                                         expected: bool) -> None:
    assert toolkit.FilePatternMatcher(*patterns)(Path(path)) is expected


def test_file_pattern_matcher_from_file_inverted_and_bad_patterns(tmp_path: Path) -> None:
    ignore_file = tmp_path / ".dockerignore"
    ignore_file.write_text("# comment\n\n**/__pycache__\n*.log\n")
    matcher = toolkit.FilePatternMatcher.from_file(ignore_file)
    assert matcher(Path("a/__pycache__/x.pyc")) and matcher(Path("run.log")) and not matcher(Path("app.py"))
    assert matcher.can_prune_directories() and not toolkit.FilePatternMatcher("*", "!x").can_prune_directories()
    only_python = ~toolkit.FilePatternMatcher("**/*.py")
    assert only_python(Path("README.md")) and not only_python(Path("pkg/app.py"))
    with pytest.raises(InvalidError, match='"!"'):
        toolkit.FilePatternMatcher("!")(Path("x"))


def test_add_local_dir_ignores_what_a_matcher_matches(tmp_path: Path) -> None:
    for name in ("app.py", "app.pyc", "pkg/mod.py", "pkg/mod.pyc", "data/big.bin", "data/keep.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    matcher = toolkit.FilePatternMatcher("**/*.pyc", "data", "!data/keep.txt")
    image = toolkit.Image.debian_slim().add_local_dir(tmp_path, "/app", ignore=matcher)
    ignored = set(image.steps[-1]["ignore"])
    assert {"app.pyc", "pkg/mod.pyc", "data/big.bin"} <= ignored
    assert not ignored & {"app.py", "pkg/mod.py", "data/keep.txt"}


# -- App -------------------------------------------------------------------------------------------

def test_app_include_carries_another_files_functions_into_one_run(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text(textwrap.dedent("""
        import toolkit
        app = toolkit.App("helpers", tags={"team": "data", "tier": "low"})

        @app.function()
        def double(x: int) -> int:
            return 2 * x
    """))
    (tmp_path / "main.py").write_text(textwrap.dedent("""
        import toolkit
        import helpers
        app = toolkit.App("main", tags={"tier": "high"}).include(helpers.app)

        @app.local_entrypoint()
        def main() -> None:
            print("result", helpers.double.remote(21), sorted(app.registered_functions), app.get_tags())
    """))
    env = {"PYTHONPATH": str(tmp_path), "TOOLKIT_HOME": str(tmp_path / "home")}
    done = toolkit_cli("run", str(tmp_path / "main.py"), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "result 42 ['double'] {'team': 'data', 'tier': 'high'}" in done.stdout  # this app's tags win
    manifest = toolkit_cli("manifest", str(tmp_path / "main.py"), cwd=tmp_path, env=env)
    assert manifest.returncode == 0, manifest.stderr
    assert [f["tag"] for f in json.loads(manifest.stdout)["functions"]] == ["double"]


def test_app_identity_members_and_include_conflicts() -> None:
    app = toolkit.App("parity-identity")

    @app.function(name="f")
    def f() -> None: ...

    @app.function()
    @toolkit.fastapi_endpoint()
    def page() -> str:
        return "hi"

    other = toolkit.App("parity-other")

    @other.function(name="f")
    def g() -> None: ...

    assert (app.name, app.description, app.app_id) == ("parity-identity", "parity-identity", None)
    assert toolkit.App().description == "unnamed toolkit app"
    assert app.registered_web_endpoints == ["page"] and app.registered_entrypoints == {}
    with pytest.raises(InvalidError, match=r"already has registered functions named 'f'.*rename"):
        app.include(other)
    with pytest.raises(InvalidError, match="str key and a str value"):
        app.set_tags({"n": 1})  # type: ignore[dict-item]
    with pytest.raises(NotSupportedError, match="volumes=.*each @app.function"):
        toolkit.App("v", volumes={"/data": toolkit.Volume.from_name("v")})


# -- Dict and Queue --------------------------------------------------------------------------------

def test_dict_and_queue_ids_find_the_same_object_from_another_process(home: Path) -> None:
    made = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import toolkit
        d = toolkit.Dict.from_name("parity-shared", create_if_missing=True)
        d["k"] = "from the child"
        q = toolkit.Queue.from_name("parity-jobs", create_if_missing=True)
        q.put(7)
        print(d.object_id, q.object_id)
    """)], cwd=REPO, capture_output=True, text=True, timeout=60, env={**os.environ})
    assert made.returncode == 0, made.stderr
    dict_id, queue_id = made.stdout.split()
    assert (dict_id, queue_id) == ("di-parity-shared", "qu-parity-jobs")
    assert toolkit.Dict.from_id(dict_id)["k"] == "from the child"
    assert toolkit.Queue.from_id(queue_id).get(timeout=5) == 7
    info = toolkit.Dict.from_id(dict_id).info()
    age = datetime.datetime.now(datetime.timezone.utc) - info.created_at
    assert info.name == "parity-shared" and datetime.timedelta(0) <= age < datetime.timedelta(minutes=5)
    with pytest.raises(InvalidError, match="di-<name>"):
        toolkit.Dict.from_id("qu-parity-jobs")
    from toolkit.types import DictInfo, QueueInfo

    assert isinstance(info, DictInfo) and isinstance(toolkit.Queue.from_id(queue_id).info(), QueueInfo)


def test_objects_namespace_creates_lists_and_deletes(home: Path) -> None:
    toolkit.Dict.objects.create("parity-a")
    toolkit.Dict.objects.create("parity-a", allow_existing=True)
    with pytest.raises(InvalidError, match="allow_existing=True"):
        toolkit.Dict.objects.create("parity-a")
    toolkit.Queue.objects.create("parity-q")
    assert [d.name for d in toolkit.Dict.objects.list()] == ["parity-a"]
    assert [q.name for q in toolkit.Queue.objects.list(max_objects=5)] == ["parity-q"]
    assert toolkit.Dict.objects.list(created_before="2000-01-01") == []
    assert toolkit.Dict.from_name("parity-a").hydrate().client is None
    toolkit.Dict.objects.delete("parity-a")
    toolkit.Dict.objects.delete("parity-a", allow_missing=True)
    with pytest.raises(NotFoundError, match="parity-a"):
        toolkit.Dict.from_name("parity-a").hydrate()  # hydrate finds out now, not at the first put
    assert toolkit.Dict.from_name("parity-new", create_if_missing=True).hydrate().info().name == "parity-new"


def test_queue_validate_partition_key_is_the_queues_own_check() -> None:
    assert toolkit.Queue.validate_partition_key(None) == b""
    assert toolkit.Queue.validate_partition_key("jobs") == b"jobs"
    for bad in ("", "x" * 65):
        with pytest.raises(InvalidError, match="partition"):
            toolkit.Queue.validate_partition_key(bad)


# -- Secret ----------------------------------------------------------------------------------------

def test_secret_from_local_environ_reaches_the_worker_after_the_variable_is_gone(
        tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "envapp.py").write_text(textwrap.dedent("""
        import os
        import toolkit
        app = toolkit.App("parity-env")

        @app.function(secrets=[toolkit.Secret.from_local_environ(["PARITY_TOKEN"])])
        def token() -> str:
            return os.environ.get("PARITY_TOKEN", "<unset>") + " " + passed_on.remote()

        @app.function(secrets=[toolkit.Secret.from_local_environ(["PARITY_TOKEN"])])
        def passed_on() -> str:  # called from inside token(): the secret must reach it too
            return os.environ.get("PARITY_TOKEN", "<unset>")
    """))
    monkeypatch.setenv("PARITY_TOKEN", "s3cret")
    from toolkit.loader import load_app

    app = load_app(str(tmp_path / "envapp.py"))
    monkeypatch.delenv("PARITY_TOKEN")  # the worker must get it from the secret, not from the environment
    assert app.registered_functions["token"].remote() == "s3cret s3cret"
    with pytest.raises(InvalidError, match="'PARITY_TOKEN' not set"):
        toolkit.Secret.from_local_environ(["PARITY_TOKEN"])


def test_secret_update_info_and_objects_use_the_local_store(home: Path) -> None:
    toolkit.Secret.objects.create("parity-api", {"KEY": "one"})
    secret = toolkit.Secret.from_name("parity-api")
    secret.update({"KEY": "two", "OTHER": "x"})
    listed = toolkit_cli("secret", "list", "--json", env={"TOOLKIT_HOME": str(home)})
    assert listed.returncode == 0, listed.stderr
    assert "OTHER" in listed.stdout and "two" not in listed.stdout  # keys are listed, values never
    from toolkit.local.secrets import read_named

    assert read_named("parity-api") == {"KEY": "two", "OTHER": "x"}
    assert secret.info().name == "parity-api" and secret.hydrate() is secret
    assert [s.name for s in toolkit.Secret.objects.list()] == ["parity-api"]
    with pytest.raises(InvalidError, match="inline secret"):
        toolkit.Secret.from_dict({"A": "b"}).update({"A": "c"})
    toolkit.Secret.objects.delete("parity-api")
    with pytest.raises(NotFoundError, match="toolkit secret create parity-api"):
        secret.hydrate()


def test_secret_from_dotenv_takes_a_file_or_a_directory_and_a_filename(tmp_path: Path) -> None:
    (tmp_path / ".env-dev").write_text("MODE=dev\n")
    assert toolkit.Secret.from_dotenv(tmp_path, filename=".env-dev").values() == {"MODE": "dev"}
    assert toolkit.Secret.from_dotenv(tmp_path / ".env-dev").values() == {"MODE": "dev"}


# -- forward ---------------------------------------------------------------------------------------

def test_forward_tunnels_a_functions_port_to_a_client_in_another_process(home: Path) -> None:
    port = free_port()
    done = toolkit_cli("run", "examples/forwarded_port.py", "--port", str(port), env={"TOOLKIT_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    assert "hello from the function, path /from-the-entrypoint" in done.stdout
    assert f"served 1 request(s) at http://127.0.0.1:{port}" in done.stdout


def test_forward_outside_a_function_names_where_it_works() -> None:
    with pytest.raises(InvalidError, match=r"inside a running function"), toolkit.forward(8000):
        pass
    with pytest.raises(InvalidError, match="between 1 and 65535"), toolkit.forward(0):
        pass




def test_client_is_accepted_as_none_and_refused_otherwise(home: Path) -> None:
    assert toolkit.Dict.from_name("parity-c", create_if_missing=True, client=None).name == "parity-c"
    refusals = [
        lambda: toolkit.Dict.from_name("parity-c", client=object()),
        lambda: toolkit.Queue.from_id("qu-parity-c", client="a client"),
        lambda: toolkit.Secret.from_name("parity-c", client=object()),
        lambda: toolkit.Dict.objects.list(client=object()),
        lambda: toolkit.Queue.from_name("parity-c").hydrate(client=object()),
    ]
    for refused in refusals:
        with pytest.raises(NotSupportedError, match=r"client=.*leave client unset"):
            refused()


# -- @enter(snap=True) -----------------------------------------------------------------------------

def test_enter_snap_hooks_run_first_in_the_worker(tmp_path: Path, home: Path) -> None:
    (tmp_path / "snapapp.py").write_text(textwrap.dedent("""
        import os
        import toolkit
        app = toolkit.App("parity-snap")

        @app.cls()
        class Model:
            @toolkit.enter()
            def after_restore(self):
                self.order = [*getattr(self, "order", []), "plain"]

            @toolkit.enter(snap=True)
            def before_snapshot(self):
                self.order = [*getattr(self, "order", []), "snap"]

            @toolkit.method()
            def order_and_pid(self):
                return self.order, os.getpid()
    """))
    from toolkit.loader import load_app

    app = load_app(str(tmp_path / "snapapp.py"))
    order, pid = app.registered_classes["Model"]().order_and_pid.remote()
    assert order == ["snap", "plain"] and pid != os.getpid()  # in a worker process, snap hooks first


def test_method_is_generator_overrides_detection(tmp_path: Path, home: Path) -> None:
    (tmp_path / "genapp.py").write_text(textwrap.dedent("""
        import toolkit
        app = toolkit.App("parity-gen")

        @app.cls()
        class Counter:
            @toolkit.method(is_generator=True)
            def upto(self, n):
                return (i for i in range(n))  # returns a generator without being a generator function

            @toolkit.method(is_generator=False)
            def plain(self):
                return 1
    """))
    from toolkit.loader import load_app

    app = load_app(str(tmp_path / "genapp.py"))
    counter = app.registered_classes["Counter"]()
    assert list(counter.upto.remote_gen(3)) == [0, 1, 2]  # streamed from a worker
    assert app.registered_functions["Counter.upto"].spec.is_generator
    assert not app.registered_functions["Counter.plain"].spec.is_generator


def test_object_members_of_image_and_secret() -> None:
    image = toolkit.Image.debian_slim().pip_install("requests")
    same = toolkit.Image.debian_slim().pip_install("requests")
    assert image.object_id == same.object_id and image.object_id.startswith("im-")  # the spec is the identity
    assert toolkit.Image.debian_slim().object_id != image.object_id
    assert image.hydrate() is image and image.client is None
    secret = toolkit.Secret.from_name("parity-object")
    assert (secret.object_id, secret.client) == ("st-parity-object", None)


def test_every_handle_class_has_no_client(home: Path) -> None:
    """``client`` is one member (toolkit.handles.Clientless) for every handle class: always None."""
    with pytest.warns(DeprecationWarning, match="NetworkFileSystem is deprecated"):
        nfs = toolkit.NetworkFileSystem.from_name("parity-nfs", create_if_missing=True)
    handles = [toolkit.Image.debian_slim(), toolkit.Secret.from_dict({"A": "1"}), toolkit.Proxy.from_name("parity-p"),
               toolkit.Dict.from_name("parity-d", create_if_missing=True), nfs,
               toolkit.Queue.from_name("parity-q", create_if_missing=True)]
    assert [(type(h).__name__, h.client) for h in handles] == [
        ("Image", None), ("Secret", None), ("Proxy", None), ("Dict", None), ("NetworkFileSystem", None), ("Queue", None)]
