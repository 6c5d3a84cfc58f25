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


async def test_a_takeover_scan_costs_one_operator_listing_of_running_jobs(
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

    counter.reset()
    expired = await expired_leases(repo, now=now, queues={"jobs"}, limit=8)

    assert counter.total == 16  # one range query per shard
    assert [job.id for job in expired] == [found[0].id, found[2].id]  # oldest lease first
