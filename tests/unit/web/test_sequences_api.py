"""``/sequences`` in process, on SQLite: start, read, list and cancel, with the access
rules of ``/jobs`` (another owner's sequence does not exist for an end user, a reader
reads all and changes none but its own, an operator acts on all), and refusals that say
what is wrong and store nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from queued_jobs import JobApp, SqliteStorage
from queued_jobs.web.application import create_web_app
from queued_jobs.web.auth import DevelopmentAuth
from queued_jobs.web.auth.chain import Authentication

STEPS = [
    {"jobs": [{"job_type": "echo", "request": {"n": 1}}, {"job_type": "echo"}]},
    {"jobs": [{"job_type": "echo"}], "pass_results": True, "on_success": "end:succeeded"},
]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = JobApp(SqliteStorage(tmp_path / "jobs.db"))

    @app.job(name="echo")
    async def echo(request: Any) -> Any:
        return request

    async with app.client() as client:
        await client.create_storage()
    web = create_web_app(app, auth=Authentication([DevelopmentAuth("development")]))
    transport = httpx.ASGITransport(app=web)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    await web.state.runtime.close()


def as_(user: str, *roles: str) -> dict[str, str]:
    return {"X-Queued-Jobs-User": user, "X-Queued-Jobs-Roles": ",".join(roles or ("user",))}


async def test_an_owner_starts_reads_and_lists_a_sequence(api: httpx.AsyncClient) -> None:
    started = await api.post(
        "/sequences", json={"name": "billing", "steps": STEPS}, headers=as_("alice")
    )

    assert started.status_code == 202, started.text
    body = started.json()
    assert started.headers["Location"] == body["links"]["self"]
    assert (body["owner"], body["status"], body["step"]) == ("alice", "running", 0)
    [run] = body["runs"]
    assert [j["job_type"] for j in run["jobs"]] == ["echo", "echo"]
    assert run["jobs"][0]["links"]["status"].endswith(f"/jobs/{run['jobs'][0]['job_id']}")
    got = await api.get(f"/sequences/{body['id']}", headers=as_("alice"))
    assert got.json() == body
    listed = (await api.get("/sequences", headers=as_("alice"))).json()
    assert [s["id"] for s in listed["items"]] == [body["id"]]
    job = await api.get(run["jobs"][0]["links"]["status"], headers=as_("alice"))
    assert job.json()["correlation_id"] == f"sequence:{body['id']}"


async def test_another_owners_sequence_does_not_exist_for_an_end_user(
    api: httpx.AsyncClient,
) -> None:
    body = (
        await api.post("/sequences", json={"name": "mine", "steps": STEPS}, headers=as_("alice"))
    ).json()
    bob = as_("bob")

    for method, url in [
        ("GET", f"/sequences/{body['id']}"),
        ("POST", f"/sequences/{body['id']}/cancel"),
        ("GET", f"/events?sequence={body['id']}"),
    ]:
        response = await api.request(method, url, headers=bob)
        assert (url, response.status_code) == (url, 404)
        assert response.json()["code"] == "sequence_not_found"
    assert (await api.get("/sequences", headers=bob)).json()["items"] == []
    assert (await api.get("/sequences?owner=alice", headers=bob)).json()["items"] == []
    refused = await api.post(
        "/sequences", json={"name": "x", "steps": STEPS, "owner": "alice"}, headers=bob
    )
    assert refused.status_code == 403
    assert (await api.get(f"/sequences/{body['id']}", headers=as_("alice"))).json()[
        "status"
    ] == "running"


async def test_a_reader_reads_every_sequence_and_an_operator_cancels_any(
    api: httpx.AsyncClient,
) -> None:
    body = (
        await api.post("/sequences", json={"name": "a", "steps": STEPS}, headers=as_("alice"))
    ).json()
    reader, operator = as_("rita", "reader"), as_("otto", "operator")

    assert (await api.get(f"/sequences/{body['id']}", headers=reader)).status_code == 200
    listed = (await api.get("/sequences?owner=alice", headers=reader)).json()
    assert [s["id"] for s in listed["items"]] == [body["id"]]
    assert (await api.post(f"/sequences/{body['id']}/cancel", headers=reader)).status_code == 403
    cancelled = await api.post(f"/sequences/{body['id']}/cancel", headers=operator)

    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["reason"]) == (
        "cancelled",
        "cancelled by otto",
    )
    jobs = cancelled.json()["runs"][0]["jobs"]
    assert [j["status"] for j in jobs] == ["cancelled", "cancelled"]


async def test_a_definition_that_cannot_run_is_refused_saying_why(api: httpx.AsyncClient) -> None:
    alice = as_("alice")
    refusals = [
        ([{"jobs": [{"job_type": "nope"}]}], "nope"),
        ([{"jobs": [{"job_type": "echo"}], "on_failure": "goto:3"}], "goes to step 3"),
        ([{"jobs": []}], "at least 1"),
        ([{"jobs": [{"job_type": "echo", "request": {"previous": 1}}], "pass_results": True}],
         "must not hold that key"),
        ([{"jobs": [{"job_type": "echo", "request": "x" * 40_000}]}], "32,768"),
    ]  # fmt: skip
    for steps, said in refusals:
        response = await api.post("/sequences", json={"name": "n", "steps": steps}, headers=alice)
        assert response.status_code == 422, response.text
        assert said in response.json()["message"], response.text
    for cursor in ("nope", "'; drop"):
        response = await api.get("/sequences", params={"cursor": cursor}, headers=alice)
        assert response.status_code == 422
    assert (await api.get("/sequences/../../etc", headers=alice)).status_code == 404
    assert (await api.get("/sequences", headers=alice)).json()["items"] == []


async def test_only_an_operator_purges_ended_sequences_and_bad_bodies_delete_nothing(
    api: httpx.AsyncClient,
) -> None:
    alice, operator = as_("alice"), as_("otto", "operator")
    made = [
        (await api.post("/sequences", json={"name": n, "steps": STEPS}, headers=alice)).json()
        for n in ("a", "b", "c")
    ]
    for body in made[:2]:
        await api.post(f"/sequences/{body['id']}/cancel", headers=alice)
    later = (await api.get(f"/sequences/{made[1]['id']}", headers=alice)).json()["completed_at"]
    cutoff = {"ended_before": "2999-01-01T00:00:00Z"}

    for caller in (alice, as_("rita", "reader")):
        refused = await api.post("/sequences:purge", json=cutoff, headers=caller)
        assert refused.status_code == 403
        assert refused.json()["code"] == "permission_denied"
    for bad in (
        {},
        {"ended_before": "2999-01-01T00:00:00"},  # no time zone
        {"ended_before": "soon"},
        {"ended_before": "9" * 5000},
        {**cutoff, "limit": 0},
        {**cutoff, "limit": 10**12},
        {**cutoff, "owner": "alice"},
        ["ended_before"],
    ):
        response = await api.post("/sequences:purge", json=bad, headers=operator)
        assert response.status_code == 422, (bad, response.text)
    garbled = await api.post(
        "/sequences:purge", content=b"\xff{", headers={**operator, "Content-Type": "text/x"}
    )
    assert garbled.status_code == 422
    assert len((await api.get("/sequences", headers=alice)).json()["items"]) == 3

    first = await api.post(
        "/sequences:purge", json={"ended_before": later, "limit": 5}, headers=operator
    )
    assert first.json() == {"deleted": 1}  # the one that ended before the other
    rest = await api.post("/sequences:purge", json=cutoff, headers=operator)
    assert rest.json() == {"deleted": 1}
    listed = (await api.get("/sequences", headers=alice)).json()["items"]
    assert [s["id"] for s in listed] == [made[2]["id"]]
