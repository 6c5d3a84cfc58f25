"""What tags cost on Azure: nothing more to insert a job (its tag pointers are rows of its
transaction), and a listing by tag a range per shard and a read per job
(docs/design.md's request table)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from queued_jobs.models import JobStatus, QueuedJob, owner_shard
from queued_jobs.repositories.azure_table import AzureTableJobRepository
from queued_jobs.repositories.base import JobQuery
from tests.integration.test_azure_table_costs import cost, counted
from tests.support.counting import RequestCounter

pytestmark = [pytest.mark.asyncio, pytest.mark.azurite]
__all__ = ["counted"]  # the fixture, shared with the other cost tests

FAILED, QUEUED = JobStatus.FAILED, JobStatus.QUEUED
_START = datetime(2030, 1, 1, tzinfo=UTC)


def _at(n: int) -> datetime:
    """The creation time of the ``n``-th job of a test: jobs a millisecond apart sort by id."""
    return _START + timedelta(milliseconds=n)


async def test_a_job_with_tags_costs_one_request_to_insert_and_its_batches_stay_under_100_rows(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    most = QueuedJob.new(owner="ann", job_type="t", tags=tuple(f"t{n:02}|é" for n in range(32)))
    two_tags = [QueuedJob.new(owner="bob", job_type="t", tags=("a", "b")) for _ in range(100)]
    all_tags = [QueuedJob.new(owner="cy", job_type="t", tags=most.tags) for _ in range(7)]

    assert await cost(counter, repo.insert(most)) == 1
    # ten rows a job (eight and two tag pointers): ten jobs a transaction of 100 rows
    assert await cost(counter, repo.insert_many(two_tags)) == 10
    # forty rows a job: two a transaction
    assert await cost(counter, repo.insert_many(all_tags)) == math.ceil(7 / 2)
    assert await cost(counter, repo.get(most.id)) == 1
    listed = await repo.list_jobs(JobQuery(tag="b", owner="bob"), limit=1000)
    assert len(listed.items) == 100
    # Read, attempts, its change rows, one transaction.
    assert await cost(counter, repo.delete(most.id)) == 4


async def test_a_tag_listing_page_costs_a_request_per_shard_and_a_read_per_job(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    others = [
        QueuedJob.new(owner=f"u{i % 40}", job_type="t", now=_at(i), tags=("bulk",))
        for i in range(400)
    ]
    rare = [
        QueuedJob.new(owner=f"u{i}", job_type="t", now=_at(400 + i), tags=("rare", "bulk"))
        for i in range(5)
    ]
    await repo.insert_many([*others, *rare])
    await repo.insert_many([QueuedJob.new(owner=f"u{i}", job_type="t") for i in range(300)])
    u3 = [job for job in [*others, *rare] if job.owner == "u3"]

    counter.reset()
    page = await repo.list_jobs(JobQuery(tag="rare"), limit=50)
    # 16 ranges of pointers, then a point read of each listed job
    assert counter.total == 16 + len(rare)
    assert sorted(job.id for job in page.items) == sorted(job.id for job in rare)
    assert page.continuation is None
    assert await cost(counter, repo.list_jobs(JobQuery(tag="bulk"), limit=50)) == 16 + 50
    # an owner's: the owner's shard alone, the service keeping the owner's pointers
    counter.reset()
    owners = await repo.list_jobs(JobQuery(tag="bulk", owner="u3"), limit=50)
    assert counter.total == 1 + len(u3)
    assert [job.id for job in owners.items] == [job.id for job in reversed(u3)]
    assert await cost(counter, repo.count_jobs(JobQuery(tag="bulk"), at_most=1000)) == 16


async def test_a_tag_listing_by_status_reads_the_tags_jobs_until_the_page_is_full(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    jobs = [
        QueuedJob.new(owner="bob", job_type="t", now=_at(i), tags=("nightly",)) for i in range(30)
    ]
    stored = await repo.insert_many(jobs)
    failed = await repo.update(stored[0].transition(FAILED, now=_at(30)))
    # and other owners' jobs of the tag in bob's shard, which the service passes over
    neighbours = [f"n{i}" for i in range(200) if owner_shard(f"n{i}") == owner_shard("bob")]
    await repo.insert_many(
        [QueuedJob.new(owner=o, job_type="t", now=_at(31), tags=("nightly",)) for o in neighbours]
    )

    queued = JobQuery(tag="nightly", owner="bob", statuses=frozenset({QUEUED}))
    page = await cost(counter, repo.list_jobs(queued, limit=10))
    # one range of 11 pointers, a point read of each of the 10 jobs: all match
    assert page == 1 + 10

    rare = JobQuery(tag="nightly", owner="bob", statuses=frozenset({FAILED}))
    counter.reset()
    first = await repo.list_jobs(rare, limit=2)
    # ten pages of two pointers: the first range (3 pointers), then one range for the rest
    # of the call's pointers (20 at most), a point read of each of the 20 pointers read;
    # none failed, so the page is empty and goes on after the last one read
    assert counter.total == 2 + 20
    assert (list(first.items), first.continuation) == ([], jobs[10].id)
    counter.reset()
    second = await repo.list_jobs(rare, limit=2, continuation=first.continuation)
    assert counter.total == 2 + 10  # the last ten pointers, the oldest of them failed
    assert [job.id for job in second.items] == [failed.id]
    assert second.continuation is None
