"""``GET /jobs/{id}/history`` over real HTTP, with a worker process running the jobs, on
SQLite and Azurite."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import datetime

import httpx

from tests.support.waiting import PATIENCE
from tests.support.web import ApiServer

WORK = "tests.work"


def _finished(http: httpx.Client, job_id: str) -> dict[str, object]:
    """The job once it finished (waiting :data:`PATIENCE` seconds at most)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        view = http.get(f"/jobs/{job_id}").json()
        if view["status"] in ("succeeded", "failed", "cancelled"):
            return dict(view)
        assert time.monotonic() < deadline, f"job never finished: {view}"
        time.sleep(0.05)


def _history(http: httpx.Client, job_id: str) -> list[dict[str, object]]:
    response = http.get(f"/jobs/{job_id}/history")
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()
    times = [datetime.fromisoformat(str(item["at"])) for item in items]
    assert times == sorted(times), items
    return items


def test_a_job_that_fails_then_succeeds_shows_each_attempt_on_its_host(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    worker()
    with api.client("alice") as http:
        job = http.post("/jobs", json={"type": WORK, "request": {"failures": 1}}).json()
        assert _finished(http, job["id"])["status"] == "succeeded"
        items = _history(http, job["id"])
    assert [(i["status"], i["attempt"]) for i in items] == [
        ("queued", None),
        ("running", 1),
        ("failed", 1),
        ("queued", 2),
        ("running", 2),
        ("succeeded", 2),
    ]
    assert items[0]["at"] == job["created_at"]
    assert "attempt 1 failed on purpose" in str(items[2]["detail"])
    hosts = [i["host"] for i in items if i["attempt"] is not None and i["status"] != "queued"]
    assert all(isinstance(host, str) and host for host in hosts), items
    assert items[0]["host"] is None


def test_a_job_that_fails_for_good_ends_failed_with_its_reason(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    worker()
    with api.client("alice") as http:
        job = http.post("/jobs", json={"type": WORK, "request": {"permanent": True}}).json()
        finished = _finished(http, job["id"])
        assert finished["status"] == "failed"
        items = _history(http, job["id"])
    assert [(i["status"], i["attempt"]) for i in items] == [
        ("queued", None),
        ("running", 1),
        ("failed", 1),
    ]
    assert "this input can never work" in str(items[-1]["detail"])
    assert items[-1]["at"] == finished["completed_at"]


def test_a_job_cancelled_while_queued_and_another_owner_s_history(api: ApiServer) -> None:
    with api.client("alice") as http:
        job = http.post("/jobs", json={"type": WORK, "request": {}}).json()
        waiting = _history(http, job["id"])
        assert [(i["status"], i["detail"]) for i in waiting] == [("queued", "created")]
        cancelled = http.post(f"/jobs/{job['id']}/cancel").json()
        items = _history(http, job["id"])
        assert [i["status"] for i in items] == ["queued", "cancelled"]
        assert items[-1]["at"] == cancelled["completed_at"]
    with api.client("bob") as http:
        hidden = http.get(f"/jobs/{job['id']}/history")
        assert hidden.status_code == 404
        assert hidden.json()["code"] == "job_not_found"
        assert http.get("/jobs/not-a-job-id/history").status_code == 404
    with api.client("reader") as http:
        assert http.get(f"/jobs/{job['id']}/history").status_code == 200
