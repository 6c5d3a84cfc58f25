"""The sweep sends a message for a job left behind once per ``resend_after``, not once per
pass: several workers sweep every minute, and each pass must not add a duplicate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queued_jobs.clock import ManualClock
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.execution.sweep import Sweeper
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository

pytestmark = pytest.mark.asyncio

MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("status", "sent_at"),
    [
        (JobStatus.QUEUED, [10, 20, 30]),  # untouched for resend_after
        (JobStatus.RUNNING, [11, 21]),  # its lease expired resend_after ago
    ],
)
async def test_a_job_left_behind_gets_one_message_per_resend_interval_not_per_sweep(
    status: JobStatus, sent_at: list[int]
) -> None:
    clock = ManualClock()
    repository = MemoryJobRepository(clock=clock)
    broker = MemoryQueueBroker(clock=clock)
    await broker.queue("jobs").create()
    settings = ExecutionSettings(lease=MINUTE, resend_after=10 * MINUTE)
    sweeper = Sweeper(repository, broker, clock=clock, settings=settings)
    job = QueuedJob.new(owner="ada", job_type="nap", now=clock.now())
    if status is JobStatus.RUNNING:  # its worker died: the lease ran out, nobody renews it
        job = job.transition(
            status,
            now=clock.now(),
            attempts=1,
            started_at=clock.now(),
            lease_owner="dead:1",
            lease_expires_at=clock.now() + MINUTE,
        )
    await repository.insert(job)

    sent = []
    for _ in range(30):  # half an hour of sweeps, one a minute
        clock.advance(MINUTE)
        report = await sweeper.sweep()
        sent.append(report.resent + report.recovered)

    assert [minute for minute, count in enumerate(sent, 1) if count] == sent_at
    assert set(sent) == {0, 1}
    assert await broker.queue("jobs").depth() == len(sent_at)
