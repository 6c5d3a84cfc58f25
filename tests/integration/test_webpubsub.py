"""Publishing to Azure Web PubSub and negotiating client URLs, against a stand-in of the
service's REST API in the test (there is no Web PubSub emulator): every request it gets
must carry a token signed with the hub's access key."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from aiohttp import web

from queued_jobs.app import JobApp
from queued_jobs.client import JobClient
from queued_jobs.web.auth import Principal, Role
from queued_jobs.web.webpubsub import OPERATORS_GROUP, WebPubSub, add_webpubsub, owner_group
from tests.integration.conftest import Backend
from tests.support.http_stub import serving


@dataclass
class StandIn:
    key: str
    endpoint: str = ""
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    unsigned: int = 0

    async def send(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            jwt.decode(token, self.key, algorithms=["HS256"], audience=str(request.url))
        except jwt.PyJWTError:
            self.unsigned += 1
            return web.Response(status=401)
        self.sent.append((request.match_info["group"], await request.json()))
        return web.Response(status=202)


@pytest.fixture
async def service() -> AsyncIterator[StandIn]:
    stand_in = StandIn(base64.b64encode(secrets.token_bytes(32)).decode())
    async with serving(("/api/hubs/jobs/groups/{group}/:send", stand_in.send)) as base:
        stand_in.endpoint = base
        yield stand_in


def _pubsub(service: StandIn) -> WebPubSub:
    connection = f"Endpoint={service.endpoint};AccessKey={service.key};Version=1.0;"
    return WebPubSub(hub="jobs", connection_string=connection)


async def test_changes_go_to_their_owner_s_group_and_the_operators(
    backend: Backend, service: StandIn, client_of: Callable[[JobApp], Awaitable[object]]
) -> None:
    app = backend.app()
    add_webpubsub(app, _pubsub(service))
    client = await client_of(app)
    assert isinstance(client, JobClient)
    [consumer] = app.feed_consumers(client, holder="test")
    await consumer.run_once()
    job = await client.queue_job("tests.work", {}, owner="ünï 'quoted' owner")
    await client.cancel(job.id)
    assert await consumer.run_once() == 2
    assert service.unsigned == 0
    group = owner_group(job.owner)
    mine = [message["status"] for to, message in service.sent if to == group]
    assert mine == ["queued", "cancelled"]
    assert [m["job_id"] for to, m in service.sent if to == OPERATORS_GROUP] == [job.id, job.id]
    assert {to for to, _ in service.sent} == {group, OPERATORS_GROUP}


async def test_a_client_token_joins_only_the_caller_s_own_group(service: StandIn) -> None:
    pubsub = _pubsub(service)
    client = pubsub.client()
    try:
        user = Principal("alice", frozenset({Role.USER}), "api-key")
        access = await pubsub.client_access(client, user)
        operator = Principal("olga", frozenset({Role.OPERATOR}), "api-key")
        seen_all = await pubsub.client_access(client, operator)
    finally:
        await client.close()
    claims = jwt.decode(
        access["token"], service.key, algorithms=["HS256"], options={"verify_aud": False}
    )
    assert claims["sub"] == "alice"
    assert claims["webpubsub.group"] == [owner_group("alice")]
    assert "role" not in claims  # no joining other groups, no sending
    assert access["url"].startswith(service.endpoint.replace("http", "ws") + "/client/hubs/jobs")
    assert seen_all["groups"] == [owner_group("olga"), OPERATORS_GROUP]
