"""What looking for jobs to take over costs on Azure (docs/design.md, docs/execution.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queued_jobs.clock import ManualClock
from queued_jobs.execution.takeover import expired_leases
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.repositories.azure_table import AzureTableJobRepository
from tests.integration.test_azure_table_costs import counted
from tests.support.counting import RequestCounter

pytestmark = [pytest.mark.asyncio, pytest.mark.azurite]
__all__ = ["counted"]  # the fixture, shared with the other cost tests


async def test_a_takeover_scan_costs_one_query_per_shard_and_a_read_per_expired_lease(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    now = ManualClock().now()
    found = []
    for n, expires in enumerate((-5, 30, -1)):
        job = await repo.insert(QueuedJob.new(owner=f"u{n}", job_type="t", now=now))
        claimed = job.transition(
            JobStatus.RUNNING,
            now=now,
            attempts=1,
            lease_owner="w:1",
            lease_expires_at=now + timedelta(seconds=expires),
        )
        found.append(await repo.update(claimed))
    elsewhere = await repo.insert(QueuedJob.new(owner="v", job_type="t", now=now, queue="other"))
    await repo.update(
        elsewhere.transition(JobStatus.RUNNING, now=now, lease_owner="w:1", lease_expires_at=now)
    )

    backlog = [QueuedJob.new(owner=f"q{n}", job_type="t", now=now) for n in range(300)]
    await repo.insert_many(backlog)  # queued jobs behind: none of them is read

    counter.reset()
    expired = await expired_leases(repo, now=now, queues={"jobs"}, limit=8)

    # one range query per shard on the running jobs' due index, then a read of each job
    # whose lease ran out (three: two on "jobs", one on "other")
    assert counter.total == 16 + 3
    assert [job.id for job in expired] == [found[0].id, found[2].id]  # oldest lease first
