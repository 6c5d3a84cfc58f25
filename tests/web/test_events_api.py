"""``GET /events`` over real HTTP on SQLite and Azurite: changes made by a worker in another
process arrive live, and a dropped stream resumes with ``Last-Event-ID`` exactly where it
was."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import datetime

import httpx

from tests.support.web import ApiServer, SseEvent, events_until_quiet, read_events

WORK = "tests.work"
QUIET = httpx.Timeout(30.0, read=3.0)  # a stream with nothing for 3 s ends its read


def _job_events(events: object, count: int) -> list[SseEvent]:
    found = []
    for event in events:  # type: ignore[attr-defined]
        if event.event == "job":
            found.append(event)
            if len(found) == count:
                break
    return found


#: A change reaches a stream within a poll interval (0.5 s) or two on a quiet machine (the
#: benchmark measures it: ``benchmarks/web.py``); here only that it comes live, not after a
#: reconnect or a slow poll, with room for a busy machine.
LIVE = 5.0


def test_a_worker_process_s_changes_reach_an_open_stream_live(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    worker()
    with api.client("alice") as http, http.stream("GET", "/events") as stream:
        job = http.post("/jobs", json={"type": WORK, "request": {"sleeps": [0.3]}}).json()
        arrivals: list[tuple[str, float]] = []
        for event in read_events(stream):
            if event.event != "job":
                continue
            change = event.json()
            assert change["job_id"] == job["id"]
            changed = datetime.fromisoformat(change["changed_at"]).timestamp()
            arrivals.append((change["status"], time.time() - changed))
            if change["status"] == "succeeded":
                break
    statuses = [status for status, _ in arrivals]
    assert statuses[0] == "queued"
    assert statuses[-1] == "succeeded"
    assert "running" in statuses
    late = [(status, round(delay, 3)) for status, delay in arrivals if delay >= LIVE]
    assert late == []


def test_a_dropped_stream_resumes_with_every_event_exactly_once(api: ApiServer) -> None:
    with api.client("alice", timeout=QUIET) as http:
        with http.stream("GET", "/events") as stream:
            first = http.post("/jobs", json={"type": WORK, "request": {}}).json()
            [seen] = _job_events(read_events(stream), 1)
        assert (seen.json()["job_id"], seen.json()["status"]) == (first["id"], "queued")
        assert seen.id
        # While no stream is open: three more changes.
        second = http.post("/jobs", json={"type": WORK, "request": {}}).json()
        http.post(f"/jobs/{first['id']}/cancel")
        third = http.post("/jobs", json={"type": WORK, "request": {}}).json()
        with http.stream("GET", "/events", headers={"Last-Event-ID": seen.id}) as stream:
            events = events_until_quiet(stream)
        resumed = [(e.event, e.json()["job_id"], e.json()["status"]) for e in events]
        assert [(job, status) for _, job, status in resumed] == [
            (second["id"], "queued"),
            (first["id"], "cancelled"),
            (third["id"], "queued"),
        ]
        assert {kind for kind, _, _ in resumed} == {"job"}


def test_a_stream_resumed_twice_from_its_last_id_repeats_nothing(api: ApiServer) -> None:
    with api.client("alice", timeout=QUIET) as http:
        with http.stream("GET", "/events") as stream:
            made = [
                http.post("/jobs", json={"type": WORK, "request": {}}).json()["id"]
                for _ in range(3)
            ]
            events = _job_events(read_events(stream), 3)
        assert [e.json()["job_id"] for e in events] == made
        last = events[-1].id
        assert last
        with http.stream("GET", "/events", headers={"Last-Event-ID": last}) as stream:
            later = http.post("/jobs", json={"type": WORK, "request": {}}).json()["id"]
            [next_event] = _job_events(read_events(stream), 1)
        assert next_event.json()["job_id"] == later


def test_a_foreign_last_event_id_resets_the_stream_to_now(api: ApiServer) -> None:
    with api.client("alice", timeout=QUIET) as http:
        with http.stream("GET", "/events", headers={"Last-Event-ID": "1.AAAA' or 1=1"}) as stream:
            events = read_events(stream)
            reset = next(events)
            assert reset.event == "reset"
            job = http.post("/jobs", json={"type": WORK, "request": {}}).json()
            [event] = _job_events(events, 1)
        assert event.json()["job_id"] == job["id"]


def test_an_operator_stream_narrows_to_a_type_and_status(api: ApiServer) -> None:
    with api.client("operator", timeout=QUIET) as http:
        params = {"type": WORK, "status": "cancelled"}
        with http.stream("GET", "/events", params=params) as stream:
            with api.client("bob") as bob:
                job = bob.post("/jobs", json={"type": WORK, "request": {}}).json()
                bob.post(f"/jobs/{job['id']}/cancel")
            [event] = _job_events(read_events(stream), 1)
        assert (event.json()["job_id"], event.json()["status"]) == (job["id"], "cancelled")
