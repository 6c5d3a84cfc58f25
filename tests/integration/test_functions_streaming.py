"""The web API behind the streaming HTTP trigger (the Functions FastAPI extension): the
function takes a Starlette request as the Python worker hands it over and returns a
response whose body streams, so ``/events`` is live there."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import azure.functions as func
import pytest
from azurefunctions.extensions.http.fastapi import Request as ExtensionRequest
from starlette.requests import Request
from starlette.responses import StreamingResponse

from queued_jobs.app import JobApp
from queued_jobs.client import JobClient
from queued_jobs.functions import FunctionsHost, job_blueprint
from queued_jobs.web.auth import ApiKeys, Authentication, Role, new_api_key
from queued_jobs.web.functions_http import FunctionsWebApi
from tests.integration.conftest import Backend


def _request(method: str, path: str, key: str, body: bytes = b"") -> Request:
    """A request as the worker's web server hands it to the function."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays until the test ends the response
        return {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"x-api-key", key.encode()), (b"content-type", b"application/json")],
        "server": ("localhost", 7071),
        "client": ("127.0.0.1", 50000),
    }
    return Request(scope, receive)


@pytest.fixture
async def streaming(
    backend: Backend, client_of: Callable[[JobApp], Awaitable[object]]
) -> AsyncIterator[tuple[Callable[..., Awaitable[StreamingResponse]], str, JobClient]]:
    app = backend.app()
    key, entry = new_api_key("alice", {Role.USER})
    api = FunctionsWebApi(app, auth=Authentication([ApiKeys([entry])]), streaming=True)
    host = FunctionsHost(app)
    function_app = func.FunctionApp()
    function_app.register_functions(job_blueprint(app, host=host, http_api=api))
    [found] = [
        f for f in function_app.get_functions() if f.get_function_name() == "queued_jobs_http"
    ]
    client = await client_of(app)
    assert isinstance(client, JobClient)
    yield found.get_user_function(), key, client
    await api.close()
    await host.close()


async def _body_until(response: StreamingResponse, marker: str) -> str:
    seen = ""
    async with asyncio.timeout(30):
        async for chunk in response.body_iterator:
            seen += chunk.decode() if isinstance(chunk, bytes) else str(chunk)
            if marker in seen:
                return seen
    raise AssertionError(f"the body ended without {marker!r}: {seen!r}")


async def test_the_function_takes_the_extension_s_request(
    streaming: tuple[Callable[..., Awaitable[StreamingResponse]], str, JobClient],
) -> None:
    function, _, _ = streaming
    [parameter] = inspect.signature(function).parameters.values()
    assert parameter.annotation is ExtensionRequest


async def test_an_event_stream_through_the_streaming_trigger_is_live(
    streaming: tuple[Callable[..., Awaitable[StreamingResponse]], str, JobClient],
) -> None:
    function, key, client = streaming
    response = await function(_request("GET", "/api/events", key))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    job = await client.queue_job("tests.work", {}, owner="alice")
    seen = await _body_until(response, job.id)
    assert "event: job" in seen
    assert "retry:" not in seen  # not windows: the stream stays open
    await response.body_iterator.aclose()  # type: ignore[attr-defined]


async def test_routes_answer_through_the_streaming_trigger(
    streaming: tuple[Callable[..., Awaitable[StreamingResponse]], str, JobClient],
) -> None:
    function, key, _ = streaming
    body = json.dumps({"type": "tests.work", "request": {}}).encode()
    created = await function(_request("POST", "/api/jobs", key, body))
    assert created.status_code == 202
    text = await _body_until(created, "}")
    job = json.loads(text)
    assert created.headers["location"] == f"http://localhost:7071/api/jobs/{job['id']}"
    refused = await function(_request("GET", "/api/jobs", "qj_wrong"))
    assert refused.status_code == 401
