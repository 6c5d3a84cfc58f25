"""Cancelling job code that does not stop: the wait is bounded for async code, and a plain
``def`` keeps its lease until its thread really ends."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from queued_jobs.client import JobClient
from queued_jobs.context import JobContext
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.models import AttemptOutcome, JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry

SETTINGS = ExecutionSettings(
    lease=timedelta(seconds=30),
    heartbeat=timedelta(milliseconds=10),
    stop_timeout=timedelta(milliseconds=100),
)


class Jobs:
    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = threading.Event()
        self.told = threading.Event()
        self.ignored = 0
        self.code_ended = False
        self.registry = JobRegistry()
        self.runs: set[asyncio.Task[QueuedJob]] = set()

        @self.registry.job(name="stubborn")
        async def stubborn(request: float) -> str:
            self.started.set()
            while not self.release.is_set():
                try:
                    await asyncio.sleep(0.01)
                except asyncio.CancelledError:
                    self.ignored += 1
            self.code_ended = True
            return "ran to its end"

        @self.registry.job(name="blocking")
        def blocking(request: float, context: JobContext) -> str:
            while not self.release.wait(0.01):  # sees that it should stop, and goes on
                if context.cancellation_requested:
                    self.told.set()
            return "ran to its end"


async def started(jobs: Jobs, client: JobClient, job_type: str, request: float) -> QueuedJob:
    """A job of ``job_type`` run inline in a task of its own, once it is running."""
    inline = JobClient(
        client.repository, client.broker, jobs.registry, settings=SETTINGS, inline=True
    )
    jobs.runs.add(asyncio.create_task(inline.queue_job(job_type, request, owner="a")))
    async with asyncio.timeout(20):
        while True:
            listed = (await client.repository.list_by_owner("a", limit=1)).items
            if listed and listed[0].status is JobStatus.RUNNING:
                return listed[0]
            await asyncio.sleep(0.01)


@pytest.fixture
async def jobs() -> AsyncIterator[Jobs]:
    made = Jobs()
    yield made
    made.release.set()
    async with asyncio.timeout(20):
        await asyncio.gather(*made.runs, return_exceptions=True)


@pytest.fixture
def client(jobs: Jobs) -> JobClient:
    return JobClient(MemoryJobRepository(), MemoryQueueBroker(), jobs.registry, settings=SETTINGS)


async def finished(client: JobClient, job: QueuedJob) -> QueuedJob:
    async with asyncio.timeout(20):
        return await client.wait(job.id, poll=timedelta(milliseconds=10))


async def test_cancelling_code_that_swallows_cancellation_is_recorded_without_waiting_for_it(
    jobs: Jobs, client: JobClient, caplog: pytest.LogCaptureFixture
) -> None:
    job = await started(jobs, client, "stubborn", 0)
    await client.cancel(job.id)
    cancelled = await finished(client, job)

    assert not jobs.code_ended  # recorded without waiting for the code
    jobs.release.set()
    assert cancelled.status is JobStatus.CANCELLED
    assert [a.outcome for a in await client.list_attempts(job.id)] == [AttemptOutcome.CANCELLED]
    assert jobs.ignored >= 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("did not stop when told to" in message for message in errors)


async def test_cancelling_a_plain_def_keeps_its_lease_until_its_thread_ends(
    jobs: Jobs, client: JobClient, caplog: pytest.LogCaptureFixture
) -> None:
    job = await started(jobs, client, "blocking", 0)

    await client.cancel(job.id)
    assert await asyncio.to_thread(jobs.told.wait, 20)  # told to stop; it goes on
    async with asyncio.timeout(20):  # and stop_timeout later, the attempt says it waits
        while "keeps its lease until the thread ends" not in caplog.text:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    still = await client.get_job(job.id)
    assert still.status is JobStatus.RUNNING  # no second run could start: the lease is held
    assert still.lease_owner is not None
    jobs.release.set()  # the thread ends at last

    cancelled = await finished(client, job)
    assert cancelled.status is JobStatus.CANCELLED
    assert [a.outcome for a in await client.list_attempts(job.id)] == [AttemptOutcome.CANCELLED]
