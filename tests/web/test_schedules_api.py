"""``/schedules`` over real HTTP, on a server of its own on SQLite: a schedule made, read,
changed, paused, resumed, triggered and deleted; its slots previewed and listed; another
owner's schedule that does not exist on any route; a reader who looks but does not
change; and bad input refused field by field."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from queued_jobs.app import SqliteStorage
from tests.integration.jobs import build_app
from tests.support.schedules import fire_next_slot
from tests.support.web import ApiServer, start_api_server

APP = "tests.integration.jobs:app"
WORK = "tests.work"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """``queued-jobs serve`` on a SQLite file: the routes do the same on every store (the
    schedule client's own tests cover the stores)."""
    folder = tmp_path_factory.mktemp("schedules")
    env = {
        "QJ_TEST_EVENTS": str(folder / "events.log"),
        "QJ_TEST_QUEUE": "schedules",
        "QJ_TEST_SQLITE": str(folder / "jobs.db"),
    }
    started = start_api_server(APP, env, folder / "api.log")
    yield started
    started.stop()


def _new(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {
        "name": f"report {uuid.uuid4().hex[:8]}",
        "type": WORK,
        "request": {"sleeps": [0]},
        "rule": "cron:0 9 * * mon-fri",
        "time_zone": "Europe/Paris",
        **fields,
    }
    response = http.post("/schedules", json=body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def _fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {found["field"]: found["message"] for found in response.json()["fields"]}


def test_a_schedule_is_made_read_changed_triggered_and_deleted(server: ApiServer) -> None:
    with server.client("alice") as alice:
        made = _new(alice, tags=["daily"])
        assert made["owner"] == "alice"
        assert made["rule"] == "cron:0 9 * * MON-FRI"
        assert made["request"] == {"sleeps": [0.0], "failures": 0, "permanent": False}
        local = datetime.fromisoformat(made["next_slot_local"])
        assert (local.hour, local.minute) == (9, 0)
        assert local == datetime.fromisoformat(made["next_slot"])
        assert alice.get(made["links"]["self"]).json() == made

        listed = alice.get("/schedules").json()
        assert made["id"] in [s["id"] for s in listed["items"]]

        changed = alice.patch(made["links"]["self"], json={"rule": "every:PT20M", "tags": []})
        assert changed.status_code == 200, changed.text
        assert (changed.json()["rule"], changed.json()["tags"]) == ("every:PT20M", [])
        assert datetime.fromisoformat(changed.json()["next_slot"]).minute in (0, 20, 40)

        paused = alice.post(made["links"]["pause"]).json()
        assert paused["paused"] is True
        resumed = alice.post(made["links"]["resume"]).json()
        assert resumed["paused"] is False
        assert resumed["next_slot"] is not None

        triggered = alice.post(made["links"]["trigger"])
        assert triggered.status_code == 202
        job = triggered.json()
        assert triggered.headers["Location"] == job["links"]["self"]
        assert (job["owner"], job["correlation_id"]) == ("alice", f"schedule:{made['id']}")
        assert job["custom_data"]["schedule"] == {
            "id": made["id"],
            "name": made["name"],
            "slot": None,
        }
        assert alice.get(made["links"]["slots"]).json() == []

        assert alice.delete(made["links"]["self"]).status_code == 204
        gone = alice.get(made["links"]["self"])
        assert (gone.status_code, gone.json()["code"]) == (404, "schedule_not_found")
        assert alice.delete(made["links"]["self"]).status_code == 404


def test_the_next_slots_are_previewed_for_a_schedule_and_for_a_rule_not_stored(
    server: ApiServer,
) -> None:
    with server.client("alice") as alice:
        made = _new(alice)
        stored = alice.get(made["links"]["preview"], params={"count": 5}).json()
        assert (stored["rule"], stored["time_zone"]) == ("cron:0 9 * * MON-FRI", "Europe/Paris")
        assert len(stored["slots"]) == 5
        for slot in stored["slots"]:
            local = datetime.fromisoformat(slot["local"])
            assert local == datetime.fromisoformat(slot["utc"])
            assert (local.hour, local.weekday() < 5) == (9, True)
        elsewhere = alice.get(made["links"]["preview"], params={"time_zone": "Asia/Tokyo"})
        assert datetime.fromisoformat(elsewhere.json()["slots"][0]["local"]).utcoffset() == (
            datetime.fromisoformat("2026-01-01T00:00:00+09:00").utcoffset()
        )
        rule = alice.get(
            "/schedules:preview",
            params={"rule": "cron:0 9 * * mon-fri", "time_zone": "Europe/Paris", "count": 3},
        )
        assert rule.status_code == 200, rule.text
        assert rule.json()["rule"] == "cron:0 9 * * MON-FRI"
        assert [s["local"][11:] for s in rule.json()["slots"]] == [
            s["local"][11:] for s in stored["slots"][:3]
        ]
        ended = alice.get(
            "/schedules:preview",
            params={"rule": "rrule:DTSTART:20200101\nRRULE:FREQ=DAILY;COUNT=1"},
        )
        assert ended.json()["slots"] == []


def test_the_slots_a_schedule_fired_are_listed_with_links_to_their_jobs(
    server: ApiServer,
) -> None:
    with server.client("alice") as alice:
        made = _new(alice)
    storage = SqliteStorage(server.env["QJ_TEST_SQLITE"])
    slot, job_id = asyncio.run(fire_next_slot(build_app, storage, made["id"], holder="host:1"))
    with server.client("alice") as alice:
        [fired] = alice.get(made["links"]["slots"]).json()
        assert (fired["job_id"], fired["fired_by"]) == (job_id, "host:1")
        assert datetime.fromisoformat(fired["slot"]) == slot
        assert alice.get(fired["job"]).json()["id"] == job_id


def test_another_owner_s_schedule_does_not_exist_on_any_route(server: ApiServer) -> None:
    with server.client("alice") as alice:
        made = _new(alice)
    schedule_id = made["id"]
    with server.client("bob") as bob:
        for method, url, body in [
            ("GET", f"/schedules/{schedule_id}", None),
            ("PATCH", f"/schedules/{schedule_id}", {"name": "mine now"}),
            ("POST", f"/schedules/{schedule_id}:pause", None),
            ("POST", f"/schedules/{schedule_id}:resume", None),
            ("POST", f"/schedules/{schedule_id}:trigger", None),
            ("DELETE", f"/schedules/{schedule_id}", None),
            ("GET", f"/schedules/{schedule_id}/preview", None),
            ("GET", f"/schedules/{schedule_id}/slots", None),
        ]:
            response = bob.request(method, url, json=body)
            assert (method, url, response.status_code) == (method, url, 404)
            assert response.json()["code"] == "schedule_not_found"
        assert schedule_id not in [s["id"] for s in bob.get("/schedules").json()["items"]]
        assert bob.get("/schedules", params={"owner": "alice"}).json()["items"] == []
        made_by_bob = bob.post(
            "/schedules", json={"name": "x", "type": WORK, "rule": "every:P1D", "owner": "alice"}
        )
        assert made_by_bob.status_code == 403
    with server.client("alice") as alice:  # nothing bob tried changed it
        assert alice.get(f"/schedules/{schedule_id}").json() == made


def test_a_reader_sees_every_schedule_and_changes_none_but_its_own(server: ApiServer) -> None:
    with server.client("alice") as alice:
        made = _new(alice)
    with server.client("reader") as reader:
        assert reader.get(made["links"]["self"]).json()["id"] == made["id"]
        listed = reader.get("/schedules", params={"owner": "alice"}).json()["items"]
        assert made["id"] in [s["id"] for s in listed]
        assert reader.get(made["links"]["preview"]).status_code == 200
        assert reader.get(made["links"]["slots"]).status_code == 200
        for method, url in [
            ("PATCH", made["links"]["self"]),
            ("POST", made["links"]["pause"]),
            ("POST", made["links"]["resume"]),
            ("POST", made["links"]["trigger"]),
            ("DELETE", made["links"]["self"]),
        ]:
            response = reader.request(method, url, json={} if method == "PATCH" else None)
            assert (method, url, response.status_code) == (method, url, 403)
        for_alice = {"name": "x", "type": WORK, "rule": "every:P1D", "owner": "alice"}
        assert reader.post("/schedules", json=for_alice).status_code == 403
        own = _new(reader)
        assert own["owner"] == "rita"
        assert reader.post(own["links"]["pause"]).json()["paused"] is True
    with server.client("alice") as alice:
        assert alice.get(made["links"]["self"]).json() == made
    with server.client("operator") as operator:
        assert operator.post(made["links"]["pause"]).json()["paused"] is True
        theirs = _new(operator, owner="bob")
        assert theirs["owner"] == "bob"
        assert operator.delete(theirs["links"]["self"]).status_code == 204


def test_every_route_needs_credentials(server: ApiServer) -> None:
    with server.client("alice") as alice:
        made = _new(alice)
    with server.client(None) as anonymous:
        for method, url in [
            ("POST", "/schedules"),
            ("GET", "/schedules"),
            ("GET", "/schedules:preview?rule=every:PT1H"),
            ("GET", made["links"]["self"]),
            ("PATCH", made["links"]["self"]),
            ("POST", made["links"]["pause"]),
            ("POST", made["links"]["trigger"]),
            ("DELETE", made["links"]["self"]),
            ("GET", made["links"]["preview"]),
            ("GET", made["links"]["slots"]),
        ]:
            response = anonymous.request(method, url, json={})
            assert (method, url, response.status_code) == (method, url, 401)


def test_bad_input_is_refused_field_by_field_and_nothing_is_stored(server: ApiServer) -> None:
    with server.client("bob") as bob:
        before = bob.get("/schedules").json()["items"]
        base = {"name": "n", "type": WORK, "request": {}, "rule": "every:PT1H"}
        assert "body.rule" in _fields(
            bob.post("/schedules", json={**base, "rule": "cron:61 * * * *"})
        )
        assert "body.rule" in _fields(bob.post("/schedules", json={**base, "rule": "weekly"}))
        assert "body.rule" in _fields(bob.post("/schedules", json={**base, "rule": "c" * 2001}))
        assert "body.rule" in _fields(
            bob.post("/schedules", json={**base, "rule": "cron:0 0 30 2 *"})
        )
        ended = {**base, "rule": "rrule:DTSTART:20200101\nRRULE:FREQ=DAILY;COUNT=1"}
        assert "no slot after" in _fields(bob.post("/schedules", json=ended))["body.rule"]
        zone = _fields(bob.post("/schedules", json={**base, "time_zone": "Mars/Olympus"}))
        assert "unknown time zone" in zone["body.time_zone"]
        assert "body.time_zone" in _fields(
            bob.post("/schedules", json={**base, "time_zone": "x" * 65})
        )
        request = _fields(bob.post("/schedules", json={**base, "request": {"sleeps": "no"}}))
        assert "body.request.sleeps" in request
        assert "body.name" in _fields(bob.post("/schedules", json={**base, "name": "n" * 201}))
        assert "body.evil" in _fields(bob.post("/schedules", json={**base, "evil": 1}))
        assert "body.tags" in _fields(bob.post("/schedules", json={**base, "tags": ["t"] * 33}))
        assert "body.catch_up" in _fields(bob.post("/schedules", json={**base, "catch_up": "x"}))
        unknown = bob.post("/schedules", json={**base, "type": "no.such.type"})
        assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_job_type")
        huge = bob.post("/schedules", json={**base, "request": {"sleeps": [0.5] * 20_000}})
        assert (huge.status_code, huge.json()["code"]) == (413, "payload_too_large")
        not_json = bob.post(
            "/schedules", content=b"\xff{", headers={"Content-Type": "application/json"}
        )
        assert not_json.status_code == 422
        assert bob.get("/schedules").json()["items"] == before

        made = _new(bob, name="only once")
        again = bob.post("/schedules", json={**base, "name": "only once"})
        assert (again.status_code, again.json()["code"]) == (409, "duplicate_schedule")
        assert again.json()["existing_schedule_id"] == made["id"]
        url = made["links"]["self"]
        assert "body.rule" in _fields(bob.patch(url, json={"rule": "cron:* *"}))
        assert "body.request.sleeps" in _fields(bob.patch(url, json={"request": {"sleeps": 1}}))
        assert "body.owner" in _fields(bob.patch(url, json={"owner": "alice"}))
        assert "body.paused" in _fields(bob.patch(url, json={"paused": True}))
        assert "body.name" in _fields(bob.patch(url, json={"name": None}))
        assert "body.tags" in _fields(bob.patch(url, json={"tags": None}))
        assert bob.get(url).json() == made
        assert "query.count" in _fields(bob.get(made["links"]["preview"], params={"count": 101}))
        assert "query.count" in _fields(bob.get(made["links"]["preview"], params={"count": 0}))
        assert "query.time_zone" in _fields(
            bob.get(made["links"]["preview"], params={"time_zone": "Nowhere"})
        )
        assert "query.rule" in _fields(bob.get("/schedules:preview", params={"rule": "x" * 2001}))
        assert "query.rule" in _fields(bob.get("/schedules:preview", params={"rule": "every:P0D"}))
        assert "query.rule" in _fields(bob.get("/schedules:preview"))
        assert "query.limit" in _fields(bob.get(made["links"]["slots"], params={"limit": 1001}))
        cursor = bob.get("/schedules", params={"cursor": "' or 1 eq 1"})
        assert cursor.status_code == 422
        for hostile in ["' or ''='", "x" * 5000, "%00", "..%2F..%2Fetc", "\u202e"]:
            response = bob.get(f"/schedules/{hostile}")
            assert response.status_code == 404, hostile
            assert len(response.text) < 600
