"""A Functions instance saves its presence from the invocations it handles anyway, at most
once a minute however busy it is, and a save that fails fails no invocation. The functions
are called directly, as the host calls them, on in-memory storage and a manual clock."""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage as HostMessage
from azure.functions.timer import TimerRequest

from queued_jobs.app import JobApp, MemoryStorage
from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.errors import StorageUnavailable
from queued_jobs.execution.messages import encode_message
from queued_jobs.functions import FunctionsHost, job_blueprint
from queued_jobs.models import JobStatus, Presence, PresenceKind
from queued_jobs.repositories.memory import MemoryJobRepository

MINUTE = timedelta(minutes=1)


@dataclass
class Deployed:
    app: JobApp
    client: JobClient
    host: FunctionsHost
    clock: ManualClock
    functions: dict[str, Callable[..., Awaitable[None]]]
    saves: list[Presence]

    async def run_job(self, request: int = 1) -> None:
        """Queue an ``echo`` job and hand its message to the normal band's trigger."""
        job = await self.client.queue_job("echo", request, owner="ada")
        body = encode_message(job, await self.client.repository.message_key())
        message = HostMessage(
            id=uuid.uuid4().hex, body=base64.b64encode(body.encode()), dequeue_count=1
        )
        await self.functions["queued_jobs_normal"](message)
        assert (await self.client.get_job(job.id)).status is JobStatus.SUCCEEDED

    async def sweep(self) -> None:
        await self.functions["queued_jobs_sweep"](TimerRequest(past_due=False))


@pytest.fixture
async def deployed(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Deployed]:
    clock = ManualClock()
    app = JobApp(MemoryStorage(), clock=clock)

    @app.job(name="echo")
    async def echo(request: int) -> int:
        return request

    host = FunctionsHost(app)
    functions_app = func.FunctionApp()
    functions_app.register_functions(job_blueprint(app, host=host))
    functions = {
        f.get_function_name(): f.get_user_function() for f in functions_app.get_functions()
    }
    saves: list[Presence] = []
    kept = MemoryJobRepository.save_presence

    async def counted(self: MemoryJobRepository, presence: Presence) -> None:
        saves.append(presence)
        await kept(self, presence)

    monkeypatch.setattr(MemoryJobRepository, "save_presence", counted)
    client = app.client()
    await client.create_storage()
    yield Deployed(app, client, host, clock, functions, saves)
    await client.close()
    await host.close()


async def test_a_busy_instance_saves_its_presence_once_a_minute_not_once_a_job(
    deployed: Deployed,
) -> None:
    d = deployed
    started = d.clock.now()
    for n in range(10):
        await d.run_job(n)
    assert len(d.saves) == 1
    d.clock.advance(MINUTE - timedelta(milliseconds=1))
    await d.run_job()
    assert len(d.saves) == 1
    d.clock.advance(timedelta(milliseconds=1))
    await d.run_job()
    await d.run_job()

    assert [p.seen_at for p in d.saves] == [started, started + MINUTE]
    [seen] = await d.client.repository.list_presences(seen_since=started)
    assert (seen.kind, seen.host) == (PresenceKind.FUNCTIONS, d.host.pipeline.host)
    assert seen.started_at == started
    assert seen.details["queues"] == ",".join(d.app.queues.bands)
    assert seen.details["finished"] == 11  # the jobs handled before this one
    assert seen.details["running"] == 1  # this one
    assert (seen.details["every_seconds"], seen.details["stopped"]) == (60.0, False)


async def test_invocations_at_once_save_the_presence_once(deployed: Deployed) -> None:
    d = deployed

    await asyncio.gather(*(d.run_job(n) for n in range(8)))

    assert len(d.saves) == 1


async def test_the_timer_saves_the_presence_of_an_idle_instance_once_a_minute(
    deployed: Deployed,
) -> None:
    d = deployed
    await d.sweep()
    await d.run_job()  # within the minute: nothing more
    d.clock.advance(MINUTE)
    await d.sweep()

    assert len(d.saves) == 2
    assert d.saves[-1].details["finished"] == 1


async def test_a_presence_that_cannot_be_saved_fails_no_job_and_is_tried_a_minute_later(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    d = deployed
    tries: list[Presence] = []

    async def failing(self: MemoryJobRepository, presence: Presence) -> None:
        tries.append(presence)
        raise StorageUnavailable("the table is away")

    monkeypatch.setattr(MemoryJobRepository, "save_presence", failing)

    await d.run_job()
    await d.run_job()
    await d.sweep()
    d.clock.advance(MINUTE)
    await d.run_job()

    assert len(tries) == 2
    warnings = [r for r in caplog.records if r.name == "queued_jobs.presence"]
    assert [r.levelno for r in warnings] == [logging.WARNING] * 2
    assert "the table is away" in warnings[0].getMessage()


async def test_a_save_that_hangs_holds_its_job_no_longer_than_its_patience(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = deployed
    d.host.presence.patience = 0.05

    async def hanging(self: MemoryJobRepository, presence: Presence) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(MemoryJobRepository, "save_presence", hanging)

    async with asyncio.timeout(10):
        await d.run_job()
