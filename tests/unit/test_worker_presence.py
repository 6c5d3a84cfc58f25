"""The standalone worker saves its presence at its start, every ``presence_interval`` and,
marked stopped, at a graceful stop; a save that fails or hangs never stops the worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.errors import StorageUnavailable
from queued_jobs.execution.pipeline import Pipeline
from queued_jobs.models import JobStatus, Presence, PresenceKind, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry
from queued_jobs.worker import Worker, WorkerSettings
from tests.support.waiting import PATIENCE, forever, until

#: Short enough that a test sees several saves at once; the clock says when each was.
INTERVAL = timedelta(milliseconds=20)
HOST = "box:42"


class RecordingRepository(MemoryJobRepository):
    """Counts presence saves; ``failing``: each save raises; ``hanging``: each waits."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock=clock)
        self.saves: list[Presence] = []
        self.failing = False
        self.hanging = False

    async def save_presence(self, presence: Presence) -> None:
        self.saves.append(presence)
        if self.failing:
            raise StorageUnavailable("the table is away")
        if self.hanging:
            await forever()
        await super().save_presence(presence)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def repository(clock: ManualClock) -> RecordingRepository:
    return RecordingRepository(clock)


@pytest.fixture
async def client(clock: ManualClock, repository: RecordingRepository) -> AsyncIterator[JobClient]:
    registry = JobRegistry()

    @registry.job(name="echo")
    async def echo(request: int) -> int:
        return request

    client = JobClient(repository, MemoryQueueBroker(clock=clock), registry, clock=clock)
    yield client
    await client.close()


def worker_for(client: JobClient, **settings: object) -> Worker:
    pipeline = Pipeline(
        client.repository, client.broker, client.registry, host=HOST, clock=client.clock
    )
    options: dict[str, object] = {
        "concurrency": 3,
        "sweep_interval": None,
        "takeover_interval": None,
        "poll_min": timedelta(milliseconds=5),
        "poll_max": timedelta(milliseconds=50),
        "presence_interval": INTERVAL,
        **settings,
    }
    chosen = WorkerSettings(**options)  # type: ignore[arg-type]
    return Worker(pipeline, [client.broker.queue("jobs")], settings=chosen)


async def succeeded(client: JobClient, *jobs: QueuedJob) -> None:
    async with asyncio.timeout(PATIENCE):
        for job in jobs:
            done = await client.wait(job.id, poll=timedelta(milliseconds=10))
            assert done.status is JobStatus.SUCCEEDED


async def stopped(worker: Worker, running: asyncio.Task[None]) -> None:
    worker.stop()
    async with asyncio.timeout(PATIENCE):
        await running


async def test_a_worker_says_it_is_there_at_its_start_again_and_again_and_when_it_stops(
    client: JobClient, repository: RecordingRepository, clock: ManualClock
) -> None:
    started_at = clock.now()
    worker = worker_for(client)
    running = asyncio.create_task(worker.run())
    await until(lambda: len(repository.saves) >= 1, "the first save")

    [first] = await repository.list_presences(seen_since=started_at)
    assert (first.host, first.kind) == (HOST, PresenceKind.WORKER)
    assert first.started_at == first.seen_at == started_at
    assert first.details == {
        "queues": "jobs",
        "concurrency": 3,
        "running": 0,
        "held": 0,
        "finished": 0,
        "every_seconds": 0.02,
        "stopped": False,
    }
    later = clock.advance(timedelta(seconds=30))
    await until(lambda: repository.saves[-1].seen_at == later, "a save after 30 s")
    await stopped(worker, running)

    [last] = await repository.list_presences(seen_since=started_at)
    assert (last.seen_at, last.started_at) == (later, started_at)
    assert last.details["stopped"] is True
    assert not running.exception()


async def test_a_workers_presence_counts_the_jobs_it_finished(
    client: JobClient, repository: RecordingRepository
) -> None:
    jobs = [await client.queue_job("echo", n, owner="ada") for n in range(3)]
    worker = worker_for(client)
    running = asyncio.create_task(worker.run())

    await succeeded(client, *jobs)
    await until(lambda: repository.saves[-1].details["finished"] == 3, "a save after the jobs")
    await stopped(worker, running)

    assert repository.saves[-1].details["finished"] == 3
    assert repository.saves[-1].details["running"] == 0


async def test_a_presence_that_cannot_be_saved_is_logged_and_the_worker_goes_on(
    client: JobClient, repository: RecordingRepository, caplog: pytest.LogCaptureFixture
) -> None:
    repository.failing = True
    worker = worker_for(client)
    running = asyncio.create_task(worker.run())
    await until(lambda: len(repository.saves) >= 3, "three tries")
    job = await client.queue_job("echo", 7, owner="ada")

    await succeeded(client, job)
    await stopped(worker, running)

    warnings = [r for r in caplog.records if r.name == "queued_jobs.presence"]
    assert warnings
    assert all(r.levelno == logging.WARNING for r in warnings)
    assert "the table is away" in warnings[0].getMessage()
    assert not running.exception()


async def test_a_save_that_hangs_keeps_no_worker_from_stopping_in_time(
    client: JobClient, repository: RecordingRepository
) -> None:
    worker = worker_for(client)
    running = asyncio.create_task(worker.run())
    await until(lambda: len(repository.saves) >= 1, "the first save")
    repository.hanging = True
    await until(lambda: len(repository.saves) >= 2, "a save that hangs")

    loop = asyncio.get_running_loop()
    began = loop.time()
    await stopped(worker, running)

    assert loop.time() - began < 5  # the stopped save gets a second, then is given up
    assert repository.saves[-1].details["stopped"] is True


async def test_a_worker_told_not_to_saves_no_presence(
    client: JobClient, repository: RecordingRepository
) -> None:
    job = await client.queue_job("echo", 1, owner="ada")
    worker = worker_for(client, presence_interval=None)
    running = asyncio.create_task(worker.run())

    await succeeded(client, job)
    await stopped(worker, running)

    assert repository.saves == []


def test_a_presence_interval_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="presence_interval"):
        WorkerSettings(presence_interval=timedelta(0))
