"""How the standalone worker asks its queues for messages: in batches, and per band."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.execution.pipeline import Pipeline
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.models import JobStatus, Priority, QueuedJob
from queued_jobs.queues.base import JobQueue, QueueMessage
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry
from queued_jobs.worker import Worker, WorkerSettings


class CountedQueue:
    """A queue that remembers how many messages each receive brought."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue
        self.received: list[int] = []
        self.asked: list[int] = []
        self.renewals: list[timedelta] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)

    async def receive(self, **options: Any) -> list[QueueMessage]:
        messages = await self._queue.receive(**options)
        self.asked.append(options["max_messages"])
        self.received.append(len(messages))
        return messages

    async def renew(self, message: QueueMessage, *, visibility_timeout: timedelta) -> QueueMessage:
        self.renewals.append(visibility_timeout)
        return await self._queue.renew(message, visibility_timeout=visibility_timeout)


async def run_until_done(client: JobClient, worker: Worker, jobs: int) -> None:
    """Run ``worker`` until ``jobs`` jobs succeeded."""
    done = asyncio.Event()
    finished = 0

    async def count(job: QueuedJob) -> None:
        nonlocal finished
        if job.status is JobStatus.SUCCEEDED:
            finished += 1
            if finished == jobs:
                done.set()

    worker.pipeline._listeners.append(count)
    running = asyncio.create_task(worker.run())
    async with asyncio.timeout(10):
        await done.wait()
    worker.stop()
    await running


@pytest.fixture
def client() -> JobClient:
    registry = JobRegistry()

    @registry.job(name="nap")
    async def nap(request: int) -> None:
        await asyncio.sleep(0.001 * (request % 3))

    clock = ManualClock()
    broker = MemoryQueueBroker(clock=clock)
    return JobClient(MemoryJobRepository(clock=clock), broker, registry, clock=clock)


def worker_for(
    client: JobClient,
    queues: list[CountedQueue],
    execution: ExecutionSettings | None = None,
    **settings: Any,
) -> Worker:
    pipeline = Pipeline(
        client.repository,
        client.broker,
        client.registry,
        host="test:1",
        clock=client.clock,
        settings=execution,
    )
    options = {"sweep_interval": None, "poll_min": timedelta(milliseconds=5), **settings}
    return Worker(pipeline, queues, settings=WorkerSettings(**options))  # type: ignore[arg-type]


async def test_a_busy_worker_receives_batches_once_half_its_slots_are_free(
    client: JobClient,
) -> None:
    for index in range(64):
        await client.queue_job("nap", index, owner="a")
    queue = CountedQueue(client.broker.queue("jobs"))

    await run_until_done(client, worker_for(client, [queue], concurrency=8), 64)

    batches = [count for count in queue.received if count]
    assert sum(batches) == 64
    assert batches[0] == 8
    assert min(batches[:-1]) >= 4  # never one message at a time
    assert len(batches) <= 64 // 4 + 1


async def test_a_threshold_just_below_the_concurrency_refills_every_free_slot(
    client: JobClient,
) -> None:
    for index in range(24):
        await client.queue_job("nap", index, owner="a")
    queue = CountedQueue(client.broker.queue("jobs"))
    worker = worker_for(client, [queue], concurrency=8, fetch_threshold=7)

    await run_until_done(client, worker, 24)

    assert 1 in queue.received  # single free slots were filled as they came


async def test_an_empty_band_is_asked_again_only_after_its_pause(client: JobClient) -> None:
    for index in range(40):
        await client.queue_job("nap", index, owner="a")
    high, normal = (CountedQueue(client.broker.queue(n)) for n in client.queues.bands[:2])
    worker = worker_for(
        client, [high, normal], concurrency=1, poll_max=timedelta(seconds=10), fairness=1000
    )

    await run_until_done(client, worker, 40)

    assert sum(normal.received) == 40
    # Once per fetch before; now the empty band's pause doubles from 5 ms while the other
    # band keeps the worker busy.
    assert 1 <= len(high.received) < 12


async def test_an_urgent_job_is_still_found_while_its_band_rests(client: JobClient) -> None:
    worker = worker_for(
        client,
        [CountedQueue(client.broker.queue(n)) for n in client.queues.bands],
        poll_max=timedelta(milliseconds=50),
    )
    started = asyncio.Event()

    async def note(job: QueuedJob) -> None:
        if job.status is JobStatus.SUCCEEDED:
            started.set()

    worker.pipeline._listeners.append(note)
    running = asyncio.create_task(worker.run())
    await asyncio.sleep(0.3)  # every band is empty: all rest at poll_max
    began = asyncio.get_running_loop().time()
    job = await client.queue_job("nap", 1, owner="a", priority=Priority.HIGH)
    async with asyncio.timeout(5):
        await started.wait()
    took = asyncio.get_running_loop().time() - began
    worker.stop()
    await running

    assert (await client.get_job(job.id)).status is JobStatus.SUCCEEDED
    assert took < 0.5  # within a few rests of 50 ms, not the 5 s the test would allow


@pytest.mark.parametrize("threshold", [-1, 6])
def test_a_fetch_threshold_outside_the_slots_is_refused(threshold: int) -> None:
    with pytest.raises(ValueError, match="fetch_threshold"):
        WorkerSettings(concurrency=4, prefetch=2, fetch_threshold=threshold)


async def test_prefetch_receives_beyond_the_running_jobs(client: JobClient) -> None:
    for index in range(40):
        await client.queue_job("nap", index, owner="a")
    queue = CountedQueue(client.broker.queue("jobs"))

    await run_until_done(client, worker_for(client, [queue], concurrency=2, prefetch=14), 40)

    assert queue.received[0] == 16
    assert max(queue.asked[1:]) >= 8  # refills once half of the 16 places are free


async def test_held_messages_that_waited_long_are_renewed_before_they_start(
    client: JobClient,
) -> None:
    for index in range(4):
        await client.queue_job("nap", index, owner="a")
    queue = CountedQueue(client.broker.queue("jobs"))
    # A heartbeat of 0.5 s; each job takes 0.3 s: the last held message waits 0.9 s.
    execution = ExecutionSettings(lease=timedelta(seconds=1.5))
    worker = worker_for(client, [queue], execution, concurrency=1, prefetch=3)

    async def slowly(job: QueuedJob) -> None:
        if job.status is JobStatus.SUCCEEDED:
            await asyncio.sleep(0.3)

    worker.pipeline._listeners.append(slowly)
    await run_until_done(client, worker, 4)

    assert queue.renewals.count(timedelta(seconds=1.5)) in (1, 2)


async def test_held_messages_are_handed_back_at_once_when_the_worker_stops(
    client: JobClient,
) -> None:
    release = asyncio.Event()

    @client.registry.job(name="block")
    async def block(request: int) -> None:
        await release.wait()

    for index in range(4):
        await client.queue_job("block", index, owner="a")
    queue = CountedQueue(client.broker.queue("jobs"))
    worker = worker_for(
        client, [queue], concurrency=1, prefetch=3, shutdown_grace=timedelta(seconds=5)
    )
    running = asyncio.create_task(worker.run())
    await asyncio.sleep(0.1)

    worker.stop()
    await asyncio.sleep(0.05)
    visible = await client.broker.queue("jobs").receive(visibility_timeout=timedelta(minutes=1))
    release.set()
    await running

    assert len(visible) == 3  # the held three; the running one finishes its job
    assert queue.renewals.count(timedelta(0)) == 3


async def test_held_messages_start_as_slots_free_even_when_the_queue_ran_dry(
    client: JobClient,
) -> None:
    for index in range(4):
        await client.queue_job("nap", index, owner="a")
    queue = CountedQueue(client.broker.queue("jobs"))
    resting = {"poll_min": timedelta(seconds=30), "poll_max": timedelta(seconds=30)}
    worker = worker_for(client, [queue], concurrency=1, prefetch=3, **resting)

    async with asyncio.timeout(2):  # no 30 s rest between held jobs
        await run_until_done(client, worker, 4)

    assert sum(queue.received) == 4
