"""Records that cannot be read, and writes that would make one: the client refuses them
up front, the pipeline dead-letters the message of a job it cannot read, the sweep passes
over such rows, and the worker's sweep survives whatever one pass meets. On memory and
SQLite (the contract suite proves that every adapter, Azure included, raises alike)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.errors import InvalidInput, PayloadTooDeep
from queued_jobs.execution.messages import encode_message
from queued_jobs.execution.pipeline import Disposition, Pipeline
from queued_jobs.execution.sweep import Sweeper, SweepReport
from queued_jobs.models import MAX_NESTING, JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.repositories.sqlite import SqliteJobRepository
from queued_jobs.runner import JobRegistry
from queued_jobs.worker import Worker, WorkerSettings
from tests.support.unreadable_rows import Damage, nested, plant_in_memory, plant_in_sqlite

pytestmark = pytest.mark.asyncio


class Stores:
    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.clock = ManualClock()
        self.path = tmp_path / "jobs.db"
        self.repository = (
            MemoryJobRepository(clock=self.clock)
            if kind == "memory"
            else SqliteJobRepository(self.path, clock=self.clock)
        )
        registry = JobRegistry()

        @registry.job(name="echo", max_attempts=1)
        def echo(request: object) -> object:
            if request == "fail":
                raise ValueError("failing on purpose")
            return request

        self.client = JobClient(
            self.repository, MemoryQueueBroker(clock=self.clock), registry, clock=self.clock
        )
        self.pipeline = Pipeline(
            self.repository, self.client.broker, registry, host="test:1", clock=self.clock
        )

    def plant(self, job: QueuedJob, damage: Damage = Damage.INVALID) -> None:
        if isinstance(self.repository, MemoryJobRepository):
            plant_in_memory(self.repository, job, damage)
        else:
            plant_in_sqlite(self.path, job, damage)

    def new_job(self, **options: object) -> QueuedJob:
        job = QueuedJob.new(owner="ada", job_type="echo", now=self.clock.now(), **options)
        self.clock.advance(timedelta(milliseconds=1))
        return job


@pytest.fixture(params=["memory", "sqlite"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    made = Stores(request.param, tmp_path)
    await made.client.create_storage()
    yield made
    await made.client.close()


# --- the client refuses what could not be read back -----------------------------------


async def test_a_request_or_custom_data_nested_too_deep_is_refused_before_anything_is_stored(
    stores: Stores,
) -> None:
    client = stores.client
    for levels in (MAX_NESTING + 1, 230):
        with pytest.raises(PayloadTooDeep, match="request is nested more than 64 levels"):
            await client.queue_job("echo", nested(levels), owner="ada", unique_key="k")
        with pytest.raises(PayloadTooDeep, match="custom_data"):
            await client.queue_job("echo", 1, owner="ada", custom_data={"c": nested(levels)})

    assert (await stores.repository.list_jobs()).items == []
    assert await client.broker.queue("jobs").depth() == 0
    stored = await client.queue_job("echo", nested(MAX_NESTING), owner="ada", unique_key="k")
    assert (await client.get_job(stored.id)).request == nested(MAX_NESTING)


async def test_retry_refuses_more_attempts_than_a_job_may_have_and_changes_nothing(
    stores: Stores,
) -> None:
    client = stores.client
    job = await client.queue_job("echo", "fail", owner="ada")
    [message] = await client.broker.queue("jobs").receive()
    await stores.pipeline.handle(message.body)
    failed = await client.get_job(job.id)
    assert failed.status is JobStatus.FAILED

    with pytest.raises(InvalidInput, match=r"has used 1 of at most 1000 attempts.*999 more"):
        await client.retry(job.id, attempts=1000)
    with pytest.raises(InvalidInput, match="at least 1"):
        await client.retry(job.id, attempts=0)

    assert await client.get_job(job.id) == failed
    again = await client.retry(job.id, attempts=999)
    assert again.max_attempts == 1000
    assert await client.get_job(job.id) == again


# --- the pipeline dead-letters what it cannot read -------------------------------------


async def test_the_message_of_an_unreadable_job_is_dead_lettered_with_the_reason(
    stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    job = stores.new_job()
    stores.plant(job)
    key = await stores.pipeline.repository.message_key()
    body = encode_message(job, key, snapshot=False)  # no snapshot: the record is read

    with caplog.at_level(logging.ERROR, logger="queued_jobs.execution"):
        handled = await stores.pipeline.handle(body)
        poisoned = await stores.pipeline.fail_poisoned(body, "delivered 11 times")

    for outcome in (handled, poisoned):
        assert outcome.disposition is Disposition.DEAD_LETTER
        assert job.id in outcome.reason
        assert "max_attempts" in outcome.reason
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]
    assert all(job.id in r.getMessage() for r in caplog.records)


async def test_a_job_stored_before_the_nesting_cap_is_dead_lettered_not_retried_forever(
    stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    legacy = stores.new_job()
    stores.plant(legacy, Damage.REFUSED_ON_WRITE)
    assert (await stores.client.get_job(legacy.id)).request == nested(100)  # it reads back

    with caplog.at_level(logging.ERROR, logger="queued_jobs.execution"):
        handled = await stores.pipeline.handle(f'{{"v":1,"id":"{legacy.id}"}}')

    assert handled.disposition is Disposition.DEAD_LETTER
    assert f"job {legacy.id} cannot be claimed" in handled.reason
    assert "nested more than 64 levels" in handled.reason
    [logged] = caplog.records
    assert legacy.id in logged.getMessage()


# --- the sweep passes over what it cannot read -----------------------------------------


async def test_the_sweep_skips_unreadable_rows_names_them_and_finishes_its_pass(
    stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    client = stores.client
    scheduled = await client.queue_job("echo", 1, owner="ada", delay=timedelta(days=10))
    legacy = stores.new_job(status=JobStatus.SCHEDULED)
    stores.plant(legacy, Damage.REFUSED_ON_WRITE)  # read, but its release is refused
    unreadable = [stores.new_job(status=JobStatus.SCHEDULED) for _ in range(3)]
    for job, damage in zip(
        unreadable, [Damage.NOT_JSON, Damage.INVALID, Damage.TOO_DEEP], strict=True
    ):
        stores.plant(job, damage)
    stores.clock.advance(timedelta(days=10))
    sweeper = Sweeper(stores.repository, client.broker, clock=stores.clock)

    with caplog.at_level(logging.ERROR, logger="queued_jobs.sweep"):
        report = await sweeper.sweep()

    assert report.released == 1
    assert sorted(report.skipped) == sorted(j.id for j in unreadable)
    assert (await client.get_job(scheduled.id)).status is JobStatus.QUEUED
    assert (await client.get_job(legacy.id)).status is JobStatus.SCHEDULED
    refused, skipped = caplog.records
    assert legacy.id in refused.getMessage()
    assert all(j.id in skipped.getMessage() for j in unreadable)


# --- the worker's sweep never dies silently --------------------------------------------


class FailingOnce(Sweeper):
    """A sweeper whose first pass fails with an error the sweep does not expect."""

    def __init__(self, stores: Stores) -> None:
        super().__init__(stores.repository, stores.client.broker, clock=stores.clock)
        self.passes = 0
        self.second = asyncio.Event()

    async def sweep(self) -> SweepReport:
        self.passes += 1
        if self.passes == 1:
            raise RuntimeError("a bug in one pass")
        self.second.set()
        return await super().sweep()


class Doomed(BaseException):
    """Not an ``Exception``: nothing in the sweep loop is meant to survive it."""


class EndingSweeper(Sweeper):
    async def sweep(self) -> SweepReport:
        raise Doomed("the sweep is gone")


SWEEPING = WorkerSettings(poll_max=timedelta(milliseconds=20), sweep_interval=timedelta(0))


async def test_a_failed_sweep_is_logged_and_the_worker_sweeps_again(
    stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    sweeper = FailingOnce(stores)
    worker = Worker(stores.pipeline, [stores.client.broker.queue("jobs")], sweeper=sweeper,
                    settings=SWEEPING)  # fmt: skip

    with caplog.at_level(logging.ERROR, logger="queued_jobs.worker"):
        running = asyncio.create_task(worker.run())
        async with asyncio.timeout(30):
            await sweeper.second.wait()
        worker.stop()
        await running

    [logged] = [r for r in caplog.records if r.name == "queued_jobs.worker"]
    assert "the sweep failed" in logged.getMessage()
    assert logged.exc_info is not None
    assert "a bug in one pass" in str(logged.exc_info[1])


async def test_a_background_task_that_ends_stops_the_worker_loudly(
    stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    sweeper = EndingSweeper(stores.repository, stores.client.broker, clock=stores.clock)
    worker = Worker(stores.pipeline, [stores.client.broker.queue("jobs")], sweeper=sweeper,
                    settings=SWEEPING)  # fmt: skip

    with caplog.at_level(logging.CRITICAL, logger="queued_jobs.worker"):
        async with asyncio.timeout(30):
            await worker.run()

    [logged] = caplog.records
    assert "the sweep ended unexpectedly; stopping the worker" in logged.getMessage()
    assert logged.exc_info is not None
    assert isinstance(logged.exc_info[1], Doomed)
