"""The JobRepository contract: every adapter passes these tests unchanged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from queued_jobs.errors import (
    ConcurrencyConflict,
    DuplicateJob,
    InvalidInput,
    JobAlreadyExists,
    JobNotFound,
    PayloadTooLarge,
)
from queued_jobs.models import (
    Attempt,
    AttemptOutcome,
    JobError,
    JobStatus,
    Priority,
    Progress,
    QueuedJob,
)
from queued_jobs.repositories.base import UNIQUE_KEY_GRACE, JobQuery, JobRepository

from .conftest import RepositoryHarness

pytestmark = pytest.mark.asyncio


def make_job(h: RepositoryHarness, owner: str = "alice", **options: Any) -> QueuedJob:
    """A new job at the harness clock's time; the clock moves 1 ms so ids keep their order."""
    job = QueuedJob.new(owner=owner, job_type="tests.echo", now=h.clock.now(), **options)
    h.clock.advance(timedelta(milliseconds=1))
    return job


async def all_pages(fetch: Any, **kwargs: Any) -> list[QueuedJob]:
    items: list[QueuedJob] = []
    continuation = None
    while True:
        page = await fetch(continuation=continuation, **kwargs)
        items.extend(page.items)
        if page.continuation is None:
            return items
        continuation = page.continuation


def same(job: QueuedJob) -> QueuedJob:
    """The record without its version: versions are opaque, and two reads of one state
    may carry different (equally valid) tokens."""
    return job.model_copy(update={"version": None})


def changed(job: QueuedJob, **changes: Any) -> QueuedJob:
    """A changed copy; repositories store whatever they are given (job rules live above)."""
    return job.model_copy(update=changes)


def attempt(job: QueuedJob, number: int, outcome: AttemptOutcome, **kw: Any) -> Attempt:
    start = job.created_at + timedelta(seconds=number)
    return Attempt(
        job_id=job.id,
        number=number,
        started_at=start,
        ended_at=start + timedelta(milliseconds=250),
        outcome=outcome,
        host="box:42",
        **kw,
    )


# --- insert and get --------------------------------------------------------------------


async def test_insert_returns_the_job_with_a_version_and_get_reads_it_back_exactly(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    job = make_job(
        repositories,
        owner="ünïcode owner/with#odd?chars\\and%percent",
        request={"files": ["a.txt", "b.txt"], "nested": {"n": 2**40, "x": 1.5, "ok": True}},
        priority=Priority.HIGH,
        queue="jobs-high",
        max_attempts=7,
        max_run_time=timedelta(minutes=5, microseconds=5),
        run_at=datetime(2030, 2, 3, 4, 5, 6, 789012, tzinfo=UTC),
        unique_key="zip:alice:2030-01",
        correlation_id="req-123",
        tags=("zip", "monthly"),
        custom_data={"tenant": "contoso", "emoji": "📦"},
        progress=Progress(percent=12.5, message="starting"),
    )

    stored = await repo.insert(job)

    assert stored.version is not None
    assert stored.model_copy(update={"version": None}) == job
    fetched = await repo.get(job.id)
    assert fetched == stored
    assert fetched.created_at == job.created_at  # sub-second precision survives


async def test_inserting_an_existing_id_raises_job_already_exists(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    job = make_job(repositories)
    await repo.insert(job)

    with pytest.raises(JobAlreadyExists) as caught:
        await repo.insert(job.model_copy(update={"request": {"other": 1}}))

    assert caught.value.job_id == job.id
    assert (await repo.get(job.id)).request is None


async def test_insert_many_stores_every_job_in_order_with_versions(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    # 60 jobs of one owner (more than one Azure transaction holds), 60 over 20 others: so
    # on Azure, several partitions, concurrent transactions and a split partition.
    jobs = [
        make_job(repositories, owner="bulk" if i % 2 else f"user-{i % 40}", request={"i": i})
        for i in range(120)
    ]
    bulk = [j for j in jobs if j.owner == "bulk"]
    assert len(bulk) > 50

    stored = await repo.insert_many(jobs)

    assert [same(j) for j in stored] == jobs
    assert all(j.version is not None for j in stored)
    for job in stored:
        assert await repo.get(job.id) == job
    listed = await all_pages(repo.list_by_owner, owner="bulk", limit=1000)
    assert [same(j) for j in listed] == list(reversed(bulk))
    assert [j.id for j in await all_pages(repo.list_jobs, limit=1000)] == [
        j.id for j in reversed(jobs)
    ]
    page = await repo.list_by_owner("user-2")
    assert [j.id for j in page.items] == [jobs[82].id, jobs[42].id, jobs[2].id]
    # The versions are real: they guard updates like those insert returns.
    await repo.update(changed(stored[0], cancel_requested=True))
    with pytest.raises(ConcurrencyConflict):
        await repo.update(changed(stored[0], progress=Progress(percent=1)))
    assert await repo.insert_many([]) == []


async def test_insert_many_stores_jobs_whose_rows_together_are_megabytes(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    # Each job ~200 KB as JSON (é travels as \u00e9): 10 MB in all, over the 4 MiB an Azure
    # transaction carries, so one owner's 50 jobs need several transactions there.
    jobs = [
        make_job(repositories, request={"r": "x" * 16_000}, custom_data={"c": "é" * 15_000})
        for _ in range(50)
    ]

    stored = await repo.insert_many(jobs)

    assert [same(j) for j in stored] == jobs
    listed = await all_pages(repo.list_by_owner, owner="alice", limit=1000)
    assert [same(j) for j in listed] == list(reversed(jobs))


async def test_insert_many_with_a_payload_over_the_maximum_stores_nothing(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open(max_payload_bytes=100_000)
    batch = [make_job(repositories, owner=f"o{i}") for i in range(60)]
    batch.insert(30, make_job(repositories, owner="o1", request={"data": "x" * 100_001}))

    with pytest.raises(PayloadTooLarge, match="request is 100,012 bytes"):
        await repo.insert_many(batch)

    assert (await repo.list_jobs(limit=1000)).items == []


async def test_insert_many_refuses_an_id_given_twice_before_storing_anything(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    batch = [make_job(repositories, owner=f"o{i}") for i in range(10)]
    twice = batch[3].model_copy(update={"request": {"other": 1}})

    with pytest.raises(InvalidInput, match=f"job {batch[3].id} appears more than once"):
        await repo.insert_many([*batch, twice])

    assert (await repo.list_jobs(limit=1000)).items == []


async def test_insert_many_with_an_id_already_stored_raises_job_already_exists_naming_it(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    existing = await repo.insert(make_job(repositories, owner="carol"))
    # The stored id in the middle of its owner's jobs, with other owners around them.
    mates = [make_job(repositories, owner="carol") for _ in range(6)]
    others = [make_job(repositories, owner=f"o{i}") for i in range(20)]
    batch = [*others[:10], *mates[:3], existing.model_copy(update={"request": {"n": 2}})]
    batch += [*mates[3:], *others[10:]]

    with pytest.raises(JobAlreadyExists) as caught:
        await repo.insert_many(batch)

    assert caught.value.job_id == existing.id
    assert await repo.get(existing.id) == existing
    # Its owner's jobs (one partition, under 50 jobs: one Azure transaction) are not stored.
    assert [j.id for j in (await repo.list_by_owner("carol")).items] == [existing.id]
    if not repositories.kind.startswith("azure"):
        # Memory and SQLite are all-or-nothing; on Azure each partition's transaction is
        # atomic but the batch is not, so the other owners' jobs may have been stored.
        assert [j.id for j in (await repo.list_jobs(limit=1000)).items] == [existing.id]


async def test_get_of_an_unknown_id_raises_job_not_found(repositories: RepositoryHarness) -> None:
    repo = await repositories.open()
    missing = make_job(repositories)

    with pytest.raises(JobNotFound):
        await repo.get(missing.id)


# --- conditional updates ---------------------------------------------------------------


async def test_update_with_the_current_version_stores_the_change_and_a_new_version(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    stored = await repo.insert(make_job(repositories))
    now = repositories.clock.now()
    running = stored.transition(
        JobStatus.RUNNING,
        now=now,
        started_at=now,
        attempts=1,
        lease_owner="box:42",
        lease_expires_at=now + timedelta(minutes=1),
    )

    updated = await repo.update(running)

    assert updated.version not in (None, stored.version)
    assert await repo.get(stored.id) == updated
    assert updated.status is JobStatus.RUNNING


async def test_update_with_a_stale_version_raises_conflict_and_changes_nothing(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    stored = await repo.insert(make_job(repositories))
    now = repositories.clock.now()
    first = await repo.update(stored.model_copy(update={"progress": Progress(percent=10)}))

    with pytest.raises(ConcurrencyConflict):
        await repo.update(
            changed(stored, status=JobStatus.CANCELLED, updated_at=now, completed_at=now)
        )

    assert await repo.get(stored.id) == first


async def test_update_of_a_job_that_was_never_read_from_the_store_raises_conflict(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    stored = await repo.insert(make_job(repositories))

    with pytest.raises(ConcurrencyConflict):
        await repo.update(changed(stored, version=None, cancel_requested=True))

    assert await repo.get(stored.id) == stored


async def test_update_of_a_job_that_is_gone_raises_job_not_found(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    stored = await repo.insert(make_job(repositories))
    await repo.delete(stored.id)

    with pytest.raises(JobNotFound):
        await repo.update(stored.model_copy(update={"cancel_requested": True}))


async def test_two_writers_racing_on_one_job_exactly_one_wins(
    repositories: RepositoryHarness,
) -> None:
    first, second = await repositories.open(), await repositories.open()
    for _ in range(5):
        stored = await first.insert(make_job(repositories))
        seen_by_second = await second.get(stored.id)
        now = repositories.clock.now()

        outcomes = await asyncio.gather(
            first.update(
                changed(stored, status=JobStatus.RUNNING, updated_at=now, lease_owner="a:1")
            ),
            second.update(
                changed(seen_by_second, status=JobStatus.RUNNING, updated_at=now, lease_owner="b:2")
            ),
            return_exceptions=True,
        )

        winners = [o for o in outcomes if isinstance(o, QueuedJob)]
        losers = [o for o in outcomes if isinstance(o, ConcurrencyConflict)]
        assert (len(winners), len(losers)) == (1, 1), outcomes
        assert (await first.get(stored.id)).lease_owner == winners[0].lease_owner


async def test_update_with_an_attempt_stores_both_or_neither(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    stored = await repo.insert(make_job(repositories))
    now = repositories.clock.now()
    failed = attempt(stored, 1, AttemptOutcome.FAILED, error=JobError(type="E", message="boom"))

    done = await repo.update(
        changed(stored, status=JobStatus.FAILED, updated_at=now, completed_at=now), attempt=failed
    )
    with pytest.raises(ConcurrencyConflict):
        await repo.update(stored, attempt=attempt(stored, 2, AttemptOutcome.SUCCEEDED))

    assert await repo.list_attempts(stored.id) == [failed]
    assert (await repo.get(stored.id)).version == done.version


# --- attempts --------------------------------------------------------------------------


async def test_attempts_are_listed_in_order_and_recording_one_again_is_idempotent(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    job = await repo.insert(make_job(repositories))
    error = JobError.from_exception(RuntimeError("disk full"))
    attempts = [
        attempt(job, 2, AttemptOutcome.ABANDONED),
        attempt(job, 1, AttemptOutcome.FAILED, error=error),
        attempt(job, 3, AttemptOutcome.SUCCEEDED),
    ]
    for a in attempts:
        await repo.append_attempt(a)
    await repo.append_attempt(attempts[0])

    listed = await repo.list_attempts(job.id)

    assert [a.number for a in listed] == [1, 2, 3]
    assert listed[0].error == error
    assert await repo.list_attempts(make_job(repositories).id) == []


# --- unique keys -----------------------------------------------------------------------


async def test_a_held_unique_key_refuses_other_jobs_and_names_the_holder(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    holder = await repo.insert(make_job(repositories))
    await repo.reserve_unique_key("report:2030-01", holder.id)
    await repo.reserve_unique_key("report:2030-01", holder.id)  # same holder: no-op

    with pytest.raises(DuplicateJob) as caught:
        await repo.reserve_unique_key("report:2030-01", make_job(repositories).id)

    assert caught.value.existing_job_id == holder.id
    assert caught.value.unique_key == "report:2030-01"


async def test_releasing_a_unique_key_frees_it_only_for_its_holder(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    holder = await repo.insert(make_job(repositories))
    other = make_job(repositories)
    key = "odd/key#with?forbidden\\chars and ünïcode"
    await repo.reserve_unique_key(key, holder.id)

    assert await repo.release_unique_key(key, other.id) is False
    assert await repo.release_unique_key(key, holder.id) is True
    assert await repo.release_unique_key(key, holder.id) is False
    await repo.reserve_unique_key(key, other.id)


async def test_replacing_passes_a_reservation_on_only_from_the_named_holder(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    old, new, intruder = [await repo.insert(make_job(repositories)) for _ in range(3)]
    await repo.reserve_unique_key("k", old.id)

    with pytest.raises(DuplicateJob):
        await repo.reserve_unique_key("k", intruder.id, replacing=new.id)
    await repo.reserve_unique_key("k", new.id, replacing=old.id)

    with pytest.raises(DuplicateJob) as caught:
        await repo.reserve_unique_key("k", intruder.id)
    assert caught.value.existing_job_id == new.id


async def test_a_reservation_whose_job_was_never_stored_is_taken_over_after_the_grace(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    ghost = make_job(repositories)  # its process died before storing it
    await repo.reserve_unique_key("k", ghost.id)
    newcomer = make_job(repositories)

    with pytest.raises(DuplicateJob):
        await repo.reserve_unique_key("k", newcomer.id)
    repositories.clock.advance(UNIQUE_KEY_GRACE + timedelta(seconds=1))
    await repo.reserve_unique_key("k", newcomer.id)

    with pytest.raises(DuplicateJob) as caught:
        await repo.reserve_unique_key("k", ghost.id)
    assert caught.value.existing_job_id == newcomer.id


async def test_concurrent_reservations_of_one_key_let_exactly_one_through(
    repositories: RepositoryHarness,
) -> None:
    clients = [await repositories.open() for _ in range(4)]
    contenders = [make_job(repositories) for _ in range(8)]

    outcomes = await asyncio.gather(
        *(
            clients[i % len(clients)].reserve_unique_key("nightly", job.id)
            for i, job in enumerate(contenders)
        ),
        return_exceptions=True,
    )

    assert sum(o is None for o in outcomes) == 1, outcomes
    holders = {o.existing_job_id for o in outcomes if isinstance(o, DuplicateJob)}
    assert len(holders) == 1
    assert sum(isinstance(o, DuplicateJob) for o in outcomes) == 7


# --- listings --------------------------------------------------------------------------


async def test_list_by_owner_is_newest_first_paged_and_only_that_owner(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    owner = "carol/o'neil #1?"
    mine = [await repo.insert(make_job(repositories, owner=owner)) for _ in range(7)]
    for other in ("dave", "carol", owner + "x"):
        await repo.insert(make_job(repositories, owner=other))

    first = await repo.list_by_owner(owner, limit=3)
    listed = await all_pages(repo.list_by_owner, owner=owner, limit=3)

    assert [j.id for j in first.items] == [j.id for j in reversed(mine)][:3]
    assert first.continuation is not None
    assert [j.id for j in listed] == [j.id for j in reversed(mine)]
    assert same(listed[0]) == same(await repo.get(mine[-1].id))
    empty = await repo.list_by_owner("nobody")
    assert (list(empty.items), empty.continuation) == ([], None)


async def test_list_by_owner_reflects_updates(repositories: RepositoryHarness) -> None:
    repo = await repositories.open()
    stored = await repo.insert(make_job(repositories))
    now = repositories.clock.now()
    done = await repo.update(
        changed(
            stored,
            status=JobStatus.SUCCEEDED,
            updated_at=now,
            completed_at=now,
            result={"url": "x"},
        )
    )

    page = await repo.list_by_owner("alice")

    assert [same(j) for j in page.items] == [same(done)]


async def test_a_job_read_from_a_listing_can_be_updated_and_its_staleness_is_detected(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    stored = await repo.insert(make_job(repositories))
    [listed] = (await repo.list_by_owner("alice")).items
    [also_listed] = (await repo.list_jobs()).items

    updated = await repo.update(changed(listed, cancel_requested=True))

    assert (await repo.get(stored.id)).cancel_requested is True
    for stale in (stored, also_listed, listed):
        with pytest.raises(ConcurrencyConflict):
            await repo.update(changed(stale, progress=Progress(percent=50)))
    again = await repo.update(changed(updated, progress=Progress(percent=60)))
    [relisted] = (await repo.list_by_owner("alice")).items
    assert same(relisted) == same(again)


async def test_list_jobs_filters_by_status_type_and_creation_window_across_owners(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    jobs = []
    for i in range(24):
        job = make_job(repositories, owner=f"user-{i}")
        if i % 3 == 0:
            job = job.model_copy(update={"job_type": "tests.zip"})
        stored = await repo.insert(job)
        if i % 2 == 0:
            now = repositories.clock.now()
            stored = await repo.update(
                changed(stored, status=JobStatus.CANCELLED, updated_at=now, completed_at=now)
            )
        jobs.append(stored)
    newest_first = list(reversed(jobs))

    everything = await all_pages(repo.list_jobs, limit=5)
    cancelled = await all_pages(
        repo.list_jobs, query=JobQuery(statuses=frozenset({JobStatus.CANCELLED})), limit=4
    )
    zips = await all_pages(repo.list_jobs, query=JobQuery(job_type="tests.zip"), limit=1000)
    window = JobQuery(created_from=jobs[5].created_at, created_before=jobs[11].created_at)
    in_window = await all_pages(repo.list_jobs, query=window, limit=2)
    queued_zips = JobQuery(statuses=frozenset({JobStatus.QUEUED}), job_type="tests.zip")
    both = await all_pages(repo.list_jobs, query=queued_zips, limit=50)

    assert [j.id for j in everything] == [j.id for j in newest_first]
    assert [j.id for j in cancelled] == [j.id for j in newest_first if j.status == "cancelled"]
    assert [j.id for j in zips] == [j.id for j in newest_first if j.job_type == "tests.zip"]
    assert [j.id for j in in_window] == [j.id for j in reversed(jobs[5:11])]
    assert [j.id for j in both] == [
        j.id for j in newest_first if j.job_type == "tests.zip" and j.status == "queued"
    ]


async def test_page_sizes_outside_1_to_1000_are_refused(repositories: RepositoryHarness) -> None:
    repo = await repositories.open()

    with pytest.raises(InvalidInput):
        await repo.list_by_owner("alice", limit=0)
    with pytest.raises(InvalidInput):
        await repo.list_jobs(limit=1001)


# --- delete and purge ------------------------------------------------------------------


async def test_delete_removes_the_job_its_attempts_and_its_unique_key(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    job = await repo.insert(make_job(repositories, unique_key="u1", request={"big": "x" * 70_000}))
    await repo.reserve_unique_key("u1", job.id)
    await repo.append_attempt(attempt(job, 1, AttemptOutcome.FAILED))

    await repo.delete(job.id)
    await repo.delete(job.id)  # again: nothing to do

    with pytest.raises(JobNotFound):
        await repo.get(job.id)
    assert await repo.list_attempts(job.id) == []
    assert (await repo.list_by_owner("alice")).items == []
    await repo.reserve_unique_key("u1", make_job(repositories).id)


async def test_purge_deletes_only_terminal_jobs_completed_before_the_cutoff(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    old_done, old_failed, old_running, new_done = [
        await repo.insert(make_job(repositories, owner=f"o{i}")) for i in range(4)
    ]
    start = repositories.clock.now()
    old_done = await repo.update(
        changed(old_done, status=JobStatus.SUCCEEDED, updated_at=start, completed_at=start)
    )
    old_failed = await repo.update(
        changed(old_failed, status=JobStatus.FAILED, updated_at=start, completed_at=start)
    )
    await repo.append_attempt(attempt(old_failed, 1, AttemptOutcome.FAILED))
    await repo.update(
        changed(old_running, status=JobStatus.RUNNING, updated_at=start, started_at=start)
    )
    later = repositories.clock.advance(timedelta(days=40))
    await repo.update(
        changed(new_done, status=JobStatus.SUCCEEDED, updated_at=later, completed_at=later)
    )

    purged = await repo.purge(completed_before=later - timedelta(days=30))

    assert purged == 2
    remaining = {j.id for j in await all_pages(repo.list_jobs, limit=10)}
    assert remaining == {old_running.id, new_done.id}
    assert await repo.list_attempts(old_failed.id) == []
    assert await repo.purge(completed_before=later - timedelta(days=30)) == 0


# --- limits ----------------------------------------------------------------------------


async def test_large_requests_and_results_round_trip_up_to_the_maximum(
    repositories: RepositoryHarness,
) -> None:
    repo: JobRepository = await repositories.open(max_payload_bytes=400_000)
    request = {"rows": ["é" * 1000 for _ in range(150)]}  # ~300 KB: too big for one property
    stored = await repo.insert(make_job(repositories, request=request))
    now = repositories.clock.now()
    result = {"blob": "x" * 390_000}

    done = await repo.update(
        changed(stored, status=JobStatus.SUCCEEDED, updated_at=now, completed_at=now, result=result)
    )

    fetched = await repo.get(stored.id)
    assert fetched.request == request
    assert fetched.result == result
    assert fetched == done
    assert same((await repo.list_by_owner("alice")).items[0]) == same(done)


async def test_payloads_over_the_maximum_are_refused_with_a_clear_error(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open(max_payload_bytes=100_000)
    too_big = make_job(repositories, request={"data": "x" * 100_001})

    with pytest.raises(PayloadTooLarge, match="request is 100,012 bytes"):
        await repo.insert(too_big)
    with pytest.raises(JobNotFound):
        await repo.get(too_big.id)

    stored = await repo.insert(make_job(repositories))
    with pytest.raises(PayloadTooLarge, match="result"):
        await repo.update(stored.model_copy(update={"result": ["y" * 100_000]}))
    with pytest.raises(PayloadTooLarge, match="custom_data"):
        await repo.update(stored.model_copy(update={"custom_data": {"k": "z" * 40_000}}))
    assert await repo.get(stored.id) == stored
