"""How the standalone worker asks its queues for messages: in batches, and per band."""

from __future__ import annotations

import asyncio
import math
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
from tests.support.waiting import PATIENCE, until


class CountedQueue:
    """A queue that remembers how many messages each receive brought."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue
        self.received: list[int] = []
        self.asked: list[int] = []
        self.renewals: list[timedelta] = []
        self.renewed: list[str] = []  # message ids, in order

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)

    async def receive(self, **options: Any) -> list[QueueMessage]:
        messages = await self._queue.receive(**options)
        self.asked.append(options["max_messages"])
        self.received.append(len(messages))
        return messages

    async def renew(self, message: QueueMessage, *, visibility_timeout: timedelta) -> QueueMessage:
        self.renewals.append(visibility_timeout)
        self.renewed.append(message.id)
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

    worker.pipeline.add_listener(count)
    running = asyncio.create_task(worker.run())
    async with asyncio.timeout(PATIENCE):
        await done.wait()
    worker.stop()
    await running


class NoHints:
    """A broker that gives no arrival hints, so that workers find messages by polling."""

    def __init__(self, broker: Any) -> None:
        self._broker = broker

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)

    def arrivals(self) -> None:
        return None


def gated_jobs(client: JobClient, count: int) -> list[asyncio.Event]:
    """Register ``gate``: job ``i`` runs until the ``i``-th event is set."""
    gates = [asyncio.Event() for _ in range(count)]

    @client.registry.job(name="gate")
    async def gate(request: int) -> None:
        await gates[request].wait()

    return gates


async def finish(worker: Worker, running: asyncio.Task[None], gates: list[asyncio.Event]) -> None:
    for gate in gates:
        gate.set()
    worker.stop()
    async with asyncio.timeout(PATIENCE):
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
    *,
    hints: bool = True,
    **settings: Any,
) -> Worker:
    pipeline = Pipeline(
        client.repository,
        client.broker if hints else NoHints(client.broker),
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
    gates = gated_jobs(client, 12)
    for index in range(12):
        await client.queue_job("gate", index, owner="a")
    queue = CountedQueue(client.broker.queue("jobs"))
    worker = worker_for(client, [queue], concurrency=8, fetch_threshold=7)
    running = asyncio.create_task(worker.run())
    await until(lambda: queue.received == [8], "the first receive filling the 8 slots")

    gates[0].set()  # one slot frees: it is filled with one message
    await until(lambda: len(queue.received) >= 2, "a second receive")
    assert queue.received == [8, 1]
    gates[1].set()
    await until(lambda: len(queue.received) >= 3, "a third receive")
    assert queue.received == [8, 1, 1]
    await finish(worker, running, gates)

    assert queue.asked[:3] == [8, 1, 1]


async def test_an_empty_band_is_asked_again_only_after_its_pause(client: JobClient) -> None:
    for index in range(40):
        await client.queue_job("nap", index, owner="a")
    high, normal = (CountedQueue(client.broker.queue(n)) for n in client.queues.bands[:2])
    worker = worker_for(
        client, [high, normal], concurrency=1, poll_max=timedelta(seconds=10), fairness=1000
    )

    loop = asyncio.get_running_loop()
    began = loop.time()
    await run_until_done(client, worker, 40)
    elapsed = loop.time() - began

    assert sum(normal.received) == 40
    # The other band keeps the worker busy for 40 fetches; the empty band is not asked at
    # each of them: its pause doubles from 5 ms, so n asks take at least 5 ms * (2^(n-1) - 1).
    most = 1 + math.floor(math.log2(elapsed / 0.005 + 1))
    assert high.received  # asked at least once
    assert len(high.received) <= most < 40


async def test_an_urgent_job_is_still_found_while_its_band_rests(client: JobClient) -> None:
    high, *others = (CountedQueue(client.broker.queue(n)) for n in client.queues.bands)
    worker = worker_for(client, [high, *others], poll_max=timedelta(milliseconds=50), hints=False)
    started = asyncio.Event()

    async def note(job: QueuedJob) -> None:
        if job.status is JobStatus.SUCCEEDED:
            started.set()

    worker.pipeline.add_listener(note)
    running = asyncio.create_task(worker.run())
    # Every band is empty; after 12 empty answers an uncapped pause would be 5 ms * 2^12,
    # about 20 s; capped, it stays at 50 ms.
    await until(lambda: len(high.received) >= 12, "12 empty answers from the urgent band")
    began = asyncio.get_running_loop().time()
    job = await client.queue_job("nap", 1, owner="a", priority=Priority.HIGH)
    async with asyncio.timeout(PATIENCE):
        await started.wait()
    took = asyncio.get_running_loop().time() - began
    worker.stop()
    await running

    assert (await client.get_job(job.id)).status is JobStatus.SUCCEEDED
    assert took < 10  # found by a poll of the resting band, not after a 20 s pause


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


@pytest.mark.parametrize(
    ("lease", "renewed_first"),
    [(timedelta(seconds=1.5), True), (timedelta(minutes=10), False)],
    ids=["held-past-a-heartbeat", "held-briefly"],
)
async def test_held_messages_that_waited_long_are_renewed_before_they_start(
    client: JobClient, lease: timedelta, renewed_first: bool
) -> None:
    gates = gated_jobs(client, 2)
    for index in range(2):
        await client.queue_job("gate", index, owner="a")
    queue = CountedQueue(client.broker.queue("jobs"))
    # The heartbeat is a third of the lease: 0.5 s, or 200 s.
    worker = worker_for(client, [queue], ExecutionSettings(lease=lease), concurrency=1, prefetch=1)
    starts: list[str] = []

    async def note(job: QueuedJob) -> None:
        if job.status is JobStatus.RUNNING:
            starts.append(job.id)

    worker.pipeline.add_listener(note)
    loop = asyncio.get_running_loop()
    running = asyncio.create_task(worker.run())
    await until(lambda: len(starts) == 1 and len(worker._held) == 1, "one running, one held")
    held_message, received_at = worker._held[0][1], worker._held[0][2]
    await until(lambda: loop.time() - received_at > 0.6, "the held message waiting 0.6 s")
    renewals_before = queue.renewed.count(held_message.id)
    gates[0].set()
    await until(lambda: len(starts) == 2, "the held job starting")
    await finish(worker, running, gates)

    renewed_at_start = queue.renewed.count(held_message.id) > renewals_before
    assert renewals_before == 0
    assert renewed_at_start is renewed_first


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
    await until(lambda: len(worker._held) == 3, "three messages held beside the running one")

    worker.stop()
    await until(lambda: queue.renewals.count(timedelta(0)) == 3, "three messages handed back")
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
    resting = {"poll_min": timedelta(seconds=120), "poll_max": timedelta(seconds=120)}
    worker = worker_for(client, [queue], concurrency=1, prefetch=3, **resting)

    async with asyncio.timeout(60):  # no 120 s rest between held jobs
        await run_until_done(client, worker, 4)

    assert sum(queue.received) == 4
