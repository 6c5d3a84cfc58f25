"""What each sequence verb costs in storage requests on Azure, and what advancing a
sequence costs on top of its jobs' own requests (docs/design.md's table)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.models import JobStatus, owner_shard
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.azure_table import AzureTableJobRepository
from queued_jobs.runner import JobRegistry
from queued_jobs.sequences.engine import SequenceEngine
from queued_jobs.sequences.model import Sequence, SequenceStatus
from tests.integration.test_azure_table_costs import cost, counted
from tests.support.counting import RequestCounter

pytestmark = [pytest.mark.asyncio, pytest.mark.azurite]
__all__ = ["counted"]  # the fixture, shared with the other cost tests


def sequence(owner: str = "ada") -> Sequence:
    big = {"text": "x" * 30_000}  # the record spans several properties
    steps = [{"jobs": [{"job_type": "t", "request": big}]}] * 2
    return Sequence.new(owner=owner, name="n", steps=steps)


async def test_each_write_is_one_transaction_with_its_change_and_each_read_one_request(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    store = repo.sequences
    made = sequence()

    stored = await store.insert_sequence(made)  # record, owner and active pointers, change
    assert counter.by_method == {"POST": 1}
    assert await cost(counter, store.get_sequence(made.id)) == 1
    renamed = stored.with_changes(name="renamed")
    assert await cost(counter, store.update_sequence(renamed)) == 1
    current = await store.get_sequence(made.id)
    ended = current.with_changes(status=SequenceStatus.SUCCEEDED, step=None)
    assert await cost(counter, store.update_sequence(ended)) == 1  # and its active pointer goes
    [partition] = repo.change_partitions("ada")
    changes = [c for c in (await repo.read_changes(partition)).changes if c.job_id == made.id]
    assert len(changes) == 3


async def test_listings_read_their_range_and_the_records_of_a_page(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    store = repo.sequences
    for owner in ("ada", "ada", "bob"):
        await store.insert_sequence(sequence(owner))

    assert await cost(counter, store.list_sequences(owner="ada")) == 1 + 2
    assert await cost(counter, store.list_sequences()) == 16
    assert await cost(counter, store.list_active_sequences()) == 16 + 3
    [first, *_] = (await store.list_sequences()).items
    assert await cost(counter, store.delete_sequence(first.id)) == 2


async def test_a_purge_reads_the_ended_index_per_shard_and_deletes_a_partition_at_once(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    store = repo.sequences
    owners = ("ada", "ada", "ada", "bob")
    for owner in owners:
        stored = await store.insert_sequence(sequence(owner))
        end = stored.with_changes(
            status=SequenceStatus.SUCCEEDED, step=None, completed_at=stored.created_at
        )
        await store.update_sequence(end)  # its ended pointer is in this write
    await store.insert_sequence(sequence("bob"))  # running: not in the ended index
    partitions = {f"j{owner_shard(owner):x}" for owner in owners}

    cutoff = datetime.now(UTC) + timedelta(minutes=1)
    counter.reset()
    assert await store.purge_sequences(ended_before=cutoff) == 4
    assert counter.total == 16 + len(partitions)  # a range per shard, a transaction each
    assert await cost(counter, store.purge_sequences(ended_before=cutoff)) == 16
    assert len((await store.list_sequences()).items) == 1


async def test_a_completion_costs_two_requests_and_the_one_that_starts_a_step_four(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    clock = ManualClock()
    registry = JobRegistry()

    @registry.job(name="t")
    async def work(request: Any) -> None: ...

    client = JobClient(repo, MemoryQueueBroker(clock=clock), registry, clock=clock)
    await repo.message_key()  # read once per process, whatever it sends
    engine = SequenceEngine(client)
    started = await engine.start(
        owner="ada", name="n", steps=[{"jobs": [{"job_type": "t"}] * 3}] * 2
    )
    ended = []
    for job in started.runs[0].jobs:
        stored = await repo.get(job.job_id)
        running = await repo.update(stored.transition(JobStatus.RUNNING, now=clock.now()))
        done = running.transition(JobStatus.SUCCEEDED, now=clock.now(), completed_at=clock.now())
        ended.append(await repo.update(done))

    assert await cost(counter, engine.job_ended(ended[0])) == 2  # read and write the record
    assert await cost(counter, engine.job_ended(ended[1])) == 2
    # Read, write (the step ends, the next starts), its 3 jobs in one transaction, a read.
    assert await cost(counter, engine.job_ended(ended[2])) == 4
    assert await cost(counter, engine.job_ended(ended[2])) == 1  # heard again: a read
