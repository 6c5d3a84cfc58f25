"""What each repository verb costs in storage requests on Azure (docs/design.md's table)."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient
from azure.storage.blob.aio import ContainerClient

from queued_jobs._azure import table_keys as keys
from queued_jobs._azure.table_entities import INLINE_LIMIT
from queued_jobs.clock import ManualClock
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.execution.sweep import Sweeper
from queued_jobs.models import Attempt, AttemptOutcome, JobStatus, QueuedJob, owner_shard
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.azure_table import AzureTableJobRepository
from queued_jobs.repositories.base import JobQuery
from tests.support.azurite import Azurite
from tests.support.counting import RequestCounter

pytestmark = [pytest.mark.asyncio, pytest.mark.azurite]


@pytest.fixture
async def counted(
    azurite: Azurite,
) -> AsyncIterator[tuple[AzureTableJobRepository, RequestCounter]]:
    counter = RequestCounter()
    suffix = uuid.uuid4().hex[:10]
    repo = AzureTableJobRepository(
        TableClient.from_connection_string(
            azurite.connection_string, table_name=f"cost{suffix}", per_call_policies=[counter]
        ),
        ContainerClient.from_connection_string(
            azurite.connection_string, container_name=f"cost{suffix}", raw_request_hook=counter
        ),
        clock=ManualClock(),
    )
    await repo.create()
    counter.reset()
    yield repo, counter
    await repo.close()


async def cost(counter: RequestCounter, awaitable: object) -> int:
    counter.reset()
    await awaitable  # type: ignore[misc]
    return counter.total


async def test_a_job_lifecycle_costs_one_request_per_write(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    job = QueuedJob.new(owner="alice", job_type="t", request={"n": 1})

    counter.reset()
    stored = await repo.insert(job)
    assert counter.total == 1
    counter.reset()
    running = await repo.update(stored.transition(JobStatus.RUNNING, now=job.created_at))
    assert counter.total == 1
    done = running.transition(JobStatus.SUCCEEDED, now=job.created_at, completed_at=job.created_at)
    attempt = Attempt(
        job_id=job.id,
        number=1,
        started_at=job.created_at,
        ended_at=job.created_at,
        outcome=AttemptOutcome.SUCCEEDED,
        host="h:1",
    )
    assert await cost(counter, repo.update(done, attempt=attempt)) == 1
    assert await cost(counter, repo.get(job.id)) == 1
    assert await cost(counter, repo.list_attempts(job.id)) == 1
    assert await cost(counter, repo.append_attempt(attempt)) == 1
    # Read, attempts, the job's change rows, one transaction.
    assert await cost(counter, repo.delete(job.id)) == 4


async def test_listing_costs_one_request_per_owner_page_and_one_per_shard_for_operators(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    for i in range(30):
        await repo.insert(QueuedJob.new(owner="bob" if i % 2 else f"u{i}", job_type="t"))

    assert await cost(counter, repo.list_by_owner("bob", limit=10)) == 1
    assert await cost(counter, repo.list_jobs(limit=10)) == 16


async def test_unique_keys_cost_one_request_to_take_and_two_to_refuse_or_release(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    holder = await repo.insert(QueuedJob.new(owner="o", job_type="t"))

    assert await cost(counter, repo.reserve_unique_key("k", holder.id)) == 1
    with pytest.raises(Exception, match="held by job"):
        await cost(counter, repo.reserve_unique_key("k", "0" * 29))
    assert counter.total == 2
    assert await cost(counter, repo.release_unique_key("k", holder.id)) == 2


async def test_large_payloads_add_one_blob_request_each(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    job = QueuedJob.new(owner="o", job_type="t", request={"big": "x" * INLINE_LIMIT})

    assert await cost(counter, repo.insert(job)) == 2
    assert await cost(counter, repo.get(job.id)) == 2
    # get, attempts query, the change rows, one batch for the rows, list the blobs, delete
    # the one blob
    assert await cost(counter, repo.delete(job.id)) == 6


async def test_insert_many_costs_one_transaction_per_12_jobs_of_a_partition(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    one_owner = [QueuedJob.new(owner="alice", job_type="t") for _ in range(100)]
    spread = [QueuedJob.new(owner=f"user-{i}", job_type="t") for i in range(100)]
    per_shard = Counter(owner_shard(job.owner) for job in spread)
    crowded = sum(math.ceil(count / 12) - 1 for count in per_shard.values())

    # eight rows a job (the job, its owner copy, four pointers, its due row, its change
    # row): 12 jobs a transaction of at most 100 rows
    assert await cost(counter, repo.insert_many(one_owner)) == 9
    spread_cost = await cost(counter, repo.insert_many(spread))
    assert spread_cost == sum(math.ceil(count / 12) for count in per_shard.values())
    assert spread_cost <= 16 + crowded
    big = [
        QueuedJob.new(owner="bob", job_type="t", request={"big": c * INLINE_LIMIT}) for c in "xy"
    ]
    assert await cost(counter, repo.insert_many(big)) == 3  # two blobs, one transaction


async def test_the_message_key_costs_two_requests_once_and_nothing_after(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted

    at_once = [repo.message_key() for _ in range(16)]  # a host's first batch, say
    first = await cost(counter, asyncio.gather(*at_once))  # a read finding none, an insert
    later = [await cost(counter, repo.message_key()) for _ in range(3)]

    assert (first, later) == (2, [0, 0, 0])


#: A sweep pass: the sweep lease (read, write) and the due index of scheduled and queued
#: jobs and of running ones, one query per shard each (with full passes on, +1: a read of
#: the full pass's lease).
SWEEP_PASS = 2 + 2 * 16


async def test_a_sweep_pass_costs_the_same_with_no_jobs_and_with_2000_queued(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    clock = ManualClock()
    sweeper = Sweeper(repo, MemoryQueueBroker(clock=clock), clock=clock, full_pass_every=None)
    await sweeper.sweep()  # the first pass also creates the lease row
    empty = await cost(counter, sweeper.sweep())
    jobs = [QueuedJob.new(owner=f"user-{i}", job_type="t", now=clock.now()) for i in range(2000)]
    await repo.insert_many(jobs)
    clock.advance(timedelta(minutes=1))

    counter.reset()
    report = await sweeper.sweep()
    backlog = counter.total

    assert (report.resent, report.held_elsewhere) == (0, False)
    assert empty == backlog == SWEEP_PASS


async def test_a_sweeper_that_finds_the_lease_held_pays_one_read(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    clock = ManualClock()
    broker = MemoryQueueBroker(clock=clock)
    await Sweeper(repo, broker, clock=clock, full_pass_every=None).sweep()
    other = Sweeper(repo, broker, clock=clock, full_pass_every=None)

    counter.reset()
    report = await other.sweep()
    assert report.held_elsewhere
    assert counter.total == 1


async def test_a_sweep_of_due_jobs_reads_each_once_and_moves_it_out_of_the_index(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    clock = ManualClock()
    settings = ExecutionSettings()
    broker = MemoryQueueBroker(clock=clock)
    sweeper = Sweeper(repo, broker, clock=clock, settings=settings, full_pass_every=None)
    jobs = [QueuedJob.new(owner=f"user-{i}", job_type="t", now=clock.now()) for i in range(40)]
    await repo.insert_many(jobs)
    await repo.message_key()  # read once per process, before the first resend
    clock.advance(settings.resend_after)

    counter.reset()
    report = await sweeper.sweep()
    # the pass itself, then per job: its row read, its touch (one transaction)
    assert (report.resent, counter.total) == (40, SWEEP_PASS + 40 * 2)
    assert await broker.queue("jobs").depth() == 40
    assert await cost(counter, sweeper.sweep()) == SWEEP_PASS
    assert (await sweeper.sweep()).resent == 0


async def test_a_due_row_its_job_no_longer_names_is_passed_over_and_deleted(
    counted: tuple[AzureTableJobRepository, RequestCounter],
    azurite: Azurite,
) -> None:
    repo, _ = counted
    clock = ManualClock()
    job = await repo.insert(QueuedJob.new(owner="alice", job_type="t", now=clock.now()))
    table = repo._table
    partition = keys.job_partition(job.id)
    row = await table.get_entity(partition, keys.job_key(job.id))
    due_row = row["Due"]
    del row["Due"]  # as a writer that knows no due index replaces the row
    await table.upsert_entity(row, mode=UpdateMode.REPLACE)
    clock.advance(timedelta(hours=1))

    page = await repo.list_due(frozenset({JobStatus.QUEUED}), due_by=clock.now())

    assert list(page.items) == []
    with pytest.raises(ResourceNotFoundError):
        await table.get_entity(partition, due_row)
    # its next write puts it back in the index
    stored = await repo.get(job.id)
    await repo.update(stored.transition(JobStatus.QUEUED, now=clock.now()))
    [again] = (await repo.list_due(frozenset({JobStatus.QUEUED}), due_by=clock.now())).items
    assert again.id == job.id


async def test_an_owners_jobs_of_some_statuses_cost_a_request_per_status_and_a_read_per_job(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    clock = ManualClock()
    done = [
        QueuedJob.new(owner="bob", job_type="t", now=clock.now(), status=JobStatus.SUCCEEDED)
        for _ in range(300)
    ]
    failed = [
        QueuedJob.new(owner="bob", job_type="t", now=clock.now(), status=JobStatus.FAILED)
        for _ in range(3)
    ]
    await repo.insert_many([*done, *failed])
    query = JobQuery(owner="bob", statuses=frozenset({JobStatus.FAILED, JobStatus.QUEUED}))

    counter.reset()
    page = await repo.list_jobs(query, limit=50)

    # one range of pointers per status, a point read of each of the three jobs; the 300
    # succeeded jobs are never read
    assert counter.total == 2 + 3
    assert sorted(job.id for job in page.items) == sorted(job.id for job in failed)
    assert page.continuation is None
    typed = JobQuery(owner="bob", job_type="t", statuses=frozenset({JobStatus.FAILED}))
    assert await cost(counter, repo.list_jobs(typed, limit=50)) == 1 + 3


async def test_a_type_listing_costs_a_request_per_shard_and_a_read_per_job_whatever_the_table(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    clock = ManualClock()
    others = [
        QueuedJob.new(owner=f"u{i % 40}", job_type="bulk", now=clock.now(), status=status)
        for i in range(600)
        for status in (JobStatus.SUCCEEDED,)
    ]
    wanted = [
        QueuedJob.new(owner=f"u{i}", job_type="rare", now=clock.now(), status=JobStatus.FAILED)
        for i in range(5)
    ]
    await repo.insert_many([*others, *wanted])

    for query in (
        JobQuery(job_type="rare"),
        JobQuery(job_type="rare", statuses=frozenset({JobStatus.FAILED})),
    ):
        counter.reset()
        page = await repo.list_jobs(query, limit=50)
        # 16 ranges of pointers, then a point read of each listed job
        assert counter.total == 16 + len(wanted), query
        assert sorted(job.id for job in page.items) == sorted(job.id for job in wanted)
    running = JobQuery(job_type="bulk", statuses=frozenset({JobStatus.RUNNING}))
    assert await cost(counter, repo.list_jobs(running, limit=50)) == 16


async def test_deleting_and_purging_jobs_leave_none_of_their_rows_behind(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, _ = counted
    clock = ManualClock()
    jobs = [
        await repo.insert(QueuedJob.new(owner=f"o|{i % 3}", job_type=f"t:{i % 2}", now=clock.now()))
        for i in range(12)
    ]
    for i, job in enumerate(jobs):  # through running, some back to queued, then finished
        job = await repo.update(job.transition(JobStatus.RUNNING, now=clock.now()))
        if i % 2:
            job = await repo.update(job.transition(JobStatus.QUEUED, now=clock.now()))
        now = clock.now()
        await repo.update(job.transition(JobStatus.FAILED, now=now, completed_at=now))

    for job in jobs[:6]:
        await repo.delete(job.id)
    clock.advance(timedelta(days=2))
    assert await repo.purge(completed_before=clock.now()) == 6

    # Their change rows went with them (found by their lives' times): nothing is left.
    assert [e async for e in repo._table.query_entities("PartitionKey ge 'j'")] == []
    assert await repo.purge_changes(older_than=timedelta(0)) == 0


async def test_a_status_change_moves_the_status_copy_and_the_due_row_in_its_one_request(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    clock = ManualClock()
    job = await repo.insert(QueuedJob.new(owner="alice", job_type="t", now=clock.now()))
    partition = keys.job_partition(job.id)

    async def rows() -> list[str]:
        found = repo._table.query_entities("PartitionKey eq @pk", parameters={"pk": partition})
        return [e["RowKey"] async for e in found]

    async def index_rows() -> list[str]:
        """The job's rows but its changes, as their keys without the job's id."""
        return sorted(k.rsplit("|", 1)[0] for k in await rows() if not k.startswith("v|"))

    async def change_rows() -> int:
        return sum(k.startswith("v|") for k in await rows())

    assert await change_rows() == 1
    assert await index_rows() == [
        "d|" + (await repo._table.get_entity(partition, keys.job_key(job.id)))["Due"][2:18],
        "k|t|queued",
        "o|alice",
        "p|alice|queued",
        "s|queued",
        "t",
        "y|t",
    ]
    now = clock.now()
    failed = job.transition(JobStatus.FAILED, now=now, completed_at=now)
    assert await cost(counter, repo.update(failed)) == 1
    assert await index_rows() == ["k|t|failed", "o|alice", "p|alice|failed", "s|failed", "t", "y|t"]
    assert await change_rows() == 2
    progress = failed.model_copy(update={"version": (await repo.get(job.id)).version})
    assert await cost(counter, repo.update(progress.model_copy(update={"tags": ("x",)}))) == 1
    assert await index_rows() == ["k|t|failed", "o|alice", "p|alice|failed", "s|failed", "t", "y|t"]
    assert await change_rows() == 2  # a watcher sees nothing new: no change row


async def test_an_update_whose_due_row_someone_deleted_still_goes_through(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, _ = counted
    clock = ManualClock()
    job = await repo.insert(QueuedJob.new(owner="alice", job_type="t", now=clock.now()))
    partition = keys.job_partition(job.id)
    row = await repo._table.get_entity(partition, keys.job_key(job.id))
    await repo._table.delete_entity(partition, row["Due"])

    clock.advance(timedelta(minutes=1))
    moved = await repo.update(job.transition(JobStatus.QUEUED, now=clock.now()))

    [due] = (await repo.list_due(frozenset({JobStatus.QUEUED}), due_by=clock.now())).items
    assert due == moved


async def test_a_job_whose_due_row_someone_deleted_is_held_by_list_unindexed(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    clock = ManualClock()
    job, indexed = [
        await repo.insert(QueuedJob.new(owner=owner, job_type="t", now=clock.now()))
        for owner in ("alice", "bob")
    ]
    partition = keys.job_partition(job.id)
    row = await repo._table.get_entity(partition, keys.job_key(job.id))
    await repo._table.delete_entity(partition, row["Due"])
    active = frozenset({JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.RUNNING})

    counter.reset()
    page = await repo.list_unindexed(active)

    assert [j.id for j in page.items] == [job.id]
    assert indexed.id not in {j.id for j in page.items}
    # the job rows of each shard, the due rows of each shard and kind, a read of the job
    assert counter.total == 16 + 32 + 1


# --- the change feed ---------------------------------------------------------------------


async def _change_rows(repo: AzureTableJobRepository, job: QueuedJob) -> int:
    found = repo._table.query_entities(
        "PartitionKey eq @pk", parameters={"pk": keys.job_partition(job.id)}, select=["RowKey"]
    )
    return sum([e["RowKey"].startswith("v|") and e["RowKey"].endswith(job.id) async for e in found])


async def test_a_write_that_records_a_change_costs_the_one_request_it_cost_before(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    # The change row is one more operation of the transaction that writes the job anyway.
    repo, counter = counted
    clock = ManualClock()
    now = clock.now()
    job = QueuedJob.new(owner="alice", job_type="t", now=now)

    assert await cost(counter, repo.insert(job)) == 1
    stored = await repo.get(job.id)
    lease = now + timedelta(minutes=1)
    running = stored.transition(JobStatus.RUNNING, now=now, lease_expires_at=lease, attempts=1)
    counter.reset()
    running = await repo.update(running)
    assert counter.total == 1
    assert await _change_rows(repo, job) == 2
    heartbeat = running.model_copy(update={"lease_expires_at": lease + timedelta(minutes=1)})
    counter.reset()
    beaten = await repo.update(heartbeat)
    assert counter.total == 1
    assert await _change_rows(repo, job) == 2  # a heartbeat records none
    done = beaten.transition(JobStatus.SUCCEEDED, now=now, completed_at=now)
    attempt = Attempt(
        job_id=job.id,
        number=1,
        started_at=now,
        ended_at=now,
        outcome=AttemptOutcome.SUCCEEDED,
        host="h:1",
    )
    assert await cost(counter, repo.update(done, attempt=attempt)) == 1
    assert await _change_rows(repo, job) == 3


async def test_an_update_from_a_version_without_the_watched_digest_records_a_change(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    # A version an older build made (a message sent before the upgrade) says nothing of
    # what a watcher saw: the update records a change, the safe side.
    repo, _ = counted
    job = await repo.insert(QueuedJob.new(owner="alice", job_type="t"))
    assert job.version is not None
    older = job.version.rsplit("~", 1)[0]

    touched = await repo.update(job.model_copy(update={"version": older, "tags": ("x",)}))

    assert await _change_rows(repo, job) == 2
    await repo.update(touched.model_copy(update={"tags": ("y",)}))
    assert await _change_rows(repo, job) == 2


async def test_reading_up_to_1000_changes_costs_one_request(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    jobs = [QueuedJob.new(owner="alice", job_type="t") for _ in range(1001)]
    await repo.insert_many(jobs)
    [partition] = repo.change_partitions("alice")

    counter.reset()
    batch = await repo.read_changes(partition, limit=1000)
    assert counter.total == 1
    assert len(batch.changes) == 1000
    assert batch.settled is not None
    assert batch.settled <= batch.changes[-1].position
    rest = await repo.read_changes(partition, after=batch.changes[-1].position, limit=1000)
    assert [c.job_id for c in [*batch.changes, *rest.changes]] == [job.id for job in jobs]
    assert await cost(counter, repo.read_changes(partition, limit=10)) == 1


async def test_purging_changes_costs_a_query_per_shard_and_a_transaction_per_100(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    await repo.insert_many([QueuedJob.new(owner="alice", job_type="t") for _ in range(250)])
    await repo.insert_many([QueuedJob.new(owner=f"u{i}", job_type="t") for i in range(30)])
    shards = {owner_shard(f"u{i}") for i in range(30)} | {owner_shard("alice")}

    assert await cost(counter, repo.purge_changes(older_than=timedelta(days=1))) == 16
    counter.reset()
    assert await repo.purge_changes(older_than=timedelta(0)) == 280
    # 16 range queries; alice's shard: 250 changes (and its share of the others'), each
    # other shard a transaction for its few
    alice = 250 + sum(owner_shard(f"u{i}") == owner_shard("alice") for i in range(30))
    assert counter.total == 16 + math.ceil(alice / 100) + len(shards) - 1


async def test_a_sweeps_full_pass_purges_changes_presences_and_markers_for_18_requests_more(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    clock = ManualClock()
    sweeper = Sweeper(repo, MemoryQueueBroker(clock=clock), clock=clock)
    await sweeper.sweep()  # creates the leases; a full pass (none held yet)
    clock.advance(timedelta(hours=2))  # the full pass's lease ran out
    await repo.insert(QueuedJob.new(owner="alice", job_type="t", now=clock.now()))

    counter.reset()
    report = await sweeper.sweep()

    assert report.full
    assert report.changes_purged == 0  # a second old: kept for a day
    assert report.presences_purged == 0
    assert report.markers_purged == 0
    # the pass, the full pass's lease (read, replace), the unindexed jobs' listing, the
    # changes' purge's 16 range queries, the presences' purge's query of their partition,
    # the slot markers' purge's query of the schedules' keys (no schedule: nothing more)
    assert counter.total == SWEEP_PASS + 2 + 48 + 16 + 1 + 1
