"""The request budget: 303 to a result URL that waits again, work that runs once; spawn-and-poll."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve.serving import APPS, REPO, Served, served

BUDGET_S = 1.0


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def server(runs_dir: Path) -> Iterator[Served]:
    with served(APPS / "budget.py", "--request-timeout", str(BUDGET_S),
                env={"BUDGET_RUNS_DIR": str(runs_dir)}) as running:
        # warm the worker so the budget measures the request, not the cold start
        running.client("budget-slow").get("/", params={"seconds": 0, "tag": "warm"})
        yield running


def test_fast_request_is_answered_inline(server: Served) -> None:
    response = server.client("budget-slow").get("/", params={"seconds": 0, "tag": "fast"})
    assert response.status_code == 200 and response.json()["tag"] == "fast"


def test_past_budget_303_to_result_url_then_result_and_ran_once(server: Served, runs_dir: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    client = server.client("budget-slow")
    started = time.monotonic()
    first = client.get("/", params={"seconds": 2.2, "tag": tag})
    assert first.status_code == 303
    # The 303 comes when the budget runs out, before the 2.2 s of work could have finished.
    assert BUDGET_S * 0.9 <= time.monotonic() - started < 2.2
    location = first.headers["location"]
    assert location.startswith("/?") and f"tag={tag}" in location and "__toolkit_call_id=fc-" in location

    second = client.get(location)  # waits up to the budget again: still running
    assert second.status_code == 303 and second.headers["location"] == location
    final = client.get(location)
    assert final.status_code == 200 and final.json() == {"tag": tag, "runs": 1}
    assert client.get(location).json() == {"tag": tag, "runs": 1}  # reloadable, not re-run
    assert (runs_dir / tag).read_text().count("run") == 1


def test_redirects_followed_by_a_client_get_the_result(server: Served) -> None:
    tag = uuid.uuid4().hex[:8]
    response = server.client("budget-slow", follow_redirects=True).get("/", params={"seconds": 1.5, "tag": tag})
    assert response.status_code == 200 and response.json()["tag"] == tag
    assert len(response.history) >= 1 and all(r.status_code == 303 for r in response.history)


def test_post_result_url_is_fetched_with_get(server: Served) -> None:
    tag = uuid.uuid4().hex[:8]
    response = server.client("budget-slow-post", follow_redirects=True).post(
        "/", json={"seconds": 1.5, "tag": tag})
    assert response.status_code == 200
    assert response.json() == {"echo": {"seconds": 1.5, "tag": tag}, "runs": 1}
    assert response.request.method == "GET"


def test_failure_after_budget_is_500_at_the_result_url(server: Served) -> None:
    response = server.client("budget-fails-late", follow_redirects=True).get("/")
    assert response.status_code == 500 and "stopped while handling" in response.text


def test_unknown_or_foreign_call_id_is_404(server: Served) -> None:
    response = server.client("budget-slow").get("/", params={"__toolkit_call_id": "fc-0000000000000000000000000a"})
    assert response.status_code == 404


def test_spawn_and_poll_example_202_then_result() -> None:
    with served(REPO / "examples" / "long_requests.py", "--request-timeout", str(BUDGET_S)) as server:
        # A cold endpoint (a worker starting) may itself outlast the 1 s budget on a busy machine:
        # its 303 is followed (a POST's result URL with GET, as the guide says).
        accepted = server.client("long-requests-accept-job", follow_redirects=True).post("/", json={"seconds": 3.0})
        call_id = accepted.json()["call_id"]
        poll = server.client("long-requests-result", follow_redirects=True)
        first = poll.get("/", params={"call_id": call_id})
        assert first.status_code == 202 and first.json() == {"status": "pending"}
        deadline = time.monotonic() + 20
        while (done := poll.get("/", params={"call_id": call_id})).status_code == 202:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert done.status_code == 200 and done.json() == {"done_after": 3.0}
        slow = server.client("long-requests-slow", follow_redirects=True).get("/", params={"seconds": 1.5})
        assert slow.json() == {"slept": 1.5} and slow.history[0].status_code == 303


@pytest.mark.parametrize("spawn", ["", "after", "before"])
def test_a_detached_request_is_polled_under_the_call_id_its_handler_saw(server: Served, spawn: str) -> None:
    """As on the platform, the request is the function call: the 303's id is ``current_function_call_id()``
    inside the handler, also when the handler spawns after the detach (the gateway's record) or before it
    (the worker's record, finished with the response): the result URL gets the response either way."""
    client = server.client("budget-which-call")
    first = client.get("/", params={"seconds": 1.6, "spawn": spawn})
    assert first.status_code == 303
    call_id = first.headers["location"].split("__toolkit_call_id=")[1].split("&")[0]
    final = client.get(first.headers["location"])
    while final.status_code == 303:
        final = client.get(final.headers["location"])
    assert final.status_code == 200, final.text
    assert final.json()["call_id"] == call_id
    assert (final.json()["spawned"] is not None) == bool(spawn)


def test_a_client_cannot_name_its_requests_call(server: Served) -> None:
    """The call id header is the gateway's to the worker: one a client sends is replaced, never used."""
    answer = server.client("budget-which-call").get("/", params={"seconds": 0}, headers={"toolkit-call-id": "fc-forged"})
    assert answer.status_code == 200 and answer.json()["call_id"].startswith("fc-")
    assert answer.json()["call_id"] != "fc-forged"
