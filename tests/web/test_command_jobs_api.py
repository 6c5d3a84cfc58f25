"""A job-aware program's progress and result, seen through the web API and the event
stream while a worker process runs it, on SQLite and Azurite; a request beyond what its
command allows is refused at the door."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.web import ApiServer, read_events

AWARE = "tests.cmd.aware"
STREAM = httpx.Timeout(60.0, read=60.0)


def _until_job(
    events: Any, job_id: str, condition: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    for event in events:
        if event.event != "job":
            continue
        change = event.json()
        if change["job_id"] == job_id and condition(change):
            return change
    raise AssertionError("the stream ended first")


def test_progress_and_result_of_a_job_aware_program_reach_the_api_and_the_stream(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    worker()
    go = tmp_path / "go"
    with api.client("alice", timeout=STREAM) as http, http.stream("GET", "/events") as stream:
        events = read_events(stream)
        job = http.post("/jobs", json={"type": AWARE, "request": {"input": {"go": str(go)}}})
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]

        reported = _until_job(events, job_id, lambda change: change["progress"] is not None)
        assert reported["status"] == "running"
        assert reported["progress"] == {"percent": 40.0, "message": "copying files"}
        running = http.get(f"/jobs/{job_id}").json()
        assert running["status"] == "running"
        assert running["progress"] == {"percent": 40.0, "message": "copying files"}
        assert running["result"] is None

        go.touch()
        ended = _until_job(events, job_id, lambda change: change["status"] != "running")
        assert ended["status"] == "succeeded"
    done = _until_result(api, job_id)
    assert done["result"]["exit_code"] == 0
    assert done["result"]["result"] == {"copied": 12}
    with api.client("bob") as bob:
        assert bob.get(f"/jobs/{job_id}").status_code == 404


def _until_result(api: ApiServer, job_id: str) -> dict[str, Any]:
    with api.client("alice") as http:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            job = http.get(f"/jobs/{job_id}").json()
            if job["status"] == "succeeded":
                return dict(job)
            time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not succeed")


def test_a_request_a_command_does_not_allow_is_refused_and_nothing_is_stored(
    api: ApiServer,
) -> None:
    with api.client("alice") as http:
        refused = http.post(
            "/jobs", json={"type": "tests.cmd.echo", "request": {"env": {"LD_PRELOAD": "/x.so"}}}
        )
        assert refused.status_code == 422, refused.text
        assert "does not let a request set LD_PRELOAD" in refused.text
        assert http.get("/jobs").json()["items"] == []
