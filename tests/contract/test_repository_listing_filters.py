"""Every combination of listing filters (owner, statuses, job type, creation window) on
every adapter: the same jobs, newest first, paged, as the filters say."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queued_jobs.errors import ConcurrencyConflict
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.repositories.base import JobQuery

from .conftest import RepositoryHarness
from .test_repository_contract import all_pages, changed, make_job

pytestmark = pytest.mark.asyncio

FAILED, QUEUED, SUCCEEDED = JobStatus.FAILED, JobStatus.QUEUED, JobStatus.SUCCEEDED
_ENDED = {FAILED, SUCCEEDED}


async def _stored_mix(h: RepositoryHarness) -> list[QueuedJob]:
    """30 jobs of three owners, two types and three statuses, a millisecond apart."""
    repo = await h.open()
    jobs = []
    for i in range(30):
        job = make_job(h, owner=("ada", "bob", "cy")[i % 3])
        job = job.model_copy(update={"job_type": f"tests.t{i % 2}"})
        stored = await repo.insert(job)
        status = (QUEUED, FAILED, SUCCEEDED, SUCCEEDED, FAILED)[i % 5]
        if status is not QUEUED:
            now = h.clock.now()
            stored = await repo.update(
                changed(stored, status=status, updated_at=now, completed_at=now)
            )
        jobs.append(stored)
    return jobs


def _queries(jobs: list[QueuedJob]) -> list[JobQuery]:
    some = frozenset({FAILED, QUEUED})
    start, end = jobs[7].created_at, jobs[22].created_at
    # a bound inside a millisecond: only the exact moment decides
    inside = jobs[13].created_at + timedelta(microseconds=400)
    return [
        JobQuery(owner="ada"),
        JobQuery(owner="ada", statuses=some),
        JobQuery(owner="bob", statuses=frozenset({SUCCEEDED})),
        JobQuery(owner="bob", job_type="tests.t1"),
        JobQuery(owner="cy", job_type="tests.t0", statuses=some),
        JobQuery(owner="ada", created_from=start, created_before=end),
        JobQuery(owner="bob", statuses=some, created_from=start, created_before=inside),
        JobQuery(owner="nobody", statuses=some),
        JobQuery(statuses=some),
        JobQuery(statuses=frozenset({FAILED}), job_type="tests.t1"),
        JobQuery(job_type="tests.t0"),
        JobQuery(created_from=start, created_before=end),
        JobQuery(created_from=inside),
        JobQuery(created_before=inside, statuses=some, job_type="tests.t0"),
    ]


async def test_every_combination_of_filters_lists_exactly_its_jobs_newest_first_in_pages(
    repositories: RepositoryHarness,
) -> None:
    jobs = await _stored_mix(repositories)
    repo = await repositories.open()
    newest_first = sorted(jobs, key=lambda job: job.id, reverse=True)

    for query in _queries(jobs):
        for limit in (2, 1000):
            listed = await all_pages(repo.list_jobs, query=query, limit=limit)
            expected = [job.id for job in newest_first if query.matches(job)]
            assert [job.id for job in listed] == expected, (query, limit)


async def test_an_owner_filter_lists_what_list_by_owner_lists(
    repositories: RepositoryHarness,
) -> None:
    await _stored_mix(repositories)
    repo = await repositories.open()

    by_filter = await all_pages(repo.list_jobs, query=JobQuery(owner="bob"), limit=3)
    by_owner = await all_pages(repo.list_by_owner, owner="bob", limit=3)

    assert by_filter == by_owner
    assert {job.owner for job in by_filter} == {"bob"}
    assert any(job.status in _ENDED for job in by_filter)


async def test_a_job_read_from_a_status_listing_can_be_updated_and_its_staleness_is_detected(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    stored = await repo.insert(make_job(h))
    queued = JobQuery(statuses=frozenset({QUEUED}))
    [listed] = (await repo.list_jobs(queued)).items
    [also_listed] = (await repo.list_jobs(queued)).items

    same_status = await repo.update(changed(listed, cancel_requested=True))
    [relisted] = (await repo.list_jobs(queued)).items
    now = h.clock.now()
    failed = await repo.update(changed(relisted, status=FAILED, updated_at=now, completed_at=now))

    for stale in (stored, also_listed, listed, same_status, relisted):
        with pytest.raises(ConcurrencyConflict):
            await repo.update(changed(stale, status=SUCCEEDED))
    assert list((await repo.list_jobs(queued)).items) == []
    [listed_failed] = (await repo.list_jobs(JobQuery(statuses=frozenset({FAILED})))).items
    assert listed_failed.id == failed.id
    assert listed_failed.cancel_requested
    again = await repo.update(changed(listed_failed, status=QUEUED, completed_at=None))
    [back] = (await repo.list_jobs(queued)).items
    assert back.id == again.id
    assert list((await repo.list_jobs(JobQuery(statuses=frozenset({FAILED})))).items) == []


async def test_listings_follow_jobs_through_every_status_and_forget_deleted_ones(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    jobs = await _stored_mix(h)
    repo = await h.open()
    moved: dict[str, QueuedJob] = {}
    for i, job in enumerate(jobs):
        if i % 4 == 0:  # out of its status and (some) back in, or on to another
            now = h.clock.now()
            job = await repo.update(changed(job, status=JobStatus.RUNNING, completed_at=None))
            job = await repo.update(
                changed(job, status=(QUEUED, JobStatus.CANCELLED)[i % 8 // 4], updated_at=now)
            )
        if i % 7 == 3:
            await repo.delete(job.id)
            continue
        moved[job.id] = job
    newest_first = sorted(moved.values(), key=lambda job: job.id, reverse=True)
    running_or_cancelled = frozenset({JobStatus.RUNNING, JobStatus.CANCELLED})

    for query in [
        *_queries(jobs),
        JobQuery(statuses=running_or_cancelled),
        JobQuery(owner="ada", statuses=running_or_cancelled),
        JobQuery(job_type="tests.t0", statuses=running_or_cancelled),
    ]:
        listed = await all_pages(repo.list_jobs, query=query, limit=3)
        expected = [job.id for job in newest_first if query.matches(job)]
        assert [job.id for job in listed] == expected, query
        # as last written (the version names whichever copy a listing read it from)
        unversioned = {"version": None}
        for job in listed:
            assert job.model_copy(update=unversioned) == moved[job.id].model_copy(
                update=unversioned
            ), query
