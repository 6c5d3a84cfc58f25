"""One owner can never reach another's jobs through any route, and hostile filter values
are harmless: over real HTTP, on SQLite and Azurite."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from queued_jobs.web.auth import DEVELOPMENT_MODE_HEADER
from tests.integration.conftest import Backend
from tests.support.web import ApiServer, read_events, start_api_server

WORK = "tests.work"
#: Values meant to break out of a query or a key: quotes, OData and SQL operators, key
#: separators, unicode, control characters, a lone surrogate's escape.
HOSTILE = [
    "alice' or ''='",
    "' or 1 eq 1 or PartitionKey ne '",
    'x" OR 1=1 --',
    "%27%20or%201%3D1",
    "a|b/c\\d#e?f",
    "ünï©ødé 🙂",
    "tab\there",
    "nul\x00byte",
    "\\ud800",
    "*",
    "",
]


def test_another_owner_s_job_does_not_exist_on_any_route(api: ApiServer) -> None:
    with api.client("alice") as alice:
        job = alice.post("/jobs", json={"type": WORK, "request": {}}).json()
    job_id = job["id"]
    with api.client("bob") as bob:
        for method, url in [
            ("GET", f"/jobs/{job_id}"),
            ("GET", f"/jobs/{job_id}/attempts"),
            ("GET", f"/jobs/{job_id}/output"),
            ("POST", f"/jobs/{job_id}/cancel"),
            ("POST", f"/jobs/{job_id}/retry"),
            ("DELETE", f"/jobs/{job_id}"),
            ("GET", f"/events?job={job_id}"),
        ]:
            response = bob.request(method, url)
            assert (method, url, response.status_code) == (method, url, 404)
            assert response.json()["code"] == "job_not_found"
        assert bob.get("/jobs").json()["items"] == []
        assert bob.get("/jobs", params={"owner": "alice"}).json()["items"] == []
    with api.client("alice") as alice:  # nothing bob tried changed it
        assert alice.get(f"/jobs/{job_id}").json()["status"] == "queued"


def test_a_reader_sees_every_job_and_changes_none_but_its_own(api: ApiServer) -> None:
    with api.client("alice") as alice:
        job = alice.post("/jobs", json={"type": WORK, "request": {}}).json()
    with api.client("reader") as reader:
        assert reader.get(f"/jobs/{job['id']}").status_code == 200
        assert [
            j["id"] for j in reader.get("/jobs", params={"owner": "alice"}).json()["items"]
        ] == [job["id"]]
        refused = reader.post(f"/jobs/{job['id']}/cancel")
        assert refused.status_code == 403
        own = reader.post("/jobs", json={"type": WORK, "request": {}}).json()
        assert reader.post(f"/jobs/{own['id']}/cancel").json()["status"] == "cancelled"
    with api.client("operator") as operator:
        assert operator.post(f"/jobs/{job['id']}/cancel").json()["status"] == "cancelled"


def test_an_owner_s_stream_never_carries_another_owner_s_events(api: ApiServer) -> None:
    with api.client("bob") as bob, bob.stream("GET", "/events") as stream:
        with api.client("alice") as alice:
            alice.post("/jobs", json={"type": WORK, "request": {}})
        mine = bob.post("/jobs", json={"type": WORK, "request": {}}).json()
        event = next(e for e in read_events(stream) if e.event == "job")
        assert (event.json()["job_id"], event.json()["owner"]) == (mine["id"], "bob")
    quiet = httpx.Timeout(30.0, read=2.0)  # no event for 2 s ends the read
    with (
        api.client("bob", timeout=quiet) as bob,
        bob.stream("GET", "/events", params={"owner": "alice"}) as stream,
    ):
        with api.client("alice") as alice:
            alice.post("/jobs", json={"type": WORK, "request": {}})
        own = bob.post(
            "/jobs", json={"type": WORK, "request": {}}
        )  # not alice's either: it must not pass
        assert own.status_code == 202
        with pytest.raises(httpx.ReadTimeout):
            next(e for e in read_events(stream) if e.event == "job")


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_filter_values_are_harmless(api: ApiServer, value: str) -> None:
    with api.client("alice") as alice:
        alice.post("/jobs", json={"type": WORK, "request": {}})
    with api.client("bob") as bob:
        bob.post("/jobs", json={"type": WORK, "request": {}})
        for params in ({"owner": value}, {"type": value}, {"cursor": value}, {"status": value}):
            response = bob.get("/jobs", params=params)
            assert response.status_code in (200, 422), (params, response.text)
            if response.status_code == 200:
                assert all(j["owner"] == "bob" for j in response.json()["items"])
    with api.client("operator") as operator:
        for params in ({"owner": value}, {"type": value}):
            response = operator.get("/jobs", params=params)
            assert response.status_code in (200, 422), (params, response.text)
            if response.status_code == 200:
                assert response.json()["items"] == []


def test_development_mode_says_so_in_every_response_and_log_line(
    api_client: object, backend: Backend, tmp_path: Path
) -> None:
    server = start_api_server(
        "tests.integration.jobs:app", backend.env, tmp_path / "dev.log", auth="development"
    )
    try:
        with httpx.Client(base_url=server.base_url) as anyone:
            for response in (
                anyone.get("/health"),
                anyone.get("/jobs", headers={"X-Queued-Jobs-User": "ada"}),
                anyone.get("/no-such-route"),
            ):
                assert response.headers[DEVELOPMENT_MODE_HEADER]
            assert anyone.get("/health").json()["development_mode"] is True
    finally:
        server.stop()
    lines = [line for line in (tmp_path / "dev.log").read_text().splitlines() if line.strip()]
    assert lines
    assert all("development mode" in line for line in lines), lines
