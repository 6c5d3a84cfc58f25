"""The owner share through the web API, on SQLite and Azurite: a job beyond its owner's
share says it waits in the overflow queue, and the operators' stats show that queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from queued_jobs.client import JobClient
from tests.integration.conftest import Backend
from tests.integration.fair_jobs import SHARE
from tests.support.web import ApiServer, start_api_server

APP = "tests.integration.fair_jobs:app"
WORK = "tests.work"


@pytest.fixture
def shared_api(api_client: JobClient, backend: Backend, tmp_path: Path) -> Iterator[ApiServer]:
    server = start_api_server(APP, backend.env, tmp_path / "api.log")
    yield server
    server.stop()


def test_jobs_beyond_an_owners_share_wait_in_the_overflow_queue_and_the_stats_show_it(
    shared_api: ApiServer,
) -> None:
    with shared_api.client("alice") as alice:
        made = [alice.post("/jobs", json={"type": WORK, "request": {}}) for _ in range(SHARE + 3)]
        assert {response.status_code for response in made} == {202}
        queues = [alice.get(f"/jobs/{r.json()['id']}").json()["queue"] for r in made]
    with shared_api.client("bob") as bob:
        theirs = bob.post("/jobs", json={"type": WORK, "request": {}}).json()
    with shared_api.client("operator") as operator:
        depths = {q["band"]: q for q in operator.get("/stats").json()["queues"]}

    base = queues[0]
    assert queues == [base] * SHARE + [f"{base}-over"] * 3
    assert theirs["queue"] == base  # another owner's job is within its own share
    assert depths["normal"]["messages"] == SHARE + 1
    assert depths["overflow"]["queue"] == f"{base}-over"
    assert depths["overflow"]["messages"] == 3
