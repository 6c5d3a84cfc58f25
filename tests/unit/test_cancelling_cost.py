"""What cancelling a queued job costs, counted at the store: the cancel reads and writes
the record once each; the worker that meets the job's message later spends one refused
write (the message's snapshot is older than the cancel) and one read, then acks it."""

from __future__ import annotations

from collections import Counter

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.execution.pipeline import Disposition, Pipeline
from queued_jobs.models import Attempt, JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry


class CountingRepository(MemoryJobRepository):
    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock=clock)
        self.calls: Counter[str] = Counter()

    async def get(self, job_id: str) -> QueuedJob:
        self.calls["get"] += 1
        return await super().get(job_id)

    async def update(self, job: QueuedJob, *, attempt: Attempt | None = None) -> QueuedJob:
        self.calls["update"] += 1
        return await super().update(job, attempt=attempt)


async def test_a_cancelled_queued_job_costs_two_requests_to_cancel_and_three_to_drop() -> None:
    clock = ManualClock()
    repository = CountingRepository(clock)
    registry = JobRegistry()

    @registry.job(name="mail.send")
    def send(request: int) -> int:
        raise AssertionError("a cancelled job never runs")

    client = JobClient(repository, MemoryQueueBroker(clock=clock), registry, clock=clock)
    job = await client.queue_job("mail.send", 1, owner="alice")
    repository.calls.clear()

    cancelled = await client.cancel(job.id)
    assert cancelled.status is JobStatus.CANCELLED
    assert repository.calls == {"get": 1, "update": 1}

    repository.calls.clear()
    [message] = await client.broker.queue("jobs").receive()
    pipeline = Pipeline(repository, client.broker, registry, host="test:1", clock=clock)
    handled = await pipeline.handle(message.body)

    assert handled.disposition is Disposition.ACK  # the host deletes the message: request 3
    assert repository.calls == {"update": 1, "get": 1}  # the claim refused, then the read
