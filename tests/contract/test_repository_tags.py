"""Listings by tag on every adapter: a tag's jobs alone and with every other filter, newest
first and paged, tags that need escaping, counts, and no tag rows left once jobs are gone."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import pytest

from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.repositories.base import JobQuery, JobRepository

from .conftest import RepositoryHarness
from .test_repository_contract import all_pages, changed, make_job

pytestmark = pytest.mark.asyncio

FAILED, QUEUED, SUCCEEDED = JobStatus.FAILED, JobStatus.QUEUED, JobStatus.SUCCEEDED
#: Plain tags, one holding the other and the separator, one holding every character
#: Table Storage keys forbid and quotes, one beyond ASCII.
RED, BLUE, RED_BLUE = "red", "blue", "red|blue"
ODD = 'it\'s "q" a/b?c#d\\e%f|'
WIDE = "日本語 ✓ é"
TAGS = (RED, BLUE, RED_BLUE, ODD, WIDE)


def _tags_of(i: int) -> tuple[str, ...]:
    """Job ``i``'s tags: red every 2nd, blue every 3rd, ... (job 0 has them all)."""
    return tuple(tag for n, tag in enumerate(TAGS) if i % (n + 2) == 0)


async def _tagged_mix(h: RepositoryHarness) -> list[QueuedJob]:
    """36 jobs of three owners, two types and three statuses, a millisecond apart, tagged
    by :func:`_tags_of`; half inserted one by one, half in one batch."""
    repo = await h.open()
    made = []
    for i in range(36):
        job = make_job(h, owner=("ada", "bob", "cy")[i % 3], tags=_tags_of(i))
        made.append(job.model_copy(update={"job_type": f"tests.t{i % 2}"}))
    stored = [await repo.insert(job) for job in made[:18]]
    stored += await repo.insert_many(made[18:])
    jobs = []
    for i, job in enumerate(stored):
        status = (QUEUED, FAILED, SUCCEEDED, SUCCEEDED, FAILED)[i % 5]
        if status is not QUEUED:
            now = h.clock.now()
            job = await repo.update(changed(job, status=status, updated_at=now, completed_at=now))
        jobs.append(job)
    return jobs


def _queries(jobs: list[QueuedJob]) -> list[JobQuery]:
    some = frozenset({FAILED, QUEUED})
    start, end = jobs[7].created_at, jobs[29].created_at
    inside = jobs[13].created_at + timedelta(microseconds=400)  # only the exact moment decides
    return [
        JobQuery(tag=RED),
        JobQuery(tag=BLUE),
        JobQuery(tag=RED_BLUE),
        JobQuery(tag=ODD),
        JobQuery(tag=WIDE),
        JobQuery(tag="re"),
        JobQuery(tag="nobody's tag"),
        JobQuery(tag=RED, owner="ada"),
        JobQuery(tag=WIDE, owner="bob"),
        JobQuery(tag=RED, owner="nobody"),
        JobQuery(tag=BLUE, job_type="tests.t1"),
        JobQuery(tag=RED, owner="cy", job_type="tests.t0"),
        JobQuery(tag=RED, statuses=frozenset({FAILED})),
        JobQuery(tag=BLUE, statuses=some),
        JobQuery(tag=ODD, statuses=frozenset({SUCCEEDED})),
        JobQuery(tag=RED, owner="bob", statuses=some),
        JobQuery(tag=RED, job_type="tests.t0", statuses=frozenset({SUCCEEDED})),
        JobQuery(tag=RED, created_from=start, created_before=end),
        JobQuery(tag=BLUE, created_from=inside),
        JobQuery(tag=RED, owner="ada", created_before=inside),
        JobQuery(tag=RED, statuses=some, created_from=start, created_before=end),
        JobQuery(tag=RED, owner="cy", job_type="tests.t0", statuses=some, created_from=start),
    ]


async def test_a_tag_alone_and_with_every_other_filter_lists_exactly_its_jobs_in_pages(
    repositories: RepositoryHarness,
) -> None:
    jobs = await _tagged_mix(repositories)
    repo = await repositories.open()
    newest_first = sorted(jobs, key=lambda job: job.id, reverse=True)
    assert len([job for job in jobs if RED in job.tags]) == 18

    for query in _queries(jobs):
        expected = [job.id for job in newest_first if query.matches(job)]
        for limit in (2, 1000):
            listed = await all_pages(repo.list_jobs, query=query, limit=limit)
            assert [job.id for job in listed] == expected, (query, limit)
        # as last written
        unversioned = {"version": None}
        by_id = {job.id: job.model_copy(update=unversioned) for job in jobs}
        for job in listed:
            assert job.model_copy(update=unversioned) == by_id[job.id], query


async def test_a_tags_pages_are_full_and_continue_after_their_last_job(
    repositories: RepositoryHarness,
) -> None:
    jobs = await _tagged_mix(repositories)
    repo = await repositories.open()
    red = [job.id for job in sorted(jobs, key=lambda job: job.id, reverse=True) if RED in job.tags]

    first = await repo.list_jobs(JobQuery(tag=RED), limit=5)
    second = await repo.list_jobs(JobQuery(tag=RED), limit=5, continuation=first.continuation)
    last = await repo.list_jobs(JobQuery(tag=RED), limit=8, continuation=red[9])

    assert [job.id for job in first.items] == red[:5]
    assert first.continuation == red[4]
    assert [job.id for job in second.items] == red[5:10]
    assert [job.id for job in last.items] == red[10:]
    assert last.continuation is None


async def test_a_tags_rare_status_is_found_however_many_of_its_jobs_lie_between(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    stored = await repo.insert_many(
        [make_job(h, owner=f"user-{i % 5}", tags=("nightly",)) for i in range(70)]
    )
    now = h.clock.now()
    failed = [
        await repo.update(changed(stored[i], status=FAILED, updated_at=now, completed_at=now))
        for i in (2, 3, 45)
    ]
    query = JobQuery(tag="nightly", statuses=frozenset({FAILED}))

    seen: list[str] = []
    continuation = None
    for _ in range(50):  # on Azure a call reads at most ten pages of the tag's jobs
        page = await repo.list_jobs(query, limit=2, continuation=continuation)
        assert len(page.items) <= 2
        seen += [job.id for job in page.items]
        continuation = page.continuation
        if continuation is None:
            break

    assert continuation is None
    assert seen == [job.id for job in reversed(failed)]
    assert await repo.count_jobs(query, at_most=100) == 3
    assert await repo.count_jobs(query, at_most=1) == 2


async def test_count_jobs_counts_a_tags_jobs_with_the_other_filters_up_to_at_most(
    repositories: RepositoryHarness,
) -> None:
    jobs = await _tagged_mix(repositories)
    repo = await repositories.open()

    for query in _queries(jobs):
        if query.created_from is not None or query.created_before is not None:
            continue  # counts read the keys, which bound a window to the millisecond
        matching = sum(1 for job in jobs if query.matches(job))
        assert await repo.count_jobs(query, at_most=1000) == matching, query
        assert await repo.count_jobs(query, at_most=2) == min(matching, 3), query


async def _tag_rows(h: RepositoryHarness, repo: JobRepository) -> int:
    """How many rows (entries, pointers) of the tag index the store holds, read raw."""
    target: Any = repo
    if h.kind == "memory":
        return sum(len(ids) for (kind, _), ids in target._index._ids.items() if kind == "tag")
    if h.kind == "sqlite":
        with sqlite3.connect(target._db.path) as raw:
            count: int = raw.execute("SELECT count(*) FROM job_tags").fetchone()[0]
        return count
    rows = target._table.query_entities(
        "PartitionKey ge 'j0' and PartitionKey le 'jf' and RowKey ge 'g|' and RowKey lt 'g}'",
        select=["RowKey"],
    )
    return len([row async for row in rows])


async def test_deleted_and_purged_jobs_leave_no_tag_rows_behind(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    jobs = await _tagged_mix(h)
    repo = await h.open()
    assert await _tag_rows(h, repo) == sum(len(job.tags) for job in jobs)

    for job in jobs[:12]:
        await repo.delete(job.id)
    h.clock.advance(timedelta(days=1))
    purged = await repo.purge(completed_before=h.clock.now())
    kept = [job for job in jobs[12:] if not job.is_terminal]

    assert purged == len(jobs) - 12 - len(kept)
    assert await _tag_rows(h, repo) == sum(len(job.tags) for job in kept)
    for tag in TAGS:
        listed = await all_pages(repo.list_jobs, query=JobQuery(tag=tag), limit=1000)
        assert sorted(job.id for job in listed) == sorted(j.id for j in kept if tag in j.tags)
        assert await repo.count_jobs(JobQuery(tag=tag), at_most=100) == len(listed)
    for job in kept:
        await repo.delete(job.id)
    assert await _tag_rows(h, repo) == 0


async def test_a_tag_given_twice_indexes_its_job_once(repositories: RepositoryHarness) -> None:
    h = repositories
    repo = await h.open()
    job = await repo.insert(make_job(h, tags=("twice", "twice", "once")))

    listed = await repo.list_jobs(JobQuery(tag="twice"))

    assert [found.id for found in listed.items] == [job.id]
    assert await repo.count_jobs(JobQuery(tag="twice"), at_most=10) == 1
    assert await _tag_rows(h, repo) == 2
    await repo.delete(job.id)
    assert await _tag_rows(h, repo) == 0
