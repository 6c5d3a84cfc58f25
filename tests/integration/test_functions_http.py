"""The web API through the blueprint's HTTP trigger, called with ``func.HttpRequest`` as
the Functions host calls it, on SQLite and Azurite."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import azure.functions as func
import pytest

from queued_jobs.app import JobApp
from queued_jobs.client import JobClient
from queued_jobs.functions import FunctionsHost, job_blueprint
from queued_jobs.web.auth import ApiKeys, Authentication, Role, new_api_key
from queued_jobs.web.functions_http import FunctionsWebApi
from queued_jobs.web.settings import WebSettings
from tests.integration.conftest import Backend

HttpFunction = Callable[..., Awaitable[func.HttpResponse]]


class Caller:
    def __init__(self, function: HttpFunction, key: str) -> None:
        self.function = function
        self.key = key

    async def __call__(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> func.HttpResponse:
        request = func.HttpRequest(
            method,
            f"http://localhost:7071/api{path}",
            headers={"X-API-Key": self.key, "Content-Type": "application/json", **(headers or {})},
            params={},
            route_params={"route": path.lstrip("/")},
            body=b"" if body is None else json.dumps(body).encode(),
        )
        return await self.function(request, context=None)


@pytest.fixture
async def trigger(
    backend: Backend, client_of: Callable[[JobApp], Awaitable[object]]
) -> AsyncIterator[tuple[func.FunctionApp, dict[str, str], JobClient]]:
    app = backend.app()
    keys, entries = {}, []
    for owner, role in (("alice", Role.USER), ("bob", Role.USER), ("olga", Role.OPERATOR)):
        key, entry = new_api_key(owner, {role})
        keys[owner] = key
        entries.append(entry)
    # A short window: a stream with nothing to say ends within a second.
    settings = WebSettings(buffered_window=timedelta(seconds=1))
    api = FunctionsWebApi(app, auth=Authentication([ApiKeys(entries)]), settings=settings)
    host = FunctionsHost(app)
    function_app = func.FunctionApp()
    function_app.register_functions(job_blueprint(app, host=host, http_api=api))
    client = await client_of(app)
    assert isinstance(client, JobClient)
    yield function_app, keys, client
    await api.close()
    await host.close()


def _function(function_app: func.FunctionApp) -> tuple[HttpFunction, dict[str, Any]]:
    [found] = [
        f for f in function_app.get_functions() if f.get_function_name() == "queued_jobs_http"
    ]
    [binding] = [b for b in found.get_bindings() if b.type == "httpTrigger"]
    return found.get_user_function(), binding.get_dict_repr()


async def test_the_http_trigger_serves_every_route_under_the_host_prefix(
    trigger: tuple[func.FunctionApp, dict[str, str], JobClient],
) -> None:
    function_app, keys, _ = trigger
    function, binding = _function(function_app)
    assert binding["route"] == "{*route}"
    assert binding["authLevel"] == func.AuthLevel.ANONYMOUS
    alice = Caller(function, keys["alice"])
    created = await alice("POST", "/jobs", {"type": "tests.work", "request": {}})
    assert created.status_code == 202, created.get_body()
    job = json.loads(created.get_body())
    assert created.headers["Location"] == f"http://localhost:7071/api/jobs/{job['id']}"
    read = await alice("GET", f"/jobs/{job['id']}")
    assert json.loads(read.get_body())["status"] == "queued"
    listed = json.loads((await alice("GET", "/jobs")).get_body())
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    cancelled = await alice("POST", f"/jobs/{job['id']}/cancel")
    assert json.loads(cancelled.get_body())["status"] == "cancelled"
    bob = Caller(function, keys["bob"])
    assert (await bob("GET", f"/jobs/{job['id']}")).status_code == 404
    assert (await Caller(function, "qj_wrong")("GET", "/jobs")).status_code == 401
    document = json.loads((await alice("GET", "/openapi.json")).get_body())
    assert "/jobs/{job_id}" in document["paths"]


async def test_the_trigger_serves_the_dashboard_and_its_assets_under_the_host_prefix(
    trigger: tuple[func.FunctionApp, dict[str, str], JobClient],
) -> None:
    function_app, keys, _ = trigger
    function, _ = _function(function_app)
    page = await Caller(function, keys["olga"])("GET", "/dashboard")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.get_body().decode()
    [script] = re.findall(r'src="(/api/assets/[0-9a-f]+/dashboard/main\.js)"', html)
    asset = await Caller(function, keys["alice"])("GET", script.removeprefix("/api"))
    assert asset.status_code == 200
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert asset.mimetype.startswith("text/javascript")
    refused = await Caller(function, keys["alice"])("GET", "/dashboard")
    assert refused.status_code == 403


async def test_an_event_stream_through_the_trigger_comes_in_windows_that_resume(
    trigger: tuple[func.FunctionApp, dict[str, str], JobClient],
) -> None:
    function_app, keys, client = trigger
    function, _ = _function(function_app)
    alice = Caller(function, keys["alice"])
    quiet = (await alice("GET", "/events")).get_body().decode()  # a window with nothing
    assert "event: job" not in quiet
    assert "retry: " in quiet
    place = [line for line in quiet.splitlines() if line.startswith("id: ")][-1][4:]
    job = await client.queue_job("tests.work", {}, owner="alice")  # while nobody listens
    heard = (await alice("GET", "/events", headers={"Last-Event-ID": place})).get_body()
    events = [
        json.loads(line[6:]) for line in heard.decode().splitlines() if line.startswith("data: ")
    ]
    assert [(e["job_id"], e["status"]) for e in events] == [(job.id, "queued")]


async def test_without_authentication_settings_every_route_answers_503(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUEUED_JOBS_WEB_AUTH", raising=False)
    app = backend.app()
    host = FunctionsHost(app)
    function_app = func.FunctionApp()
    function_app.register_functions(job_blueprint(app, host=host, http_api=FunctionsWebApi(app)))
    function, _ = _function(function_app)
    response = await Caller(function, "qj_any")("GET", "/jobs")
    assert response.status_code == 503
    assert json.loads(response.get_body())["code"] == "not_configured"
    await host.close()
