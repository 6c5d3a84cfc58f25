"""A caller waiting on a job of a SQLite store hears another process finish it at once,
not at its next read (the change doorbell, ``<file>.changes``)."""

from __future__ import annotations

import asyncio
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from queued_jobs.client import JobClient
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.sqlite import SqliteJobRepository
from queued_jobs.runner import JobRegistry
from queued_jobs.waiting import Backoff
from tests.support.waiting import PATIENCE, until

pytestmark = pytest.mark.asyncio


class CountingRepository(SqliteJobRepository):
    reads = 0

    async def get(self, job_id: str) -> QueuedJob:
        self.reads += 1
        return await super().get(job_id)


def _finish(path: str, job_id: str) -> None:
    """In another process: cancel the job."""

    async def run() -> None:
        repo = SqliteJobRepository(path)
        await repo.create()
        job = await repo.get(job_id)
        now = datetime.now(UTC)
        await repo.update(job.transition(JobStatus.CANCELLED, now=now, completed_at=now))
        await repo.close()

    asyncio.run(run())


async def test_a_waiter_sees_another_process_finish_the_job_without_waiting_out_its_pause(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    repo = CountingRepository(path)
    await repo.create()
    client = JobClient(repo, MemoryQueueBroker(), JobRegistry())
    job = await repo.insert(QueuedJob.new(owner="ada", job_type="t"))
    ten_minutes = Backoff(first=timedelta(minutes=10), cap=timedelta(minutes=10))
    waiting = asyncio.create_task(client.wait(job.id, poll=ten_minutes))
    bell = path.with_name("jobs.db.changes")
    await until(lambda: repo.reads == 1 and bell.is_dir() and any(bell.iterdir()), "listening")

    finisher = multiprocessing.get_context("spawn").Process(
        target=_finish, args=(str(path), job.id)
    )
    finisher.start()
    try:
        done = await asyncio.wait_for(waiting, PATIENCE)
    finally:
        finisher.join(PATIENCE)
        await repo.close()

    assert done.status is JobStatus.CANCELLED
    assert repo.reads == 2
    assert finisher.exitcode == 0
