"""A job row that cannot be read, on a real store (SQLite, Azurite) under a real worker:
its message is settled instead of coming back every lease, the sweep passes over it, and
the worker goes on running every other job."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from queued_jobs import StorageConnection
from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock, utcnow
from queued_jobs.errors import CorruptJobRecord
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.worker import WorkerSettings
from tests.integration.conftest import FAST, Backend
from tests.support.unreadable_rows import Damage, plant_in_azure, plant_in_sqlite

pytestmark = pytest.mark.asyncio

RunWorker = Callable[..., Awaitable[None]]
ClientOf = Callable[[Any], Awaitable[Any]]


async def plant(backend: Backend, job: QueuedJob, damage: Damage = Damage.INVALID) -> None:
    if backend.kind == "sqlite":
        plant_in_sqlite(Path(backend.env["QJ_TEST_SQLITE"]), job, damage)
    else:
        connection = StorageConnection.from_string(backend.env["QJ_TEST_AZURE"])
        await plant_in_azure(connection, {}, backend.env["QJ_TEST_TABLE"], job, damage)


def unreadable_job(client: JobClient, **options: Any) -> QueuedJob:
    return QueuedJob.new(
        owner="alice", job_type="tests.work", request={}, queue=client.queues.base, **options
    )


async def test_a_worker_settles_the_message_of_an_unreadable_job_and_goes_on(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = backend.app()
    client: JobClient = await client_of(app)
    queue = client.broker.queue(client.queues.base)
    broken = unreadable_job(client)
    await plant(backend, broken)
    await queue.send(f'{{"v":1,"id":"{broken.id}"}}')  # no snapshot: the record is read
    before = await client.queue_job("tests.work", {}, owner="alice")

    async def settled() -> bool:
        return await queue.depth() == 0 and (await client.get_job(before.id)).is_terminal

    await run_worker(app, settled)  # a message left for redelivery would keep the depth at 1
    after = await client.queue_job("tests.work", {}, owner="alice")
    await run_worker(app, lambda: _finished(client, after.id))

    assert (await client.get_job(before.id)).status is JobStatus.SUCCEEDED
    assert (await client.get_job(after.id)).status is JobStatus.SUCCEEDED
    assert await queue.depth() == 0
    with pytest.raises(CorruptJobRecord, match=broken.id):
        await client.get_job(broken.id)


async def test_the_worker_sweep_passes_over_an_unreadable_row_and_releases_due_jobs(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    clock = ManualClock(utcnow())
    app = backend.app(clock=clock)
    client: JobClient = await client_of(app)
    job = await client.queue_job("tests.work", {}, owner="alice", delay=timedelta(days=10))
    await plant(backend, unreadable_job(client, status=JobStatus.SCHEDULED), Damage.NOT_JSON)
    clock.advance(timedelta(days=10))

    sweeping = WorkerSettings(
        concurrency=FAST.concurrency,
        poll_max=FAST.poll_max,
        shutdown_grace=FAST.shutdown_grace,
        sweep_interval=timedelta(milliseconds=100),
    )
    await run_worker(app, lambda: _finished(client, job.id), settings=sweeping)

    assert (await client.get_job(job.id)).status is JobStatus.SUCCEEDED


async def _finished(client: JobClient, job_id: str) -> bool:
    return (await client.get_job(job_id)).is_terminal
