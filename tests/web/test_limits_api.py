"""The limit routes over real HTTP, against ``queued-jobs serve`` and a worker process on
SQLite and Azurite: a limit's holder and parked job are seen by readers and operators, a
parked job's view says what it waits on, an operator's capacity lets it in, and hostile
input is refused field by field, never with a 500."""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from queued_jobs.client import JobClient
from tests.integration.conftest import Backend
from tests.integration.export_jobs import build_export_app, release_file
from tests.support.processes import stop_all
from tests.support.waiting import PATIENCE
from tests.support.web import ApiServer, start_api_server

APP = "tests.integration.export_jobs:app"


@pytest.fixture
async def limits_client(backend: Backend) -> AsyncIterator[JobClient]:
    client = build_export_app(backend.storage).client()
    await client.create_storage()
    yield client
    await client.close()


@pytest.fixture
def limits_api(limits_client: JobClient, backend: Backend, tmp_path: Path) -> Iterator[ApiServer]:
    server = start_api_server(APP, backend.env, tmp_path / "api.log")
    yield server
    server.stop()


@pytest.fixture
def export_worker(backend: Backend) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = backend.spawn_worker(app=APP, concurrency=4)
        started.append(process)
        return process

    yield start
    release_file().touch()  # the holders end, the worker stops at once
    stop_all(started)


def _until(
    http: httpx.Client, path: str, condition: Callable[[Any], bool], *, within: float = PATIENCE
) -> Any:
    """``GET path`` until its answer satisfies ``condition``."""
    deadline = time.monotonic() + within
    while True:
        response = http.get(path)
        assert response.status_code == 200, response.text
        answer = response.json()
        if condition(answer):
            return answer
        assert time.monotonic() < deadline, f"{path} never became as expected: {answer}"
        time.sleep(0.1)


async def test_a_holder_and_a_parked_job_are_seen_and_a_raised_capacity_lets_it_in(
    limits_api: ApiServer,
    limits_client: JobClient,
    export_worker: Callable[[], subprocess.Popen[bytes]],
) -> None:
    export_worker()
    first = await limits_client.queue_job("tests.export", {"customer": "acme"}, owner="alice")
    with limits_api.client("operator") as operator:
        _until(operator, f"/jobs/{first.id}", lambda job: job["status"] == "running")
        second = await limits_client.queue_job("tests.export", {"customer": "acme"}, owner="alice")
        limit = _until(operator, "/limits/exports", lambda got: got["parked"] == 1)
        assert {k: limit[k] for k in ("kind", "capacity", "override", "effective", "holding")} == {
            "kind": "concurrency",
            "capacity": 1,
            "override": None,
            "effective": 1,
            "holding": 1,
        }
        assert limit["description"] == "at most 1 at once"
        assert limit["keyed_by"] == "by_request('customer')"
        [gate] = limit["gates"]
        assert (gate["key"], gate["parked"], gate["parked_text"]) == ("acme", 1, "1")
        [holder] = gate["holders"]
        assert holder["job_id"] == first.id
        assert holder["job"].endswith(f"/jobs/{first.id}")

        with limits_api.client("alice") as alice:  # the owner sees why their job waits
            waiting = alice.get(f"/jobs/{second.id}").json()
        assert waiting["status"] == "queued"
        assert waiting["waiting"]["limit"] == "exports"
        assert waiting["waiting"]["key"] == "acme"
        assert waiting["waiting"]["kind"] == "concurrency"
        assert waiting["waiting_text"].startswith(
            "waiting for limit exports (key acme): 1 of 1 running (at most 1 at once), since "
        )

        listed = operator.get("/limits").json()
        assert [item["name"] for item in listed["items"]] == ["calls", "exports"]

        changed = operator.put("/limits/exports/setting", json={"capacity": 2})
        assert changed.status_code == 200, changed.text
        assert changed.json()["effective"] == 2
        assert changed.json()["setting"]["updated_by"] == "olga"
        _until(operator, f"/jobs/{second.id}", lambda job: job["status"] == "running")
        job = operator.get(f"/jobs/{second.id}").json()
        assert (job["waiting"], job["waiting_text"]) == (None, None)
        limit = _until(operator, "/limits/exports", lambda got: got["holding"] == 2)
        assert limit["parked"] == 0

        release_file().touch()
        _until(operator, f"/jobs/{second.id}", lambda job: job["status"] == "succeeded")
        reset = operator.delete("/limits/exports/setting")
        assert reset.status_code == 204, reset.text
        limit = operator.get("/limits/exports").json()
        assert (limit["setting"], limit["effective"]) == (None, 1)


def test_end_users_are_refused_readers_only_look_and_operators_change(
    limits_api: ApiServer,
) -> None:
    routes = [
        ("GET", "/limits", None),
        ("GET", "/limits/exports", None),
        ("PUT", "/limits/exports/setting", {"capacity": 3}),
        ("DELETE", "/limits/exports/setting", None),
    ]
    with limits_api.client("alice") as alice, limits_api.client(None) as nobody:
        for method, path, body in routes:
            refused = alice.request(method, path, json=body)
            assert refused.status_code == 403, (method, path, refused.text)
            assert refused.json()["code"] == "permission_denied"
            assert nobody.request(method, path, json=body).status_code == 401
    with limits_api.client("reader") as reader:
        assert reader.get("/limits").status_code == 200
        assert reader.get("/limits/exports").json()["name"] == "exports"
        for method, path, body in routes[2:]:
            assert reader.request(method, path, json=body).status_code == 403
    with limits_api.client("operator") as operator:
        assert operator.put("/limits/calls/setting", json={"rate": 0}).json()["paused"] is True
        assert operator.get("/limits/calls").json()["description"] == "paused"


@pytest.mark.parametrize(
    ("body", "field", "said"),
    [
        ({"capacity": -1}, "body.capacity", "greater than or equal to 0"),
        ({"capacity": 10**9}, "body.capacity", "less than or equal to 1000"),
        ({"capacity": "x"}, "body.capacity", "valid integer"),
        ({"capacity": "2"}, "body.capacity", "valid integer"),
        ({"capacity": 1.5}, "body.capacity", "valid integer"),
        ({"capacity": True}, "body.capacity", "valid integer"),
        ({"capacity": 1, "owner": "x"}, "body.owner", "Extra inputs are not permitted"),
        ({}, "body", "give capacity (a concurrency limit) or rate (a rate limit), one"),
        ({"capacity": 1, "rate": 1}, "body", "one"),
        ({"rate": 2}, "body.rate", "'exports' is a concurrency limit: set its capacity"),
        ([1, 2], "body", "valid dictionary"),
    ],
)
def test_a_setting_that_does_not_validate_is_refused_with_its_field(
    limits_api: ApiServer, body: Any, field: str, said: str
) -> None:
    with limits_api.client("operator") as operator:
        refused = operator.put("/limits/exports/setting", json=body)
        assert refused.status_code == 422, refused.text
        answer = refused.json()
        assert answer["code"] == "invalid_request"
        assert any(f["field"] == field and said in f["message"] for f in answer["fields"]), answer
        assert operator.get("/limits/exports").json()["setting"] is None


def test_a_body_that_is_not_json_and_unknown_names_are_refused(limits_api: ApiServer) -> None:
    with limits_api.client("operator") as operator:
        garbled = operator.put(
            "/limits/exports/setting",
            content=b"\xff{capacity",
            headers={"Content-Type": "application/json"},
        )
        assert garbled.status_code == 422, garbled.text
        for name in ("nothing", "NOT-A-NAME", "x" * 500, "a%00b", "exports%2F..%2Fx"):
            for method, path, body in (
                ("GET", f"/limits/{name}", None),
                ("PUT", f"/limits/{name}/setting", {"capacity": 1}),
                ("DELETE", f"/limits/{name}/setting", None),
            ):
                answer = operator.request(method, path, json=body)
                assert answer.status_code == 404, (method, path, answer.text)
                assert answer.json()["code"] in {"limit_not_found", "not_found"}


def test_the_limit_routes_are_in_the_openapi_document(limits_api: ApiServer) -> None:
    with limits_api.client(None) as anyone:
        paths = anyone.get("/openapi.json").json()["paths"]
    assert set(paths["/limits"]) == {"get"}
    assert set(paths["/limits/{name}"]) == {"get"}
    assert set(paths["/limits/{name}/setting"]) == {"put", "delete"}
    assert paths["/limits/{name}/setting"]["put"]["operationId"] == "set_limit"
