"""Webhooks end to end on SQLite and Azurite: a receiver in the test checks every delivery's
signature with the Standard Webhooks verifier, fails the first try, and sees it retried."""

from __future__ import annotations

import base64
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook as Verifier

from queued_jobs.app import JobApp
from queued_jobs.client import JobClient
from queued_jobs.models import AttemptOutcome, JobStatus
from queued_jobs.web.webhooks import DELIVERY_OWNER, DELIVERY_TYPE, Webhook, add_webhooks
from queued_jobs.web.webhooks.dispatch import queue_deliveries
from tests.integration.conftest import Backend
from tests.support.http_stub import serving


@dataclass
class Receiver:
    secret: str
    url: str = ""
    failures_left: int = 1
    tries: list[str] = field(default_factory=list)
    accepted: list[dict[str, object]] = field(default_factory=list)
    forged: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        try:
            event = Verifier(self.secret).verify(body, dict(request.headers))
        except Exception:
            self.forged += 1
            return web.Response(status=400)
        self.tries.append(request.headers["webhook-id"])
        if self.failures_left > 0:
            self.failures_left -= 1
            return web.Response(status=503, text="not now")
        self.accepted.append(event)
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    found = Receiver(secret)
    async with serving(("/hooks", found.handle)) as base:
        found.url = f"{base}/hooks"
        yield found


async def test_a_failed_delivery_is_retried_and_every_try_is_signed(
    backend: Backend,
    receiver: Receiver,
    client_of: Callable[[JobApp], Awaitable[object]],
    run_worker: Callable[..., Awaitable[None]],
) -> None:
    app = backend.app()
    add_webhooks(app, [Webhook("tests", receiver.url, secret=receiver.secret)])
    client = await client_of(app)
    assert isinstance(client, JobClient)
    # The consumer's place: from now on. Its lease is then this process's, as the worker's
    # consumer below holds it.
    [consumer] = app.feed_consumers(client, holder=f"{socket.gethostname()}:{os.getpid()}")
    await consumer.run_once()
    job = await client.queue_job("tests.work", {}, owner="alice")

    async def delivered() -> bool:
        return bool(receiver.accepted)

    await run_worker(app, delivered)
    [event] = receiver.accepted
    assert event["type"] == "job.succeeded"
    assert event["data"]["job_id"] == job.id  # type: ignore[index]
    assert receiver.forged == 0
    assert len(receiver.tries) == 2
    assert receiver.tries[0] == receiver.tries[1]  # the same webhook-id on every try
    page = await client.list_jobs(owner=DELIVERY_OWNER, job_type=DELIVERY_TYPE)
    [delivery] = page.items
    assert delivery.status is JobStatus.SUCCEEDED
    assert delivery.correlation_id == job.id
    attempts = await client.list_attempts(delivery.id)
    assert [a.outcome for a in attempts] == [AttemptOutcome.FAILED, AttemptOutcome.SUCCEEDED]
    assert "503" in (attempts[0].error.message if attempts[0].error else "")


async def test_a_change_read_twice_is_delivered_once(
    backend: Backend, receiver: Receiver, client_of: Callable[[JobApp], Awaitable[object]]
) -> None:
    app = backend.app()
    hooks = add_webhooks(app, [Webhook("tests", receiver.url, secret=receiver.secret)])
    client = await client_of(app)
    assert isinstance(client, JobClient)
    [consumer] = app.feed_consumers(client, holder="test")
    await consumer.run_once()
    job = await client.queue_job("tests.work", {}, owner="alice")
    await client.cancel(job.id)
    assert await consumer.run_once() == 2  # its queued and cancelled changes
    # Another process reading the same change (its checkpoint lost) queues nothing more.
    [change] = [
        c
        for p in client.repository.change_partitions(None)
        for c in (await client.repository.read_changes(p)).changes
        if c.job_id == job.id and c.status is JobStatus.CANCELLED
    ]
    assert await queue_deliveries(client, hooks, [change]) == 0
    page = await client.list_jobs(owner=DELIVERY_OWNER)
    assert len(page.items) == 1
