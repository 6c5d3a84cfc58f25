"""The change feed: every write that moves what a watcher sees of a job records a change in
the same atomic write, read back in position order from a partition. Every adapter.

Readers follow the protocol of ``ChangeBatch.settled``: a poll reads from the cursor (the
settled position of the poll before), each further batch of a full one from the last
position it returned, and passes over the positions it has seen; the next poll starts from
the first batch's settled position. On memory and SQLite settled is the last position
there is; on Azure it lags the wall clock by ``change_lateness``, so a poll reads the
last few seconds again (and passes over them).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from queued_jobs.errors import InvalidInput
from queued_jobs.models import JobChange, JobStatus, Progress, QueuedJob, change_of
from queued_jobs.repositories.base import CHANGE_PAGE_SIZE, JobRepository
from tests.support.unreadable_rows import Damage

from .conftest import RepositoryHarness
from .test_repository_contract import changed, make_job

pytestmark = pytest.mark.asyncio


class Reader:
    """A reader of one partition that misses no change and sees none twice."""

    def __init__(self, repo: JobRepository, partition: str, *, limit: int = CHANGE_PAGE_SIZE):
        self.repo = repo
        self.partition = partition
        self.limit = limit
        self.cursor: str | None = None
        self.seen: set[str] = set()
        self.batches = 0

    async def poll(self) -> list[JobChange]:
        """The changes not seen before, in position order."""
        new: list[JobChange] = []
        after, settled, first = self.cursor, self.cursor, True
        while True:
            batch = await self.repo.read_changes(self.partition, after=after, limit=self.limit)
            self.batches += 1
            if first:
                settled, first = batch.settled, False
            positions = [change.position for change in batch.changes]
            assert positions == sorted(positions), "a batch is in position order"
            assert len(set(positions)) == len(positions)
            if after is not None:
                assert all(p > after for p in positions), "only changes after the position"
            if batch.changes and batch.settled is not None:
                assert batch.settled <= positions[-1] or len(positions) < self.limit
            new += [change for change in batch.changes if change.position not in self.seen]
            self.seen.update(positions)
            if len(batch.changes) < self.limit:
                break
            after = positions[-1]
        self.cursor = settled
        if settled is not None:
            self.seen = {p for p in self.seen if p > settled}
        return new


async def changes_of(repo: JobRepository, owner: str | None = None) -> list[JobChange]:
    """Every change of the partitions holding ``owner``'s changes (every owner's: all)."""
    found: list[JobChange] = []
    for partition in repo.change_partitions(owner):
        found += await Reader(repo, partition).poll()
    return found


def the_job(changes: list[JobChange], job: QueuedJob) -> list[JobChange]:
    return [change for change in changes if change.job_id == job.id]


async def test_an_insert_records_a_change_with_the_fields_of_change_of(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    job = make_job(h, progress=Progress(percent=3, message="queued behind others"))

    stored = await repo.insert(job)

    [change] = await changes_of(repo, "alice")
    assert change.partition in repo.change_partitions("alice")
    assert change == change_of(stored, partition=change.partition, position=change.position)
    assert (change.job_id, change.owner, change.status) == (job.id, "alice", JobStatus.QUEUED)


async def test_insert_many_records_one_change_per_job(repositories: RepositoryHarness) -> None:
    h = repositories
    repo = await h.open()
    jobs = [make_job(h, owner=f"owner-{i % 5}") for i in range(30)]

    await repo.insert_many(jobs)

    changes = await changes_of(repo)
    assert sorted(change.job_id for change in changes) == sorted(job.id for job in jobs)


async def test_status_progress_cancel_and_attempt_changes_record_one_change_each(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    job = await repo.insert(make_job(h))
    now = h.clock.now()
    running = await repo.update(
        job.transition(JobStatus.RUNNING, now=now, lease_expires_at=now + timedelta(minutes=1))
    )
    progress = await repo.update(changed(running, progress=Progress(percent=40, message="p")))
    cancel = await repo.update(changed(progress, cancel_requested=True))
    attempts = await repo.update(changed(cancel, attempts=2))

    changes = the_job(await changes_of(repo, "alice"), job)

    assert [(c.status, c.progress, c.cancel_requested, c.attempts) for c in changes] == [
        (JobStatus.QUEUED, None, False, 0),
        (JobStatus.RUNNING, None, False, job.attempts),
        (JobStatus.RUNNING, Progress(percent=40, message="p"), False, job.attempts),
        (JobStatus.RUNNING, Progress(percent=40, message="p"), True, job.attempts),
        (JobStatus.RUNNING, Progress(percent=40, message="p"), True, 2),
    ]
    assert changes[-1] == change_of(
        attempts, partition=changes[-1].partition, position=changes[-1].position
    )


async def test_a_heartbeat_or_another_write_a_watcher_does_not_see_records_nothing(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    job = await repo.insert(make_job(h))
    now = h.clock.now()
    running = await repo.update(
        job.transition(JobStatus.RUNNING, now=now, lease_expires_at=now + timedelta(minutes=1))
    )
    before = the_job(await changes_of(repo), job)

    renewed = await repo.update(changed(running, lease_expires_at=now + timedelta(minutes=2)))
    tagged = await repo.update(changed(renewed, tags=("later",), updated_at=now))
    read_back = await repo.get(job.id)  # a version read from the store does as well
    await repo.update(changed(read_back, lease_expires_at=now + timedelta(minutes=3)))

    assert tagged.version is not None
    assert the_job(await changes_of(repo), job) == before
    assert len(before) == 2


async def test_a_record_an_older_version_stored_records_a_change_at_its_next_write(
    repositories: RepositoryHarness,
) -> None:
    # Its row carries no digest of what a watcher saw: its next write records a change,
    # even one a watcher would not see (the safe side).
    h = repositories
    repo = await h.open()
    job = make_job(h)
    await h.plant(job, Damage.NO_UNIQUE_SCOPE)
    assert await changes_of(repo) == []

    stored = await repo.get(job.id)
    again = await repo.update(changed(stored, tags=("touched",)))
    await repo.update(changed(again, tags=("twice",)))

    [change] = await changes_of(repo)
    assert change.job_id == job.id


async def test_changes_after_a_position_are_the_later_ones_in_order(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    job = await repo.insert(make_job(h))
    for percent in (10, 20, 30):
        job = await repo.update(changed(job, progress=Progress(percent=percent)))
    [partition] = repo.change_partitions("alice")
    everything = (await repo.read_changes(partition)).changes
    assert [c.progress.percent if c.progress else None for c in everything] == [None, 10, 20, 30]

    later = await repo.read_changes(partition, after=everything[1].position)

    assert list(later.changes) == list(everything[2:])
    assert list((await repo.read_changes(partition, after=everything[-1].position)).changes) == []


async def test_batches_are_cut_at_the_limit_and_their_settled_position_is_within_them(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    jobs = await repo.insert_many([make_job(h) for _ in range(7)])
    [partition] = repo.change_partitions("alice")

    first = await repo.read_changes(partition, limit=3)

    assert [c.job_id for c in first.changes] == [job.id for job in jobs[:3]]
    assert first.settled is not None
    assert first.settled <= first.changes[-1].position
    reader = Reader(repo, partition, limit=3)
    assert [c.job_id for c in await reader.poll()] == [job.id for job in jobs]
    assert reader.batches == 3


async def test_a_reader_polling_from_settled_misses_nothing_and_sees_nothing_twice(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    writer = await h.open()  # another client on the same store, as another process
    reader = Reader(repo, *repo.change_partitions("alice"), limit=4)
    written: list[str] = []
    jobs: list[QueuedJob] = []
    read: list[JobChange] = []
    for round_ in range(5):
        new = await writer.insert_many([make_job(h) for _ in range(round_ + 2)])
        jobs += new
        for job in jobs[-3:]:  # and some progress of jobs written before
            index = jobs.index(job)
            jobs[index] = await writer.update(changed(job, progress=Progress(percent=round_)))
        written += [job.id for job in new] + [job.id for job in jobs[-3:]]
        read += await reader.poll()
        read += await reader.poll()  # nothing new: nothing read twice

    assert [c.job_id for c in read] == written
    assert len({c.position for c in read}) == len(read)


async def test_the_partitions_of_an_owner_hold_its_changes(repositories: RepositoryHarness) -> None:
    h = repositories
    repo = await h.open()
    owners = ["alice", "bob", "carol ünïcode/#?", "dave"]
    jobs = {owner: await repo.insert(make_job(h, owner=owner)) for owner in owners}

    for owner, job in jobs.items():
        partitions = repo.change_partitions(owner)
        assert set(partitions) <= set(repo.change_partitions())
        [change] = the_job(await changes_of(repo, owner), job)
        assert change.partition in partitions
        assert change.owner == owner


@pytest.mark.parametrize(
    "partition", ["", "nope", "j", "jg", "all' or 'a' eq 'a", "J0", "all ", "PartitionKey"]
)
async def test_a_partition_the_store_does_not_have_is_refused(
    repositories: RepositoryHarness, partition: str
) -> None:
    repo = await repositories.open()
    if partition in repo.change_partitions():
        return  # one of this store's own (``all`` or ``j0``-like names are someone's)
    with pytest.raises(InvalidInput):
        await repo.read_changes(partition)


@pytest.mark.parametrize(
    "position",
    [
        "",
        "1",
        "-1",
        "0" * 18 + "x",
        "9" * 19,  # past what a sequence reaches
        "' or RowKey gt '",
        "00000000000000|' or 'a' eq 'a",
        "0" * 14 + "|" + "0" * 28,
        "v|" + "0" * 14 + "|",
        "0" * 19 + "\n",
    ],
)
async def test_a_position_the_store_did_not_make_is_refused(
    repositories: RepositoryHarness, position: str
) -> None:
    repo = await repositories.open()
    [partition, *_] = repo.change_partitions()
    with pytest.raises(InvalidInput):
        await repo.read_changes(partition, after=position)


async def test_another_kind_of_stores_positions_and_limits_outside_1_to_1000_are_refused(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    await repo.insert(make_job(h))
    [partition, *_] = repo.change_partitions("alice")
    [change] = (await repo.read_changes(partition)).changes
    foreign = "0" * 14 + "|" if change.position.isdigit() else "0" * 19

    with pytest.raises(InvalidInput):
        await repo.read_changes(partition, after=foreign)
    for limit in (0, -1, CHANGE_PAGE_SIZE + 1):
        with pytest.raises(InvalidInput):
            await repo.read_changes(partition, limit=limit)
    assert len((await repo.read_changes(partition, limit=CHANGE_PAGE_SIZE)).changes) == 1


async def test_purge_changes_removes_the_old_changes_only(repositories: RepositoryHarness) -> None:
    # Memory and SQLite record a change's time by the repository's clock; Azure keys it by
    # the wall clock: both move between the two writes.
    h = repositories
    repo = await h.open()
    old = await repo.insert(make_job(h))
    written_old = time.time()
    h.clock.advance(timedelta(hours=1))
    await asyncio.sleep(0.2)
    between = time.time() - 0.1
    new = await repo.insert(make_job(h))
    assert between > written_old

    purged = await repo.purge_changes(older_than=timedelta(seconds=time.time() - between))

    assert purged == 1
    assert [c.job_id for c in await changes_of(repo)] == [new.id]
    assert await repo.get(old.id) == old  # the job stays
    assert await repo.purge_changes(older_than=timedelta(days=1)) == 0


async def test_deleting_a_job_deletes_its_changes(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    gone, kept = [await repo.insert(make_job(h)) for _ in range(2)]
    await repo.update(changed(gone, progress=Progress(percent=50)))

    await repo.delete(gone.id)

    left = [c.job_id for c in await changes_of(repo)]
    assert left == [kept.id]


async def test_purging_jobs_deletes_their_changes(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    done, active = [await repo.insert(make_job(h)) for _ in range(2)]
    now = h.clock.now()
    await repo.update(done.transition(JobStatus.FAILED, now=now, completed_at=now))
    h.clock.advance(timedelta(days=1))

    assert await repo.purge(completed_before=h.clock.now()) == 1

    left = [c.job_id for c in await changes_of(repo)]
    assert left == [active.id]
