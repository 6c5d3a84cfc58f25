"""``GET /stats/timeline`` over real HTTP, against ``queued-jobs serve`` on SQLite and
Azurite: jobs by creation time in buckets of the clock, scoped like ``/stats``."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx

from tests.support.waiting import PATIENCE
from tests.support.web import ApiServer

WORK = "tests.work"


def _bucket_of(timeline: dict[str, Any], job: dict[str, Any]) -> int:
    """The index of the bucket holding ``job``'s creation, having checked that the last
    bucket holds the moment the timeline was made: so a job made just now is in the last
    bucket, or in the one before if a bucket's end passed between the two."""
    size = timedelta(seconds=timeline["bucket_seconds"])
    starts = [datetime.fromisoformat(b["start"]) for b in timeline["buckets"]]
    assert all(later - earlier == size for earlier, later in pairwise(starts))
    assert starts[-1] <= datetime.fromisoformat(timeline["generated_at"]) < starts[-1] + size
    created = datetime.fromisoformat(job["created_at"])
    [index] = [i for i, start in enumerate(starts) if start <= created < start + size]
    assert index == len(starts) - 1 or (
        index == len(starts) - 2 and created < starts[-1] <= datetime.now(starts[-1].tzinfo)
    )
    return index


def _finished(http: httpx.Client, job_id: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while http.get(f"/jobs/{job_id}").json()["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, f"job {job_id} never finished"
        time.sleep(0.05)


def test_jobs_created_now_are_in_the_last_bucket_by_outcome(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    worker()
    with api.client("alice") as alice:
        made = [
            alice.post("/jobs", json={"type": WORK, "request": request}).json()
            for request in ({}, {"permanent": True}, {"sleeps": [0]})
        ]
        for job in made:
            _finished(alice, job["id"])
    with api.client("operator") as operator:
        response = operator.get("/stats/timeline")
        assert response.status_code == 200, response.text
        timeline = response.json()
    assert (timeline["span"], timeline["bucket_seconds"], timeline["owner"]) == ("hour", 300, None)
    assert len(timeline["buckets"]) == 12
    indexes = {_bucket_of(timeline, job) for job in made}
    buckets = [timeline["buckets"][i] for i in sorted(indexes)]
    assert sum(b["created"]["count"] for b in buckets) == 3
    assert sum(b["succeeded"]["count"] for b in buckets) == 2
    assert sum(b["failed"]["count"] for b in buckets) == 1
    if len(buckets) == 1:
        assert buckets[0]["failure_rate"] == 1 / 3
        assert buckets[0]["created"]["more"] is False
    quiet = [b for i, b in enumerate(timeline["buckets"]) if i not in indexes]
    assert all(b["created"]["count"] == 0 and b["failure_rate"] is None for b in quiet)


def test_a_user_s_timeline_holds_only_their_own_jobs(api: ApiServer) -> None:
    with api.client("alice") as alice:
        mine = [alice.post("/jobs", json={"type": WORK, "request": {}}).json() for _ in range(2)]
    with api.client("bob") as bob:
        theirs = bob.post("/jobs", json={"type": WORK, "request": {}}).json()
        day = bob.get("/stats/timeline", params={"span": "day", "owner": "alice"}).json()
    assert (day["owner"], day["span"], day["bucket_seconds"]) == ("bob", "day", 3600)
    assert len(day["buckets"]) == 24
    _bucket_of(day, theirs)
    assert sum(b["created"]["count"] for b in day["buckets"]) == 1
    with api.client("alice") as alice:
        hour = alice.get("/stats/timeline", params={"type": WORK}).json()
        assert alice.get("/stats/timeline", params={"span": "week"}).status_code == 422
    assert (hour["owner"], hour["type"]) == ("alice", WORK)
    _bucket_of(hour, mine[0])
    assert sum(b["created"]["count"] for b in hour["buckets"]) == 2
    with api.client("reader") as reader:
        bobs = reader.get("/stats/timeline", params={"owner": "bob"}).json()
        other = reader.get("/stats/timeline", params={"type": "no.such.type"}).json()
    assert (bobs["owner"], sum(b["created"]["count"] for b in bobs["buckets"])) == ("bob", 1)
    assert sum(b["created"]["count"] for b in other["buckets"]) == 0
