"""A message is not trusted: a copy of a job's message with another snapshot (same id and
version) changes neither what the job does nor its record; the record decides."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.execution.messages import encode_message
from queued_jobs.execution.pipeline import Disposition, Pipeline
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry

pytestmark = pytest.mark.asyncio


class Transfer(BaseModel):
    to: str
    amount: int


class CountingRepository(MemoryJobRepository):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.reads = 0

    async def get(self, job_id: str) -> QueuedJob:
        self.reads += 1
        return await super().get(job_id)


@pytest.fixture
def client() -> JobClient:
    registry = JobRegistry()

    @registry.job(name="bank.transfer")
    def transfer(request: Transfer) -> dict[str, Any]:
        return request.model_dump()

    clock = ManualClock()
    repository = CountingRepository(clock=clock)
    return JobClient(repository, MemoryQueueBroker(clock=clock), registry, clock=clock)


def pipeline(client: JobClient) -> Pipeline:
    return Pipeline(
        client.repository, client.broker, client.registry, host="test:1", clock=client.clock
    )


def forged(body: str, **changes: Any) -> str:
    """``body`` as an attacker who may peek and send messages would change it: same id,
    version and signature, another snapshot."""
    data = json.loads(body)
    data["job"].update(changes)
    return json.dumps(data)


ATTACK = {
    "request": {"to": "mallory", "amount": 1_000_000},
    "max_attempts": 99,
    "run_at": None,
    "tags": ["vip"],
}


async def genuine(client: JobClient, job: QueuedJob) -> str:
    """The body the client sent for ``job``."""
    return encode_message(job, await client.repository.message_key())


def unchanged(job: QueuedJob) -> QueuedJob:
    return job.model_copy(update={"version": None})


async def test_a_forged_snapshot_does_not_run_a_job_before_its_time_or_rewrite_it(
    client: JobClient,
) -> None:
    job = await client.queue_job(
        "bank.transfer", {"to": "bob", "amount": 5}, owner="alice", delay=timedelta(hours=1)
    )

    handled = await pipeline(client).handle(forged(await genuine(client, job), **ATTACK))

    assert (handled.disposition, handled.reason) == (Disposition.RETRY_LATER, "not due yet")
    stored = await client.get_job(job.id)
    assert unchanged(stored) == unchanged(job)
    assert stored.version == job.version  # not even touched


async def test_a_forged_snapshot_of_a_due_job_runs_the_stored_request_not_its_own(
    client: JobClient,
) -> None:
    job = await client.queue_job("bank.transfer", {"to": "bob", "amount": 5}, owner="alice")
    [message] = await client.broker.queue("jobs").receive()
    await client.broker.queue("jobs").ack(message)  # the attacker's copy arrives first

    handled = await pipeline(client).handle(forged(message.body, **ATTACK))

    assert handled.disposition is Disposition.ACK
    done = await client.get_job(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.result == {"to": "bob", "amount": 5}
    assert (done.request, done.max_attempts, done.tags, done.run_at) == (
        job.request,
        job.max_attempts,
        job.tags,
        job.run_at,
    )


async def test_a_genuine_message_claims_its_job_with_no_read_and_a_forged_one_with_one(
    client: JobClient,
) -> None:
    repository = client.repository
    assert isinstance(repository, CountingRepository)
    first = await client.queue_job("bank.transfer", {"to": "bob", "amount": 5}, owner="alice")
    second = await client.queue_job("bank.transfer", {"to": "eve", "amount": 7}, owner="alice")
    bodies = [m.body for m in await client.broker.queue("jobs").receive(max_messages=2)]
    assert len(bodies) == 2

    repository.reads = 0
    await pipeline(client).handle(bodies[0])
    reads_genuine = repository.reads
    await pipeline(client).handle(forged(bodies[1], request={"to": "eve", "amount": 8}))

    assert (reads_genuine, repository.reads) == (0, 1)
    results = [(await client.get_job(j.id)).result for j in (first, second)]
    assert results == [{"to": "bob", "amount": 5}, {"to": "eve", "amount": 7}]


async def test_only_a_poison_message_this_store_sent_can_fail_its_job(client: JobClient) -> None:
    job = await client.queue_job("bank.transfer", {"to": "bob", "amount": 5}, owner="alice")
    [message] = await client.broker.queue("jobs").receive()

    refused = await pipeline(client).fail_poisoned(f'{{"v":1,"id":"{job.id}"}}', "forged")
    assert (await client.get_job(job.id)).status is JobStatus.QUEUED
    failed = await pipeline(client).fail_poisoned(message.body, "delivered too often")

    assert refused.disposition is Disposition.DEAD_LETTER
    assert "not sent by this store" in refused.reason
    assert failed.disposition is Disposition.ACK
    assert (await client.get_job(job.id)).status is JobStatus.FAILED
