"""The north star, measured: programs written the way the hosted platform's users write them, with
only ``import toolkit as modal`` changed, run through the real CLI (docs/northstar.md).

Each program under ``programs/`` is one family of patterns seen in public programs (hello world with
``.map``, async callers, batching, classes, volumes/dicts/queues, spawn-and-poll, every web
decorator).  ``toolkit run`` runs them locally, one ``toolkit serve`` answers the web program over
HTTP, and ``toolkit plan --json`` plans the web program for AWS offline.  Assertions are on what the
programs print and answer, not on exit codes alone.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from northstar_support import (
    PROGRAMS,
    RUN_TIMEOUT_S,
    ServedProgram,
    free_port,
    line_after,
    plan_program,
    program_env,
    run_program,
    run_script,
)
from northstar_support import toolkit as toolkit_cli

import toolkit


def test_every_program_changes_only_its_import_line() -> None:
    """The premise: each program imports the toolkit as ``modal``, the one line its users change."""
    for path in sorted(PROGRAMS.glob("*.py")):
        imports = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Import | ast.ImportFrom)]
        aliased = [a for n in imports if isinstance(n, ast.Import) for a in n.names if a.name == "toolkit"]
        assert [a.asname for a in aliased] == ["modal"], path.name


def test_hello_world_calls_locally_remotely_and_over_many_inputs() -> None:
    lines = run_program("basics", "--count", "4")
    assert line_after(lines, "local:") == "27"
    assert line_after(lines, "remote:") == "64"
    assert line_after(lines, "map total:") == str(sum(n**3 for n in range(4)))
    assert line_after(lines, "starmap:") == "[8, 125]"
    assert line_after(lines, "countdown:") == "[4, 3, 2, 1]"
    assert any("cubing 3" in line for line in lines)  # printed on the worker's stderr, shown here


def test_a_module_run_passes_its_options_to_the_entrypoint() -> None:
    """``toolkit run -m package.module --count 2`` (the platform's ``modal run -m``, how apps split into a
    package are run): the entrypoint's first option landed in APP_REF, which read as a file given next to
    ``-m``, and the run stopped on 'Give either a file ... or -m package.module, not both'."""
    done = subprocess.run([sys.executable, "-m", "toolkit.cli", "run", "-m", "basics", "--count", "2"], cwd=PROGRAMS,
                          capture_output=True, text=True, env=program_env(), timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stdout + done.stderr
    assert line_after(done.stdout.splitlines(), "map total:") == str(0**3 + 1**3)

def test_an_async_entrypoint_awaits_aio_calls_and_batched_inputs() -> None:
    lines = run_program("async_batched")
    assert line_after(lines, "halves:") == "[1.0, 2.0, 3.0]"
    assert line_after(lines, "letters:") == "abc"
    assert line_after(lines, "lengths:") == "[1, 2, 3, 4]"
    assert line_after(lines, "shouted:") == "['X', 'YZ']"
    assert line_after(lines, "spawned:") == "5.0"


def test_classes_take_parameters_run_enter_once_and_accept_options() -> None:
    """Also ``@exit``, which local workers never ran (they stopped without calling it)."""
    lines = run_program("classes")
    assert line_after(lines, "default:") == "n=1"
    assert line_after(lines, "with params:") == "m=23"
    assert line_after(lines, "mapped:") == "['n=11', 'n=12']"
    assert line_after(lines, "steps:") == "[50, 51, 52]"
    assert line_after(lines, "bigger:") == "n=70"
    # One worker each served these.  The .map pool may still be starting a second worker when the run
    # ends, and the pool's shutdown deadline (2 s for all its workers) can cut both off on a loaded
    # machine, so its hook is not asserted.
    assert {"released n0", "released m2", "released n5", "released n7"} <= set(lines)


def test_async_enter_and_exit_hooks_are_awaited() -> None:
    """``async def`` ``@enter``/``@exit`` hooks were called and never awaited ("coroutine 'Engine.start' was
    never awaited"): the method then failed on the attribute its ``@enter`` sets, and ``@exit`` never ran."""
    lines = run_program("async_hooks")
    assert line_after(lines, "tokens:") == "['ready:a', 'ready:b']"
    assert line_after(lines, "local:") == "['ready:c']"
    assert "engine stopped" in lines
    assert not [line for line in lines if "never awaited" in line], lines
    # The hooks run on the loop the methods run on: a pool @enter makes stays usable.
    assert line_after(lines, "same loop:") == "True"

def test_volumes_dicts_queues_retries_and_configuration_reach_the_functions() -> None:
    """Also two programs that stopped before: the image's ``.env`` variables were not set in local
    workers, and ``modal.container_process`` was no attribute after ``import toolkit as modal``."""
    lines = run_program("state")
    assert line_after(lines, "volume:") == "kept between calls"
    assert line_after(lines, "listed:") == "['note.txt']"
    assert line_after(lines, "retries:") == "succeeded on attempt 3"
    assert line_after(lines, "queue:") == "[0, 1, 2, 3, 4]"
    # The image sets GREETING and SHARED; the secret's SHARED wins, as in a container.
    assert line_after(lines, "settings:") == "[('GREETING', 'from-image'), ('SHARED', 'secret'), ('TOKEN', 't0k')]"


def test_a_spawned_call_is_polled_by_its_id_until_it_finishes() -> None:
    """Also: an image asking for another Python than local workers run is said once, not silently."""
    lines = run_program("spawn_poll")
    said = [line for line in lines if "asks for Python 3.13; local workers run Python" in line]
    assert len(said) == (0 if sys.version_info[:2] == (3, 13) else 1), lines
    assert line_after(lines, "poll:") == "still running"
    assert line_after(lines, "result:") == "81"
    assert line_after(lines, "gathered:") == "[0, 1, 4, 9]"


def test_a_script_running_its_own_app_sees_its_image_and_exit_hooks() -> None:
    """``app.run()`` used to start workers without the images' settings (``toolkit run`` applied them)."""
    lines = run_script("script_run")
    assert line_after(lines, "stage:") == "script-1"
    assert line_after(lines, "mapped:") == "['script-2', 'script-3']"
    assert line_after(lines, "predict:") == "15"
    assert line_after(lines, "with_options:") == "script-4"
    assert "model unloaded" in lines


def test_a_flash_server_class_with_only_target_inputs_is_served_and_names_its_replica() -> None:
    """Three stops of the public sticky-routing server program: ``concurrent(target_inputs=...)`` alone
    was refused (the platform requires exactly that on a flash server), ``_experimental_get_flash_urls``
    had no ``.aio``, and ``MODAL_TASK_ID`` (set in every platform container) was missing in workers.
    Runs with image environments, as a user's run does."""
    lines = run_program("flash_server", env={"NORTHSTAR_FLASH_PORT": str(free_port()), "TOOLKIT_LOCAL_ENV": "image"})
    assert line_after(lines, "replica:") == "ta"
    assert line_after(lines, "container:") == "[('environment', 'main'), ('remote', '1'), ('task', 'ta')]"
    assert line_after(lines, "here:") == "None"  # the driving process is no container
    # An image with run_commands but no Python steps: its skipped steps went unsaid (the public
    # screenshot program's `pip install playwright` in run_commands then failed as a bare import error).
    skipped = [line for line in lines if "skipped locally" in line]
    assert len(skipped) == 1 and "run_commands(pip install northstar-flash-tools)" in skipped[0], lines


def test_target_inputs_alone_is_refused_on_a_plain_function() -> None:
    app = toolkit.App("northstar-target-only")
    with pytest.raises(toolkit.InvalidError, match=r"target_inputs=4\) needs max_inputs too.*experimental.http_server"):
        app.function()(toolkit.concurrent(target_inputs=4)(lambda: None))
    with pytest.raises(toolkit.InvalidError, match="needs max_inputs"):
        toolkit.concurrent()


@pytest.mark.parametrize(("option", "replacement"), [("keep_warm", "min_containers=N"),
                                                    ("concurrency_limit", "max_containers=N"),
                                                    ("allow_concurrent_inputs", "@toolkit.concurrent")])
def test_options_the_platform_removed_in_1_0_name_their_replacement(option: str, replacement: str) -> None:
    """Older public programs (the pushgateway one: ``keep_warm=1, concurrency_limit=1``) stopped on a
    list of every known option; the message now names what replaced the one given."""
    app = toolkit.App("northstar-renamed")
    with pytest.raises(toolkit.InvalidError, match=rf"app.cls\({option}=3\) is an option .* removed in 1.0; "
                                                   rf"use {re.escape(replacement)}"):
        app.cls(**{option: 3})
    with pytest.raises(toolkit.InvalidError, match=rf"app.function\({option}=3\) .* removed in 1.0"):
        app.function(**{option: 3})


def test_a_named_secret_missing_a_required_key_says_how_to_replace_it(tmp_path: Path) -> None:
    """``Secret.from_name(name, required_keys=[...])`` over a local secret without one of them: the error named
    the missing key only; it now says what the secret has and the command that gives it every key."""
    home = {"TOOLKIT_HOME": str(tmp_path)}
    toolkit_cli("secret", "create", "northstar-kaggle", "KAGGLE_TOKEN=t0k", env=home)
    done = subprocess.run([sys.executable, "-m", "toolkit.cli", "run", str(PROGRAMS / "secret_keys.py")],
                          capture_output=True, text=True, env=program_env(home), timeout=RUN_TIMEOUT_S)
    assert done.returncode != 0
    assert ("Secret 'northstar-kaggle' lacks required key(s) KAGGLE_USER (it has KAGGLE_TOKEN); replace it with "
            "every key: toolkit secret create northstar-kaggle KAGGLE_TOKEN=... KAGGLE_USER=...") in done.stderr, done
    toolkit_cli("secret", "create", "northstar-kaggle", "KAGGLE_TOKEN=t0k", "KAGGLE_USER=ada", env=home)
    assert line_after(run_program("secret_keys", env=home), "user:") == "ada"

def test_the_background_volume_commits_flag_of_dataset_imports_says_to_remove_it() -> None:
    """The public dataset-import program passed ``_allow_background_volume_commits=True`` and stopped on
    a list of every known option (the platform's 1.x client refuses it too, with a bare TypeError)."""
    app = toolkit.App("northstar-background-commits")
    with pytest.raises(toolkit.InvalidError, match=r"_allow_background_volume_commits=True\) is an option .* removed "
                                                   r"in 1.0; remove it: a Volume's writes are committed"):
        app.function(_allow_background_volume_commits=True)


def test_a_pipeline_of_with_options_variants_mounts_the_variants_volume() -> None:
    """The multistage pipeline pattern: the last stage is ``stage.with_options(volumes=...)``.  Its
    workers mounted the registered function's volumes (none), so its write failed and the pipeline
    never finished."""
    lines = run_program("pipeline")
    assert line_after(lines, "written:") == "['item-0.txt', 'item-1.txt', 'item-2.txt']"
    assert line_after(lines, "calls:") == "4 distinct of 6"  # one spawn_map call, three spawned ones
    assert line_after(lines, "tasks:") == "['ta']"
    # A failing spawned call's traceback is printed as it fails (it was not: a stage that failed left
    # the pipeline waiting in silence), once, with the error's last line.
    assert line_after(lines, "audit:") == "failed"
    reported = [i for i, line in enumerate(lines) if line.startswith("toolkit: spawned call") and "of audit failed" in line]
    assert len(reported) == 1, lines
    assert any(line.endswith("ValueError: audit of " + line_after(lines, "run:") + " found a broken stage")
               for line in lines[reported[0]:]), lines


def test_detached_calls_cut_off_by_the_runs_end_say_the_app_stopped() -> None:
    """``spawn_map`` fire-and-forget (and a ``spawn`` never waited for) still running when the entrypoint
    returns: the run stops them, as the platform stops an ephemeral app's calls.  Each was printed as a
    crashed worker ("exited with code 0 before the call finished"), which read as a bug in the function."""
    lines = run_program("detached")
    assert line_after(lines, "waited:") == "42"
    said = "\n".join(lines)
    assert "was still running when its app stopped" in said and "FunctionCall.gather" in said, said
    assert "exited with code" not in said, said


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("uv") is None, reason="image environments are built with uv: pip install uv")
def test_a_nested_call_runs_in_the_callees_image_environment() -> None:
    """``outer`` (no image packages) calls ``inner`` (an image pinning starlette 0.37.2, unlike this
    environment's): before, the nested call ran in the caller's interpreter and saw the host's
    starlette.  The environment comes from uv's cache after the first run."""
    lines = run_program("nested_image", env={"TOOLKIT_LOCAL_ENV": "image"})
    assert line_after(lines, "direct:") == "0.37.2"
    assert line_after(lines, "nested:") == "0.37.2"
    assert line_after(run_script("nested_image", env={"TOOLKIT_LOCAL_ENV": "image"}), "script:") == "0.37.2"


@pytest.fixture(scope="module")
def web() -> Iterator[ServedProgram]:
    served = ServedProgram("web", env={"NORTHSTAR_FILES_PORT": str(free_port())})
    try:
        yield served
    finally:
        served.stop()


def test_the_served_program_lists_every_web_endpoint(web: ServedProgram) -> None:
    assert sorted(web.urls) == ["Greeter.greet", "api", "echo", "files", "flask_app", "order", "private", "square"]
    assert all(url.startswith("http://") and "-dev.localhost:" in url for url in web.urls.values())


def test_fastapi_endpoints_read_queries_json_and_models(web: ServedProgram) -> None:
    with web.client("square") as client:
        assert client.get("/", params={"x": 7}).json() == {"square": 49}
        assert client.get("/", params={"x": "seven"}).status_code == 422
    with web.client("echo") as client:
        assert client.post("/", json={"a": [1, 2]}).json() == {"received": {"a": [1, 2]}}
    with web.client("order") as client:
        assert client.post("/", json={"item": "tea", "quantity": 2}).json() == "2 x tea"
        assert client.post("/", json={"item": "tea"}).status_code == 422


def test_an_asgi_app_streams_another_functions_generator(web: ServedProgram) -> None:
    with web.client("api") as client, client.stream("GET", "/stream", params={"n": 3}) as response:
        assert response.status_code == 200
        assert "".join(response.iter_text()) == "tick 0\ntick 1\ntick 2\n"


def test_an_asgi_app_spawns_work_and_answers_polls_by_call_id(web: ServedProgram) -> None:
    with web.client("api") as client:
        submitted = client.get("/jobs", params={"n": 10})
        assert submitted.status_code == 303
        poll_path = submitted.headers["location"]
        assert client.get(poll_path).status_code == 202  # slow_sum sleeps 1.5 s
        deadline = time.monotonic() + 60
        while (polled := client.get(poll_path)).status_code == 202:
            assert time.monotonic() < deadline, "the spawned call never finished"
            time.sleep(0.2)
        assert polled.json() == {"result": 55}


def test_a_web_request_is_the_parent_call_of_what_it_spawns(web: ServedProgram) -> None:
    """The job-queue wrapper pattern: ``fc.get_call_graph()[0].children[0]`` is the spawned call, its
    root the request itself.  Before, a request was no call locally: ``current_function_call_id()`` was
    None in the endpoint and the spawned call was the graph's root (``IndexError`` on ``children[0]``)."""
    with web.client("api") as client:
        graph = client.get("/graph")
        assert graph.status_code == 200, graph.text
        answer = graph.json()
        assert answer["me"] is not None and answer["me"].startswith("fc-")
        assert answer["root"] == answer["me"]
        assert answer["root_function"] == "api"
        assert answer["child_is_spawned"] is True
        status_path = f"/jobs/{answer['job']}/status"  # another request reads the first one's graph
        assert client.get(status_path).json() == {"status": "PENDING"}  # slow_sum sleeps 1.5 s
        deadline = time.monotonic() + 60
        while (status := client.get(status_path).json()["status"]) == "PENDING":
            assert time.monotonic() < deadline, "the spawned call never finished"
            time.sleep(0.2)
        assert status == "SUCCESS"


def test_a_wsgi_flask_app_answers_get_and_json_post(web: ServedProgram) -> None:
    with web.client("flask_app") as client:
        assert client.get("/").text == "flask says hi"
        assert client.post("/json", json={"k": "v"}).json() == {"flask_got": {"k": "v"}}


def test_a_web_server_function_proxies_its_subprocess_server(web: ServedProgram) -> None:
    with web.client("files") as client:
        served_source = client.get("/web.py")
        assert served_source.status_code == 200
        assert 'modal.App("northstar-web"' in served_source.text


def test_a_class_endpoint_runs_its_enter_hook_first(web: ServedProgram) -> None:
    with web.client("Greeter.greet") as client:
        assert client.get("/", params={"name": "ada"}).json() == {"message": "prepared hello, ada"}


def test_a_class_endpoint_runs_its_exit_hook_when_serve_stops() -> None:
    """Its own serve, stopped here: the web worker used to end on uvicorn's re-raised SIGTERM before
    it could run ``@exit``.  Another workspace: the module's serve keeps its endpoints (a newer serve of
    the same URLs would take them over)."""
    served = ServedProgram("web", env={"NORTHSTAR_FILES_PORT": str(free_port()), "TOOLKIT_WORKSPACE": "exitcheck"})
    try:
        with served.client("Greeter.greet") as client:
            assert client.get("/").status_code == 200
    finally:
        output = served.stop()
    assert "[Greeter.greet] greeter released" in output.splitlines()


def test_a_proxy_auth_endpoint_refuses_requests_without_a_token(web: ServedProgram) -> None:
    with web.client("private") as client:
        assert client.get("/").status_code == 401


def test_the_web_program_plans_for_aws_offline() -> None:
    plan = plan_program("web")
    by_type: dict[str, list[dict[str, object]]] = {}
    for resource in plan["resources"]:
        by_type.setdefault(resource["type"], []).append(resource)
    prefix = "northstar-web-main-us-east-1-"
    lambdas = {str(r["name"]).removeprefix(prefix).removesuffix("-lambda-function")
               for r in by_type["aws:lambda/function:Function"]}
    assert lambdas == {"api", "echo", "greeter-greet", "nightly", "order", "private", "slow-sum", "square", "ticks",
                       "flask-app"}
    assert [r["name"] for r in by_type["aws:ecs/service:Service"]] == [prefix + "files-ecs-service"]  # web_server
    (schedule,) = by_type["aws:scheduler/schedule:Schedule"]
    assert schedule["inputs"]["scheduleExpression"] == "cron(0 3 * * ? *)"  # type: ignore[index]
    assert len(by_type["aws:apigatewayv2/api:Api"]) == 7  # one front door per HTTP endpoint
    assert plan["total"] == len(plan["resources"])
