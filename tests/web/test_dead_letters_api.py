"""The dead-letter routes over real HTTP, against ``queued-jobs serve`` and a worker process
on SQLite and Azurite: a foreign body the worker dead-lettered is listed for readers and
operators, and requeued or deleted by operators only."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from queued_jobs.client import JobClient
from queued_jobs.models import Priority, new_job_id
from tests.integration.conftest import Backend
from tests.support.waiting import PATIENCE
from tests.support.web import ApiServer

FOREIGN = "not a job message ✓ <b>bold</b>"


def _listed(http: httpx.Client, until: Callable[[dict[str, Any]], bool], **params: Any) -> Any:
    """``GET /dead-letters`` until its answer satisfies ``until`` (:data:`PATIENCE` s)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        response = http.get("/dead-letters", params=params)
        assert response.status_code == 200, response.text
        listing = response.json()
        if until(listing):
            return listing
        assert time.monotonic() < deadline, f"the listing never became as expected: {listing}"
        time.sleep(0.1)


def _count(listing: dict[str, Any], band: str, side: str) -> int | None:
    [found] = [c for c in listing["counts"] if (c["band"], c["side"]) == (band, side)]
    return found["messages"]  # type: ignore[no-any-return]


async def test_a_foreign_body_the_worker_dead_lettered_is_seen_requeued_and_deleted(
    api: ApiServer, api_client: JobClient, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    worker()
    high = api_client.queues.for_priority(Priority.HIGH)
    await api_client.broker.queue(high).send(FOREIGN)
    with api.client("operator") as operator:
        listing = _listed(operator, lambda got: len(got["items"]) == 1, band="high")
    [letter] = listing["items"]
    assert {k: letter[k] for k in ("band", "side", "queue", "body", "truncated", "job_id")} == {
        "band": "high",
        "side": "deadletter",
        "queue": f"{high}-deadletter",
        "body": FOREIGN,
        "truncated": False,
        "job_id": None,
    }
    assert letter["size"] == len(FOREIGN.encode())
    assert letter["dequeue_count"] >= 0
    assert letter["inserted_at"]
    assert {(c["band"], c["side"]) for c in listing["counts"]} == {
        ("high", "deadletter"),
        ("high", "poison"),
    }
    assert _count(listing, "high", "deadletter") == 1
    requeue = f"/dead-letters/high/deadletter/{letter['id']}:requeue"
    delete = f"/dead-letters/high/deadletter/{letter['id']}"

    with api.client("reader") as reader:
        seen = reader.get("/dead-letters", params={"side": "deadletter"}).json()
        assert [item["id"] for item in seen["items"]] == [letter["id"]]
        assert len(seen["counts"]) == 3  # every band, one side
        for method, url in (("POST", requeue), ("DELETE", delete)):
            refused = reader.request(method, url)
            assert refused.status_code == 403, refused.text
            assert refused.json()["code"] == "permission_denied"
        reader.headers["X-Queued-Jobs-Roles"] = "operator"  # believed only in development
        assert reader.post(requeue).status_code == 403
    with api.client("alice") as alice:
        assert alice.get("/dead-letters").status_code == 403
        assert alice.post(requeue).status_code == 403
        assert alice.delete(delete).status_code == 403

    with api.client("operator") as operator:
        requeued = operator.post(requeue)
        assert requeued.status_code == 200, requeued.text
        assert (requeued.json()["id"], requeued.json()["body"]) == (letter["id"], FOREIGN)
        # The worker meets the body again and dead-letters it again, under another id.
        again = _listed(
            operator,
            lambda got: [i["id"] for i in got["items"]] not in ([], [letter["id"]]),
            band="high",
            side="deadletter",
        )
        [back] = again["items"]
        assert back["body"] == FOREIGN
        assert operator.post(requeue).status_code == 404  # that id is gone
        gone = operator.delete(delete)
        assert (gone.status_code, gone.json()["code"]) == (404, "message_not_found")
        assert operator.delete(f"/dead-letters/high/deadletter/{back['id']}").status_code == 204
        empty = operator.get("/dead-letters", params={"band": "high"}).json()
        assert empty["items"] == []
        assert _count(empty, "high", "deadletter") == 0


async def test_bodies_are_shown_cut_and_named_jobs_found_and_limits_hold(
    api: ApiServer, api_client: JobClient
) -> None:
    low = api_client.broker.queue(api_client.queues.for_priority(Priority.LOW))
    job_id = new_job_id("alice")
    large = "é" + "x" * 9000
    naming = f'{{"v":1,"id":"{job_id}"}}'
    await low.dead_letter_queue().send(naming)
    await low.dead_letter_queue().send(large)
    await low.poison_queue().send('{"v":1,"id":"ジョブ"}')
    with api.client("operator") as operator:
        listing = operator.get("/dead-letters", params={"band": "low"}).json()
        by_side = [(i["side"], i["job_id"], i["truncated"], i["size"]) for i in listing["items"]]
        assert by_side == [
            ("deadletter", job_id, False, len(naming)),
            ("deadletter", None, True, len(large.encode())),
            ("poison", None, False, len('{"v":1,"id":"ジョブ"}'.encode())),
        ]
        cut = listing["items"][1]["body"]
        assert len(cut.encode()) == 4096
        assert large.startswith(cut)
        assert _count(listing, "low", "poison") == 1
        limited = operator.get("/dead-letters", params={"limit": 2}).json()
        assert len(limited["items"]) == 2
        assert len(limited["counts"]) == 6
        for params in ({"limit": 0}, {"limit": 201}, {"band": "urgent"}, {"side": "both"}):
            refused = operator.get("/dead-letters", params=params)
            assert refused.status_code == 422, params
            assert refused.json()["code"] == "invalid_request"
        for url in (
            "/dead-letters/urgent/deadletter/x:requeue",
            "/dead-letters/low/other/x:requeue",
            "/dead-letters/low/deadletter/" + "x" * 129 + ":requeue",
        ):
            assert operator.post(url).status_code == 422, url
        missing = operator.post("/dead-letters/low/poison/no-such-message:requeue")
        assert (missing.status_code, missing.json()["code"]) == (404, "message_not_found")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_row_that_is_not_text_is_listed_as_text(
    api: ApiServer, api_client: JobClient, backend: Backend
) -> None:
    queue = api_client.broker.queue(api_client.queues.base).dead_letter_queue()
    with sqlite3.connect(backend.env["QJ_TEST_SQLITE"]) as connection:
        connection.execute(
            "INSERT INTO messages (id, queue, body, inserted_at, visible_at) "
            "VALUES ('foreign-1', ?, ?, 0, 0)",
            (queue.name, b"\xff\xfe\x00 not UTF-8"),
        )
    with api.client("reader") as reader:
        listing = reader.get("/dead-letters", params={"band": "normal", "side": "deadletter"})
    assert listing.status_code == 200, listing.text
    [letter] = listing.json()["items"]
    assert (letter["id"], letter["body"]) == ("foreign-1", "\ufffd\ufffd\x00 not UTF-8")
