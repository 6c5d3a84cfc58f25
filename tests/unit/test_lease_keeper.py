"""The lease keeper of a running attempt: what it renews, and what it stops renewing."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from queued_jobs.clock import SYSTEM_CLOCK
from queued_jobs.errors import LeaseLost
from queued_jobs.execution.running import LeaseKeeper, RunningJob
from queued_jobs.models import Attempt, JobStatus, QueuedJob
from queued_jobs.repositories.memory import MemoryJobRepository

BEAT = timedelta(milliseconds=10)


class CountingRepository(MemoryJobRepository):
    """Tells when it has stored this many updates."""

    def __init__(self) -> None:
        super().__init__()
        self.updates = 0
        self._changed = asyncio.Condition()

    async def update(self, job: QueuedJob, *, attempt: Attempt | None = None) -> QueuedJob:
        stored = await super().update(job, attempt=attempt)
        async with self._changed:
            self.updates += 1
            self._changed.notify_all()
        return stored

    async def updated(self, *, times: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.updates >= times)


async def claimed(repository: MemoryJobRepository) -> QueuedJob:
    job = await repository.insert(QueuedJob.new(owner="o", job_type="t"))
    now = SYSTEM_CLOCK.now()
    return await repository.update(
        job.transition(
            JobStatus.RUNNING,
            now=now,
            attempts=1,
            lease_owner="here:1",
            lease_expires_at=now + timedelta(seconds=30),
        )
    )


def running_job(repository: MemoryJobRepository, job: QueuedJob) -> RunningJob:
    return RunningJob(
        repository,
        job,
        clock=SYSTEM_CLOCK,
        lease=timedelta(seconds=30),
        progress_interval=timedelta(seconds=1),
    )


async def test_once_the_attempt_lost_its_lease_its_message_is_not_renewed() -> None:
    repository = MemoryJobRepository()
    job = await claimed(repository)
    await repository.update(job.model_copy(update={"lease_owner": "elsewhere:2"}))  # taken over
    running = running_job(repository, job)
    renewals: list[str] = []

    async def renew_message() -> None:
        renewals.append("message")

    keeper = LeaseKeeper(running, BEAT, renew_message)
    with keeper:
        assert keeper._task is not None
        async with asyncio.timeout(20):
            await keeper._task  # ends by itself once the lease is lost

    assert running.lost
    assert renewals == []


async def test_a_lost_message_lease_is_one_warning_and_the_record_is_still_renewed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    repository = CountingRepository()
    job = await claimed(repository)
    running = running_job(repository, job)
    tries: list[str] = []

    async def renew_message() -> None:
        tries.append("message")
        raise LeaseLost("message m1 on jobs is no longer leased to us")

    with (
        caplog.at_level(logging.INFO, logger="queued_jobs"),
        LeaseKeeper(running, BEAT, renew_message),
    ):
        async with asyncio.timeout(20):
            await repository.updated(times=5)  # the claim, then four record renewals

    assert tries == ["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].exc_info is None
    assert "no longer leased" in warnings[0].getMessage()
