"""Nothing that happens to one receive or one message ends the worker's receive loop."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.execution.pipeline import Pipeline
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.queues.base import JobQueue, QueueMessage
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry
from queued_jobs.worker import Worker, WorkerSettings
from tests.support.waiting import forever


class FailingOnce:
    """A queue whose next ``receive`` (or ``ack``) raises ``error`` once."""

    def __init__(self, queue: JobQueue, *, receive: BaseException | None = None) -> None:
        self._queue = queue
        self.receive_error = receive
        self.ack_error: BaseException | None = None
        self.receives = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)

    async def receive(self, **options: Any) -> list[QueueMessage]:
        self.receives += 1
        if self.receive_error is not None:
            error, self.receive_error = self.receive_error, None
            raise error
        return await self._queue.receive(**options)

    async def ack(self, message: QueueMessage) -> None:
        if self.ack_error is not None:
            error, self.ack_error = self.ack_error, None
            raise error
        await self._queue.ack(message)


@pytest.fixture
def client() -> JobClient:
    registry = JobRegistry()

    @registry.job(name="echo")
    async def echo(request: int) -> int:
        return request

    @registry.job(name="exit")
    async def exit_(request: int) -> int:
        raise SystemExit(request)

    @registry.job(name="exit-in-thread")
    def exit_in_thread(request: int) -> int:
        raise SystemExit(request)

    clock = ManualClock()
    return JobClient(
        MemoryJobRepository(clock=clock), MemoryQueueBroker(clock=clock), registry, clock=clock
    )


def worker_for(client: JobClient, queue: FailingOnce) -> Worker:
    pipeline = Pipeline(
        client.repository, client.broker, client.registry, host="test:1", clock=client.clock
    )
    settings = WorkerSettings(
        sweep_interval=None, poll_min=timedelta(milliseconds=5), poll_max=timedelta(milliseconds=50)
    )
    return Worker(pipeline, [queue], settings=settings)  # type: ignore[list-item]


async def run_until_succeeded(client: JobClient, worker: Worker, job: QueuedJob) -> None:
    running = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(20):
            while (await client.get_job(job.id)).status is not JobStatus.SUCCEEDED:
                if running.done():
                    running.result()  # the worker ended: say why
                    pytest.fail("the worker stopped by itself")
                await asyncio.sleep(0.01)
    finally:
        worker.stop()
        async with asyncio.timeout(20):
            await running


@pytest.mark.parametrize(
    "error",
    [ValueError("Invalid base64-encoded string"), RuntimeError("boom"), KeyError("x")],
    ids=["value-error", "runtime-error", "key-error"],
)
async def test_a_receive_that_raises_anything_does_not_end_the_worker(
    client: JobClient, error: Exception
) -> None:
    queue = FailingOnce(client.broker.queue("jobs"), receive=error)
    job = await client.queue_job("echo", 7, owner="a")

    await run_until_succeeded(client, worker_for(client, queue), job)

    assert queue.receives >= 2
    assert (await client.get_job(job.id)).result == 7


async def test_a_settle_that_raises_anything_leaves_the_message_and_the_worker_goes_on(
    client: JobClient,
) -> None:
    queue = FailingOnce(client.broker.queue("jobs"))
    queue.ack_error = ValueError("not what any adapter raises")
    first = await client.queue_job("echo", 1, owner="a")
    second = await client.queue_job("echo", 2, owner="a")

    await run_until_succeeded(client, worker_for(client, queue), second)

    assert (await client.get_job(first.id)).status is JobStatus.SUCCEEDED


@pytest.mark.parametrize("job_type", ["exit", "exit-in-thread"])
async def test_a_job_raising_system_exit_fails_and_the_worker_goes_on(
    client: JobClient, job_type: str
) -> None:
    queue = FailingOnce(client.broker.queue("jobs"))
    exiting = await client.queue_job(job_type, 3, owner="a", max_attempts=1)
    after = await client.queue_job("echo", 4, owner="a")

    await run_until_succeeded(client, worker_for(client, queue), after)

    failed = await client.get_job(exiting.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert "SystemExit(3)" in failed.error.message


class Stalled:
    """A queue whose receives wait until ``answer`` is set (storage that does not answer)."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue
        self.asked = asyncio.Event()
        self.answer = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)

    async def receive(self, **options: Any) -> list[QueueMessage]:
        self.asked.set()
        await self.answer.wait()
        return await self._queue.receive(**options)


async def test_a_stop_does_not_wait_for_a_receive_and_hands_back_what_it_brings_late(
    client: JobClient, caplog: pytest.LogCaptureFixture
) -> None:
    queue = Stalled(client.broker.queue("jobs"))
    job = await client.queue_job("echo", 5, owner="a")
    pipeline = Pipeline(
        client.repository, client.broker, client.registry, host="test:1", clock=client.clock
    )
    settings = WorkerSettings(
        sweep_interval=None,
        shutdown_grace=timedelta(seconds=30),
        slow_storage_warning=timedelta(milliseconds=20),
    )
    worker = Worker(pipeline, [queue], settings=settings)  # type: ignore[list-item]
    running = asyncio.create_task(worker.run())
    async with asyncio.timeout(20):
        await queue.asked.wait()
        while "has been retrying for" not in caplog.text:  # noqa: ASYNC110 - a log line
            await asyncio.sleep(0.01)

    worker.stop()
    queue.answer.set()  # storage answers at last, after the stop
    async with asyncio.timeout(20):
        await running

    assert (await client.get_job(job.id)).status is JobStatus.QUEUED  # never started
    [again] = await client.broker.queue("jobs").receive()  # handed back: visible at once
    assert again.dequeue_count == 2


async def test_an_idle_worker_does_not_wait_its_whole_grace_for_a_receive_that_never_ends(
    client: JobClient,
) -> None:
    queue = Stalled(client.broker.queue("jobs"))  # storage never answers
    pipeline = Pipeline(
        client.repository, client.broker, client.registry, host="test:1", clock=client.clock
    )
    settings = WorkerSettings(sweep_interval=None, shutdown_grace=timedelta(seconds=120))
    worker = Worker(pipeline, [queue], settings=settings)  # type: ignore[list-item]
    running = asyncio.create_task(worker.run())
    async with asyncio.timeout(20):
        await queue.asked.wait()
    loop = asyncio.get_running_loop()
    stopped = loop.time()

    worker.stop()
    async with asyncio.timeout(130):
        await running

    # Nothing runs, nothing is held: it gives the receive a few seconds, not the 120 s grace.
    assert loop.time() - stopped < 60


async def test_a_second_stop_halts_running_jobs_without_waiting_for_the_grace(
    client: JobClient,
) -> None:
    started = asyncio.Event()

    @client.registry.job(name="long")
    async def long(request: int) -> None:
        started.set()
        await forever()

    job = await client.queue_job("long", 0, owner="a")
    pipeline = Pipeline(
        client.repository, client.broker, client.registry, host="test:1", clock=client.clock
    )
    settings = WorkerSettings(sweep_interval=None, shutdown_grace=timedelta(seconds=600))
    worker = Worker(pipeline, [client.broker.queue("jobs")], settings=settings)
    running = asyncio.create_task(worker.run())
    async with asyncio.timeout(20):
        await started.wait()
    worker.stop()
    worker.stop()  # Ctrl-C again
    async with asyncio.timeout(20):
        await running

    assert [a.outcome for a in await client.list_attempts(job.id)] == ["released"]
    assert (await client.get_job(job.id)).status is JobStatus.QUEUED
