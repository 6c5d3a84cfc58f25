"""What each repository verb costs in storage requests on Azure (docs/design.md's table)."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from azure.data.tables.aio import TableClient
from azure.storage.blob.aio import ContainerClient

from queued_jobs._azure.table_entities import INLINE_LIMIT
from queued_jobs.clock import ManualClock
from queued_jobs.models import Attempt, AttemptOutcome, JobStatus, QueuedJob, owner_shard
from queued_jobs.repositories.azure_table import AzureTableJobRepository
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
    assert await cost(counter, repo.delete(job.id)) == 3  # read, attempts, one transaction


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
    # get, attempts query, one batch for the rows, list the blobs, delete the one blob
    assert await cost(counter, repo.delete(job.id)) == 5


async def test_insert_many_costs_one_transaction_per_50_jobs_of_a_partition(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    one_owner = [QueuedJob.new(owner="alice", job_type="t") for _ in range(100)]
    spread = [QueuedJob.new(owner=f"user-{i}", job_type="t") for i in range(100)]
    per_shard = Counter(owner_shard(job.owner) for job in spread)
    crowded = sum(count > 50 for count in per_shard.values())

    assert await cost(counter, repo.insert_many(one_owner)) == 2  # two transactions of 50
    spread_cost = await cost(counter, repo.insert_many(spread))
    assert spread_cost == sum(math.ceil(count / 50) for count in per_shard.values())
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
