"""``GET /workers`` over real HTTP, against ``queued-jobs serve`` on SQLite and Azurite: the
worker processes and API servers seen recently, for operators and readers only."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from queued_jobs.client import JobClient
from queued_jobs.models import Presence, PresenceKind
from tests.support.web import ApiServer

Item = dict[str, Any]


def _wait_for_host(
    http: httpx.Client, found: Callable[[Item], bool], what: str, **params: Any
) -> Item:
    """Read ``/workers`` until an item is ``found`` (30 s at most); that item."""
    deadline = time.monotonic() + 30
    while True:
        response = http.get("/workers", params=params)
        assert response.status_code == 200, response.text
        for item in response.json()["items"]:
            if found(item):
                return item
        assert time.monotonic() < deadline, f"{what} never showed up: {response.json()}"
        time.sleep(0.05)


def _a_worker(pid: int) -> Callable[[Item], bool]:
    return lambda item: item["kind"] == "worker" and item["host"].endswith(f":{pid}")


def test_a_worker_process_shows_up_for_operators_and_readers(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    process = worker()
    with api.client("operator") as http:
        seen = _wait_for_host(http, _a_worker(process.pid), "the worker")
        body = http.get("/workers").json()
    assert set(seen) == {"host", "kind", "started_at", "seen_at", "version", "details", "stale"}
    assert seen["stale"] is False
    assert seen["version"]
    details = seen["details"]
    assert details["concurrency"] == 2
    assert details["stopped"] is False
    assert details["every_seconds"] == 30
    assert {"queues", "running", "held", "finished"} <= set(details)
    started, at = (datetime.fromisoformat(seen[k]) for k in ("started_at", "seen_at"))
    generated = datetime.fromisoformat(body["generated_at"])
    assert started <= at <= generated
    assert abs(generated - datetime.now(UTC)) < timedelta(minutes=1)
    with api.client("reader") as http:
        assert _wait_for_host(http, _a_worker(process.pid), "the worker")["host"] == seen["host"]


def test_the_api_server_shows_up_too(api: ApiServer) -> None:
    with api.client("operator") as http:
        seen = _wait_for_host(
            http,
            lambda item: item["kind"] == "api" and item["host"].endswith(f":{api.process.pid}"),
            "the API server",
        )
    assert seen["details"]["stopped"] is False


def test_a_worker_that_stops_gracefully_says_so(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    process = worker()
    with api.client("operator") as http:
        _wait_for_host(http, _a_worker(process.pid), "the worker")
        process.terminate()
        assert process.wait(30) == 0

        last = _wait_for_host(http, _a_worker(process.pid), "the worker")
    assert last["details"]["stopped"] is True


def test_plain_users_are_refused_and_strangers_asked_who_they_are(api: ApiServer) -> None:
    with api.client("alice") as http:
        refused = http.get("/workers")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    with api.client(None) as http:
        stranger = http.get("/workers")
    assert stranger.status_code == 401
    assert "WWW-Authenticate" in stranger.headers


@pytest.mark.parametrize("seen_within", ["0", "86401", "soon"])
def test_a_look_back_out_of_bounds_is_refused(api: ApiServer, seen_within: str) -> None:
    with api.client("operator") as http:
        response = http.get("/workers", params={"seen_within": seen_within})
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == ["query.seen_within"]


async def test_hosts_not_seen_for_two_intervals_are_stale_and_older_ones_left_out(
    api: ApiServer, api_client: JobClient
) -> None:
    now = datetime.now(UTC)

    async def seen(host: str, ago: timedelta, every: float) -> None:
        details = {"every_seconds": every, "stopped": False}
        presence = Presence(host, PresenceKind.WORKER, now - timedelta(hours=1), now - ago,
                            "0.1", details)  # fmt: skip
        await api_client.repository.save_presence(presence)

    await seen("fresh:1", timedelta(seconds=50), every=30)  # within two intervals
    await seen("stale:2", timedelta(seconds=70), every=30)
    await seen("patient:3", timedelta(seconds=70), every=60)
    await seen("gone:4", timedelta(minutes=20), every=30)

    with api.client("reader") as http:
        items = http.get("/workers", params={"seen_within": 900}).json()["items"]
        wider = http.get("/workers", params={"seen_within": 86400}).json()["items"]
    names = {"fresh:1", "stale:2", "patient:3", "gone:4"}
    planted = {i["host"]: i["stale"] for i in items if i["host"] in names}
    assert planted == {"fresh:1": False, "stale:2": True, "patient:3": False}
    hosts = [i["host"] for i in items]
    assert hosts.index("fresh:1") < hosts.index("patient:3")  # most recently seen first
    assert "gone:4" in [i["host"] for i in wider]
