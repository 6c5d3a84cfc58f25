"""The due index (``list_due``) and store-wide leases (``take_lease``, ``lease_holder``):
every adapter."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from queued_jobs.errors import ConcurrencyConflict, InvalidInput
from queued_jobs.models import JobStatus
from queued_jobs.repositories.base import JobRepository

from .conftest import RepositoryHarness
from .test_repository_contract import make_job

pytestmark = pytest.mark.asyncio

MINUTE = timedelta(minutes=1)
SWEPT = frozenset({JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.RUNNING})
RUNNING = frozenset({JobStatus.RUNNING})


async def due_ids(
    repo: JobRepository, statuses: frozenset[JobStatus], h: RepositoryHarness, **kw: Any
) -> list[str]:
    """Every page of the due listing up to the harness clock's now, as ids in order."""
    ids: list[str] = []
    continuation = None
    while True:
        page = await repo.list_due(statuses, due_by=h.clock.now(), continuation=continuation, **kw)
        ids += [job.id for job in page.items]
        if page.continuation is None:
            return ids
        continuation = page.continuation


async def test_list_due_holds_the_jobs_due_by_the_bound_soonest_first_in_their_statuses(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    start = h.clock.now()
    later = await repo.insert(make_job(h, run_at=start + 3 * MINUTE))  # due at its run_at
    first = await repo.insert(make_job(h, owner="bob"))
    second = await repo.insert(make_job(h))
    far = await repo.insert(
        make_job(h, status=JobStatus.SCHEDULED, run_at=start + timedelta(days=7, minutes=2))
    )
    running = await repo.insert(
        make_job(h, status=JobStatus.RUNNING, lease_expires_at=start + MINUTE)
    )
    await repo.insert(make_job(h, status=JobStatus.RUNNING))  # no lease: never due
    done = make_job(h, status=JobStatus.SUCCEEDED, completed_at=start)
    await repo.insert(done)

    assert await due_ids(repo, SWEPT, h) == [first.id, second.id]
    assert await due_ids(repo, RUNNING, h) == []
    h.clock.advance(5 * MINUTE)
    everything = [first.id, second.id, running.id, far.id, later.id]
    assert await due_ids(repo, SWEPT, h) == everything
    assert await due_ids(repo, SWEPT, h, limit=1) == everything
    assert await due_ids(repo, RUNNING, h) == [running.id]
    queued = frozenset({JobStatus.QUEUED})
    assert await due_ids(repo, queued, h, limit=2) == [first.id, second.id, later.id]
    assert await due_ids(repo, frozenset(), h) == []


async def test_a_job_moves_in_the_due_index_with_each_update_and_leaves_it_when_finished(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    job = await repo.insert(make_job(h))
    [listed] = (await repo.list_due(SWEPT, due_by=h.clock.now())).items
    assert listed.id == job.id

    lease = h.clock.now() + MINUTE
    running = await repo.update(
        listed.transition(JobStatus.RUNNING, now=h.clock.now(), lease_expires_at=lease)
    )
    assert await due_ids(repo, SWEPT, h) == []  # its lease is not up yet
    h.clock.advance(2 * MINUTE)
    [expired] = (await repo.list_due(RUNNING, due_by=h.clock.now())).items
    assert expired == running
    renewed = await repo.update(
        expired.transition(
            JobStatus.RUNNING, now=h.clock.now(), lease_expires_at=lease + 3 * MINUTE
        )
    )
    assert await due_ids(repo, SWEPT, h) == []
    h.clock.advance(5 * MINUTE)
    assert await due_ids(repo, SWEPT, h) == [job.id]

    await repo.update(
        renewed.transition(JobStatus.SUCCEEDED, now=h.clock.now(), completed_at=h.clock.now())
    )
    h.clock.advance(timedelta(days=30))
    assert await due_ids(repo, SWEPT, h) == []


async def test_a_stale_version_moves_nothing_in_the_due_index(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    job = await repo.insert(make_job(h))
    moved = await repo.update(job.transition(JobStatus.QUEUED, now=h.clock.now() + MINUTE))
    with pytest.raises(ConcurrencyConflict):
        await repo.update(job.transition(JobStatus.CANCELLED, now=h.clock.now()))
    h.clock.advance(2 * MINUTE)
    [listed] = (await repo.list_due(SWEPT, due_by=h.clock.now())).items
    assert listed == moved


async def test_deleted_and_purged_jobs_leave_the_due_index(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    kept = await repo.insert(make_job(h))
    gone = await repo.insert(make_job(h))
    await repo.delete(gone.id)
    purged = await repo.insert(make_job(h))
    finished = await repo.update(
        purged.transition(JobStatus.CANCELLED, now=h.clock.now(), completed_at=h.clock.now())
    )
    h.clock.advance(MINUTE)
    assert await repo.purge(completed_before=h.clock.now()) == 1
    assert finished.id not in await due_ids(repo, SWEPT, h)
    assert await due_ids(repo, SWEPT, h) == [kept.id]


@pytest.mark.parametrize(
    "token",
    ["", "nonsense", "0" * 16, f"{'0' * 16}|{'g' * 29}", f"{'f' * 17}|{'0' * 29}", "x" * 5000],
)
async def test_a_foreign_continuation_token_of_the_due_listing_is_refused(
    repositories: RepositoryHarness, token: str
) -> None:
    repo = await repositories.open()
    with pytest.raises(InvalidInput, match="continuation token"):
        await repo.list_due(SWEPT, due_by=repositories.clock.now(), continuation=token)


async def test_a_lease_is_held_by_one_holder_until_it_runs_out(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    other = await h.open()
    now = h.clock.now()
    assert await repo.take_lease("sweep", "ada", now=now, until=now + MINUTE)
    assert not await other.take_lease("sweep", "bob", now=now, until=now + MINUTE)
    assert await other.take_lease("elsewhere", "bob", now=now, until=now + MINUTE)
    assert await repo.take_lease("sweep", "ada", now=now, until=now + 2 * MINUTE)  # renewed
    assert not await other.take_lease("sweep", "bob", now=now + MINUTE, until=now + 3 * MINUTE)
    assert await other.take_lease("sweep", "bob", now=now + 2 * MINUTE, until=now + 3 * MINUTE)
    assert not await repo.take_lease("sweep", "ada", now=now + 2 * MINUTE, until=now + 3 * MINUTE)


async def test_a_lease_names_its_holder_until_it_is_given_back_or_runs_out(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    other = await h.open()
    now = h.clock.now()
    assert await other.lease_holder("sweep", now=now) is None  # never taken

    assert await repo.take_lease("sweep", "ada", now=now, until=now + MINUTE)
    assert await other.lease_holder("sweep", now=now) == "ada"
    assert await other.lease_holder("sweep", now=now + MINUTE / 2) == "ada"
    assert await other.lease_holder("sweep", now=now + MINUTE) is None  # ran out
    assert await other.lease_holder("elsewhere", now=now) is None

    assert await repo.take_lease("sweep", "ada", now=now, until=now)  # given back
    assert await other.lease_holder("sweep", now=now) is None
    assert await other.take_lease("sweep", "bob", now=now, until=now + MINUTE)
    assert await repo.lease_holder("sweep", now=now) == "bob"


async def test_several_takers_of_a_free_lease_at_once_let_exactly_one_through(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    clients = [await h.open() for _ in range(4)]
    now = h.clock.now()

    async def take(index: int) -> bool:
        return await clients[index].take_lease(
            "sweep", f"taker-{index}", now=now, until=now + MINUTE
        )

    taken = await asyncio.gather(*(take(i) for i in range(4)))
    assert sum(taken) == 1
    expired = now + 2 * MINUTE

    async def take_expired(index: int) -> bool:
        return await clients[index].take_lease(
            "sweep", f"late-{index}", now=expired, until=expired + MINUTE
        )

    assert sum(await asyncio.gather(*(take_expired(i) for i in range(4)))) == 1


@pytest.mark.parametrize(
    ("name", "holder"),
    [
        ("", "ada"),
        ("Sweep", "ada"),
        ("a/b", "ada"),
        ("s" * 64, "ada"),
        ("sweep", ""),
        ("sweep", "x" * 257),
        ("sweep", "tab\there"),
    ],
)
async def test_a_lease_name_or_holder_no_store_could_key_is_refused(
    repositories: RepositoryHarness, name: str, holder: str
) -> None:
    repo = await repositories.open()
    now = repositories.clock.now()
    with pytest.raises(InvalidInput, match="lease"):
        await repo.take_lease(name, holder, now=now, until=now + MINUTE)
    if holder == "ada":  # the name is what is wrong
        with pytest.raises(InvalidInput, match="lease name"):
            await repo.lease_holder(name, now=now)


async def test_a_record_stored_without_the_due_index_is_indexed_by_its_next_write(
    repositories: RepositoryHarness,
) -> None:
    from tests.support.unreadable_rows import Damage

    h = repositories
    repo = await h.open()
    legacy = make_job(h)
    await h.plant(legacy, Damage.NO_UNIQUE_SCOPE)  # rows as an older version wrote them
    h.clock.advance(MINUTE)
    assert await due_ids(repo, SWEPT, h) == []
    stored = await repo.get(legacy.id)
    await repo.update(stored.transition(JobStatus.QUEUED, now=h.clock.now()))
    assert await due_ids(repo, SWEPT, h) == [legacy.id]


async def test_list_unindexed_holds_the_active_jobs_the_due_index_does_not(
    repositories: RepositoryHarness,
) -> None:
    from tests.support.unreadable_rows import Damage

    from .test_repository_contract import changed

    h = repositories
    repo = await h.open()
    await repo.insert(make_job(h))  # queued: in the due index
    legacy = make_job(h)
    finished = make_job(h, status=JobStatus.FAILED, completed_at=h.clock.now())
    for planted in (legacy, finished):  # as a version without the due index wrote them
        await h.plant(planted, Damage.NO_UNIQUE_SCOPE)

    page = await repo.list_unindexed(SWEPT)

    assert [job.id for job in page.items] == [legacy.id]
    assert page.continuation is None
    assert (await repo.list_unindexed(frozenset())).items == []
    stored = await repo.get(legacy.id)
    await repo.update(changed(stored, cancel_requested=True))  # its next write indexes it
    assert (await repo.list_unindexed(SWEPT)).items == []
    assert legacy.id in await due_ids(repo, SWEPT, h)


async def test_list_unindexed_pages_newest_first(repositories: RepositoryHarness) -> None:
    from tests.support.unreadable_rows import Damage

    h = repositories
    repo = await h.open()
    legacy = []
    for _ in range(5):
        job = make_job(h)
        await h.plant(job, Damage.NO_UNIQUE_SCOPE)
        legacy.append(job.id)
        h.clock.advance(timedelta(milliseconds=2))

    ids: list[str] = []
    continuation = None
    while True:
        page = await repo.list_unindexed(SWEPT, limit=2, continuation=continuation)
        ids += [job.id for job in page.items]
        if (continuation := page.continuation) is None:
            break

    assert ids == sorted(legacy, reverse=True)
