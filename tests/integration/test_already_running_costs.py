"""What a job type's ``already_running`` policy costs in storage requests on Azure, beside
its jobs' own (docs/execution.md, "Already running"): nothing for ``allow``; for the others
the type's lease, taken at the start (2: read, insert or replace), given back at the end
(2) and renewed with each heartbeat (2), and what a job that finds it held pays."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queued_jobs.clock import ManualClock
from queued_jobs.context import JobContext
from queued_jobs.execution.already_running import TypeLease
from queued_jobs.execution.pipeline import Pipeline
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.azure_table import AzureTableJobRepository
from queued_jobs.runner import AlreadyRunning, JobRegistry
from tests.integration.test_azure_table_costs import cost, counted
from tests.support.counting import RequestCounter

pytestmark = [pytest.mark.asyncio, pytest.mark.azurite]
__all__ = ["counted"]  # the fixture, shared with the other cost tests

#: No heartbeat comes during a job of these tests: what one costs is measured apart.
SETTINGS = ExecutionSettings(lease=timedelta(seconds=30), heartbeat=timedelta(hours=1))
TYPES = {policy: f"costs.{policy.value}" for policy in AlreadyRunning}
#: A no-op job handled from its id: the read, the claim, the attempt's last write.
PLAIN_JOB = 3
#: The type's lease: taken at the start, given back at the end (a read and a write each).
TAKE, GIVE_BACK, RENEW = 2, 2, 2


def pipeline_on(repo: AzureTableJobRepository, clock: ManualClock) -> Pipeline:
    registry = JobRegistry()
    for policy, name in TYPES.items():

        async def noop(request: None, context: JobContext) -> None:
            return None

        registry.job(noop, name=name, already_running=policy)
    return Pipeline(
        repo, MemoryQueueBroker(clock=clock), registry, host="w:1", clock=clock, settings=SETTINGS
    )


async def queued(
    repo: AzureTableJobRepository, clock: ManualClock, policy: AlreadyRunning
) -> QueuedJob:
    clock.advance(timedelta(milliseconds=5))
    return await repo.insert(QueuedJob.new(owner="ada", job_type=TYPES[policy], now=clock.now()))


async def running_holder(
    repo: AzureTableJobRepository, clock: ManualClock, policy: AlreadyRunning
) -> QueuedJob:
    """A job of ``policy``'s type that runs elsewhere, holding its type's lease."""
    job = await queued(repo, clock, policy)
    now = clock.now()
    claimed = job.transition(
        JobStatus.RUNNING,
        now=now,
        attempts=1,
        attempt_started_at=now,
        lease_owner="elsewhere:1",
        lease_expires_at=now + SETTINGS.lease,
    )
    stored = await repo.update(claimed)
    lease = TypeLease(repo, stored, clock=clock, lease=SETTINGS.lease, settle=SETTINGS.lease)
    assert await lease.take()
    return stored


async def test_allow_costs_nothing_and_the_others_a_take_and_a_give_back_per_job(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    clock = ManualClock()
    pipeline = pipeline_on(repo, clock)
    per_job: dict[AlreadyRunning, int] = {}
    for policy in AlreadyRunning:
        for _ in range(2):  # the second: the type's lease row is there, given back
            job = await queued(repo, clock, policy)
            per_job[policy] = await cost(counter, pipeline.handle_job(job.id))
            assert (await repo.get(job.id)).status is JobStatus.SUCCEEDED

    assert per_job == {
        AlreadyRunning.ALLOW: PLAIN_JOB,
        AlreadyRunning.REFUSE: PLAIN_JOB + TAKE + GIVE_BACK,
        AlreadyRunning.SKIP: PLAIN_JOB + TAKE + GIVE_BACK,
        AlreadyRunning.REPLACE: PLAIN_JOB + TAKE + GIVE_BACK,
    }


async def test_each_heartbeat_renews_the_types_lease_in_two_requests(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    clock = ManualClock()
    job = await queued(repo, clock, AlreadyRunning.REFUSE)
    lease = TypeLease(repo, job, clock=clock, lease=SETTINGS.lease, settle=SETTINGS.lease)
    assert await cost(counter, lease.take()) == TAKE

    assert await cost(counter, lease.renew()) == RENEW  # beside the record's renewal (1)
    assert await cost(counter, lease.give_back()) == GIVE_BACK


async def test_a_job_that_finds_the_lease_held_pays_a_few_reads_and_its_end(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    clock = ManualClock()
    pipeline = pipeline_on(repo, clock)
    await repo.message_key()  # read once per process, before the first message it sends
    paid: dict[AlreadyRunning, int] = {}
    left: dict[AlreadyRunning, JobStatus] = {}
    for policy in (AlreadyRunning.REFUSE, AlreadyRunning.SKIP, AlreadyRunning.REPLACE):
        await running_holder(repo, clock, policy)
        job = await queued(repo, clock, policy)
        paid[policy] = await cost(counter, pipeline.handle_job(job.id))
        left[policy] = (await repo.get(job.id)).status

    assert left == {
        AlreadyRunning.REFUSE: JobStatus.FAILED,
        AlreadyRunning.SKIP: JobStatus.CANCELLED,
        AlreadyRunning.REPLACE: JobStatus.QUEUED,  # handed back to wait
    }

    # the read and the claim, the take refused by its read (1), the holder's name (1) and
    # record (1), then the job's last write; replacing also asks the holder to stop (1)
    # and lists the type's running jobs (16 shards, a read of each of the two found); the
    # new message of the job handed back is the queue's (not counted here)
    assert paid == {
        AlreadyRunning.REFUSE: 2 + 3 + 1,
        AlreadyRunning.SKIP: 2 + 3 + 1,
        AlreadyRunning.REPLACE: 2 + 3 + 1 + 16 + 2 + 1,
    }
