"""The client and the pipeline on in-memory storage: rules that don't need a real store."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from queued_jobs.client import JobClient, JobSpec
from queued_jobs.clock import ManualClock
from queued_jobs.context import JobContext
from queued_jobs.errors import (
    ConfigurationError,
    DuplicateJob,
    EnqueueFailed,
    InvalidInput,
    MessageTooLarge,
    UnknownJobType,
)
from queued_jobs.execution.messages import encode_message
from queued_jobs.execution.pipeline import Disposition, Pipeline
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.models import AttemptOutcome, JobStatus, Priority, QueuedJob
from queued_jobs.queues.memory import MemoryJobQueue, MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.retry import RetryPolicy
from queued_jobs.runner import JobRegistry, JobRunner


class Order(BaseModel):
    item: str
    quantity: int


class Receipt(BaseModel):
    total: int


seen_statuses: list[tuple[str, JobStatus]] = []


class PlaceOrder(JobRunner[Order, Receipt]):
    job_type = "shop.place-order"
    max_attempts = 4

    async def on_execute(self, request: Order, context: JobContext) -> Receipt:
        for step in range(1, 6):
            await context.report_progress(step * 20, f"step {step}")
        return Receipt(total=request.quantity * 3)

    async def on_status_updated(self, job: QueuedJob) -> None:
        seen_statuses.append((job.id, job.status))
        raise RuntimeError("a broken listener must not undo anything")


@pytest.fixture
def registry() -> JobRegistry:
    registry = JobRegistry()
    registry.register(PlaceOrder)

    @registry.job(name="shop.ping")
    def ping(request: int) -> int:
        return request + 1

    return registry


@pytest.fixture
def stores() -> tuple[MemoryJobRepository, MemoryQueueBroker, ManualClock]:
    clock = ManualClock()
    return MemoryJobRepository(clock=clock), MemoryQueueBroker(clock=clock), clock


@pytest.fixture
def client(registry: JobRegistry, stores: Any) -> JobClient:
    repository, broker, clock = stores
    return JobClient(repository, broker, registry, clock=clock)


def pipeline_for(client: JobClient, **settings: Any) -> Pipeline:
    return Pipeline(
        client.repository,
        client.broker,
        client.registry,
        host="test:1",
        clock=client.clock,
        settings=ExecutionSettings(**settings),
    )


async def handle_next(client: JobClient, pipeline: Pipeline, queue: str = "jobs") -> Any:
    [message] = await client.broker.queue(queue).receive()
    return await pipeline.handle(message.body)


def test_job_types_register_under_stable_names_and_refuse_duplicates(
    registry: JobRegistry,
) -> None:
    assert registry.name_of(PlaceOrder) == "shop.place-order"
    assert registry.name_of("shop.ping") == "shop.ping"
    assert set(registry) == {"shop.place-order", "shop.ping"}
    with pytest.raises(ConfigurationError, match="already registered"):
        registry.register(PlaceOrder)
    with pytest.raises(UnknownJobType, match=r"'shop\.missing'.*registered: shop\.ping"):
        registry.name_of("shop.missing")


async def test_requests_are_validated_when_queued_not_when_run(client: JobClient) -> None:
    with pytest.raises(InvalidInput, match=r"invalid request for job type 'shop\.place-order'"):
        await client.queue_job(PlaceOrder, {"item": "tea"}, owner="alice")
    with pytest.raises(InvalidInput, match="invalid job options"):
        await client.queue_job(PlaceOrder, Order(item="tea", quantity=1), owner="bad\nowner")
    with pytest.raises(InvalidInput, match="not both"):
        await client.queue_job(
            "shop.ping", 1, owner="a", delay=timedelta(1), run_at=client.clock.now()
        )
    assert (await client.repository.list_jobs()).items == []


async def test_a_queued_job_carries_its_options_and_goes_to_its_band_queue(
    client: JobClient,
) -> None:
    job = await client.queue_job(
        PlaceOrder,
        Order(item="tea", quantity=2),
        owner="alice",
        priority=Priority.HIGH,
        correlation_id="req-9",
        tags=["web"],
        custom_data={"tenant": "contoso"},
    )

    assert (job.queue, job.max_attempts, job.request) == (
        "jobs-high",
        4,
        {"item": "tea", "quantity": 2},
    )
    assert (job.correlation_id, job.tags, job.custom_data) == (
        "req-9",
        ("web",),
        {"tenant": "contoso"},
    )
    [message] = await client.broker.queue("jobs-high").receive()
    assert message.body == encode_message(job, await client.repository.message_key())


async def test_the_status_hook_hears_every_transition_and_cannot_corrupt_it(
    client: JobClient,
) -> None:
    seen_statuses.clear()
    job = await client.queue_job(PlaceOrder, Order(item="tea", quantity=2), owner="alice")

    handled = await handle_next(client, pipeline_for(client))

    assert handled.disposition is Disposition.ACK
    assert [s for i, s in seen_statuses if i == job.id] == [JobStatus.RUNNING, JobStatus.SUCCEEDED]
    done = await client.get_job(job.id)
    assert (done.status, done.result) == (JobStatus.SUCCEEDED, {"total": 6})


async def test_progress_is_throttled_but_the_last_report_is_kept(client: JobClient) -> None:
    job = await client.queue_job(PlaceOrder, Order(item="tea", quantity=1), owner="alice")
    writes = 0
    update = client.repository.update

    async def counting_update(changed: QueuedJob, **kw: Any) -> QueuedJob:
        nonlocal writes
        writes += 1
        return await update(changed, **kw)

    client.repository.update = counting_update  # type: ignore[method-assign]
    await handle_next(client, pipeline_for(client, progress_interval=timedelta(hours=1)))

    done = await client.get_job(job.id)
    assert done.progress is not None
    assert (done.progress.percent, done.progress.message) == (100, "step 5")
    assert writes == 3  # claim, the first progress report, completion (with the last report)


async def test_a_job_of_an_unknown_type_or_with_a_stale_request_fails_at_once(
    client: JobClient, registry: JobRegistry
) -> None:
    stranger = QueuedJob.new(owner="a", job_type="other.app.job", now=client.clock.now())
    await client.repository.insert(stranger)
    await client.broker.queue("jobs").send(
        encode_message(stranger, await client.repository.message_key())
    )

    handled = await handle_next(client, pipeline_for(client))

    assert handled.disposition is Disposition.ACK
    failed = await client.get_job(stranger.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert "no job type 'other.app.job'" in failed.error.message


async def test_a_duplicate_unique_job_carries_the_existing_job_and_a_finished_one_frees_it(
    client: JobClient,
) -> None:
    first = await client.queue_job("shop.ping", 1, owner="a", unique_key="daily")
    with pytest.raises(DuplicateJob) as caught:
        await client.queue_job("shop.ping", 2, owner="a", unique_key="daily")
    assert caught.value.existing_job is not None
    assert caught.value.existing_job.id == first.id

    await handle_next(client, pipeline_for(client))
    second = await client.queue_job("shop.ping", 3, owner="a", unique_key="daily")

    assert second.id != first.id


async def test_batch_enqueue_stores_everything_then_sends_every_message(
    client: JobClient,
) -> None:
    specs = [JobSpec("shop.ping", i, owner=f"user-{i % 3}") for i in range(40)]

    jobs = await client.queue_jobs(specs)

    assert [j.request for j in jobs] == list(range(40))
    assert await client.broker.queue("jobs").depth() == 40
    with pytest.raises(DuplicateJob):
        await client.queue_jobs(
            [JobSpec("shop.ping", 1, unique_key="k"), JobSpec("shop.ping", 2, unique_key="k")]
        )
    assert len((await client.repository.list_jobs(limit=100)).items) == 40


async def test_a_message_that_cannot_be_sent_leaves_a_failed_job_and_an_error(
    client: JobClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(self: MemoryJobQueue, body: str, **kw: Any) -> str:
        raise MessageTooLarge(10**6, 10)

    monkeypatch.setattr(MemoryJobQueue, "send", refuse)

    with pytest.raises(EnqueueFailed) as caught:
        await client.queue_job("shop.ping", 1, owner="a", unique_key="u")

    failed = await client.get_job(caught.value.job_id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.type == "queued_jobs.EnqueueFailed"
    assert failed.unique_reservation is not None
    await client.repository.reserve_unique_key(failed.unique_reservation, "0" * 29)  # freed


async def test_inline_mode_runs_at_once_with_retries_and_without_their_delays(
    registry: JobRegistry, stores: Any
) -> None:
    repository, broker, clock = stores
    calls: list[int] = []

    @registry.job(name="shop.flaky", max_attempts=3, retry=RetryPolicy(first=timedelta(days=1)))
    async def flaky(request: int, context: JobContext) -> int:
        calls.append(context.attempt)
        if context.attempt < 3:
            raise ConnectionError("try again")
        return request

    client = JobClient(repository, broker, registry, clock=clock, inline=True)
    done = await client.queue_job("shop.flaky", 7, owner="a")

    assert (done.status, done.result, calls) == (JobStatus.SUCCEEDED, 7, [1, 2, 3])
    history = await repository.list_attempts(done.id)
    assert [a.outcome for a in history] == [
        AttemptOutcome.FAILED,
        AttemptOutcome.FAILED,
        AttemptOutcome.SUCCEEDED,
    ]
    assert await broker.queue("jobs").depth() == 0


async def test_retry_requeues_a_failed_job_with_more_attempts_and_keeps_history(
    client: JobClient, registry: JobRegistry
) -> None:
    @registry.job(name="shop.broken", max_attempts=1)
    def broken(request: int) -> int:
        raise ValueError("bad luck")

    job = await client.queue_job("shop.broken", 1, owner="a")
    pipeline = pipeline_for(client)
    await handle_next(client, pipeline)
    assert (await client.get_job(job.id)).status is JobStatus.FAILED

    again = await client.retry(job.id)
    await handle_next(client, pipeline)

    assert (again.status, again.max_attempts) == (JobStatus.QUEUED, 2)
    assert [a.number for a in await client.repository.list_attempts(job.id)] == [1, 2]


async def test_a_sync_job_reports_progress_from_its_thread(
    client: JobClient, registry: JobRegistry
) -> None:
    @registry.job(name="shop.sync-progress")
    def slow(request: int, context: JobContext) -> str:
        context.report_progress_sync(42, "from a thread")
        return "ok"

    job = await client.queue_job("shop.sync-progress", 1, owner="a")
    await handle_next(client, pipeline_for(client))

    done = await client.get_job(job.id)
    assert done.progress is not None
    assert (done.progress.percent, done.result) == (42, "ok")


async def test_the_worker_drains_urgent_bands_first_without_starving_the_others(
    client: JobClient,
) -> None:
    from queued_jobs.worker import Worker, WorkerSettings

    order: list[str] = []
    all_started = asyncio.Event()

    async def remember(job: QueuedJob) -> None:
        if job.status is JobStatus.RUNNING:
            order.append(job.priority.value)
            if len(order) == 15:
                all_started.set()

    pipeline = pipeline_for(client)
    pipeline.add_listener(remember)
    for _ in range(12):
        await client.queue_job("shop.ping", 1, owner="a", priority=Priority.HIGH)
    for _ in range(3):
        await client.queue_job("shop.ping", 1, owner="a", priority=Priority.LOW)
    queues = [client.broker.queue(n) for n in client.queues.bands]
    worker = Worker(pipeline, queues, settings=WorkerSettings(concurrency=1, fairness=4))

    running = asyncio.create_task(worker.run())
    async with asyncio.timeout(10):
        await all_started.wait()
    worker.stop()
    await running

    assert order[:3] == ["high"] * 3
    assert "low" in order[:8]  # every 4th fetch starts from the least urgent band
    assert order.count("low") == 3


async def test_a_result_that_cannot_be_stored_fails_the_job_instead_of_stranding_it(
    registry: JobRegistry,
) -> None:
    clock = ManualClock()
    repository = MemoryJobRepository(clock=clock, max_payload_bytes=1_000)
    client = JobClient(repository, MemoryQueueBroker(clock=clock), registry, clock=clock)

    @registry.job(name="shop.wrong-result")
    def wrong(request: int) -> Receipt:
        return "not a receipt"  # type: ignore[return-value]

    @registry.job(name="shop.huge-result")
    def huge(request: int) -> str:
        return "x" * 5_000

    wrong_job = await client.queue_job("shop.wrong-result", 1, owner="a")
    huge_job = await client.queue_job("shop.huge-result", 1, owner="a")
    pipeline = pipeline_for(client)
    for message in await client.broker.queue("jobs").receive():
        assert (await pipeline.handle(message.body)).disposition is Disposition.ACK

    for job_id, expected in ((wrong_job.id, "cannot be stored"), (huge_job.id, "5,002 bytes")):
        failed = await client.get_job(job_id)
        assert failed.status is JobStatus.FAILED
        assert failed.attempts == 1
        assert failed.error is not None
        assert expected in failed.error.message
        [attempt] = await repository.list_attempts(job_id)
        assert attempt.outcome is AttemptOutcome.FAILED


async def test_a_message_left_over_from_a_deleted_job_is_dropped_not_retried(
    client: JobClient, registry: JobRegistry
) -> None:
    @registry.job(name="shop.gone")
    def gone(request: int) -> int:
        return request

    job = await client.queue_job("shop.gone", 1, owner="a")
    await client.repository.delete(job.id)  # purged while its message waited

    handled = await handle_next(client, pipeline_for(client))

    assert (handled.disposition, handled.reason) == (Disposition.ACK, "job gone")
