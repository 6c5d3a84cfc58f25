"""A sequence's events over real HTTP on SQLite and Azurite: started through the API and
run by a worker process, it is followed on ``/events?sequence=<id>`` from its first step
to its end, and an end user's streams carry their own sequence's events, never another
owner's."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import httpx

from tests.support.web import ApiServer, SseEvent, read_events

WORK = "tests.work"
#: Room for a busy machine: a heartbeat comes every 15 s, a change within a second or two.
PATIENT = httpx.Timeout(60.0, read=30.0)
STEPS = [
    {"jobs": [{"job_type": WORK, "request": {"sleeps": [0.2]}}] * 2},
    {"jobs": [{"job_type": WORK, "request": {"sleeps": [0.2]}}]},
]


def _until_ended(events: Iterator[SseEvent], sequence_id: str) -> list[SseEvent]:
    """The events read until ``sequence_id``'s sequence event says it ended."""
    found = []
    for event in events:
        found.append(event)
        change = event.json() if event.event in ("job", "sequence") else {}
        if change.get("job_id") == sequence_id and change.get("status") != "running":
            return found
    raise AssertionError(f"the stream ended before sequence {sequence_id} did: {found}")


def test_an_end_user_follows_their_sequence_to_its_end_and_never_sees_another_owners(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    worker()
    with (
        api.client("alice", timeout=PATIENT) as alice,
        api.client("bob", timeout=PATIENT) as bob,
        alice.stream("GET", "/events") as everything,
    ):
        theirs = bob.post("/sequences", json={"name": "bob's", "steps": STEPS})
        assert theirs.status_code == 202, theirs.text
        mine = alice.post("/sequences", json={"name": "alice's", "steps": STEPS}).json()
        refused = bob.get("/events", params={"sequence": mine["id"]})
        assert (refused.status_code, refused.json()["code"]) == (404, "sequence_not_found")
        with alice.stream("GET", "/events", params={"sequence": mine["id"]}) as followed:
            assert followed.status_code == 200
            own = _until_ended(read_events(followed), mine["id"])
        seen = _until_ended(read_events(everything), mine["id"])

    changes = [e.json() for e in own]
    assert {e.event for e in own} == {"sequence"}
    assert {(c["job_id"], c["kind"], c["type"], c["owner"]) for c in changes} == {
        (mine["id"], "sequence", "sequence", "alice")
    }
    assert changes[-1]["status"] == "succeeded"
    assert changes[-1]["links"]["status"].endswith(f"/sequences/{mine['id']}")
    steps = [c["progress"]["message"] for c in changes if c["status"] == "running"]
    assert any(m.startswith("step 1 ") for m in steps), steps  # its second step started
    assert all(e.id for e in own)  # each can be resumed from

    assert {e.json()["owner"] for e in seen if e.event in ("job", "sequence")} == {"alice"}
    sequences = {e.json()["job_id"] for e in seen if e.event == "sequence"}
    assert sequences == {mine["id"]}
    step_jobs = {j["job_id"] for run in mine["runs"] for j in run["jobs"]}
    assert step_jobs <= {e.json()["job_id"] for e in seen if e.event == "job"}
