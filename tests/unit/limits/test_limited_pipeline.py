"""Jobs with limits through the pipeline, on one store with two pipelines (two hosts) and
job code the test lets end: a job over a concurrency limit is parked and woken by the
first to end; a job over a rate comes back at its turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from queued_jobs.app import JobApp, MemoryStorage, Storage
from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.context import JobContext
from queued_jobs.execution.messages import decode_message
from queued_jobs.execution.pipeline import Disposition, Handled, Pipeline
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.limits import ConcurrencyLimit, LimitSettings, RateLimit, by_request
from queued_jobs.limits.keeper import JobGate
from queued_jobs.limits.sweep import IDLE_FOR, LimitSweeper
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.models.waiting import WaitKind
from tests.support.waiting import until

LEASE = timedelta(seconds=30)
SETTINGS = ExecutionSettings(lease=LEASE, heartbeat=timedelta(hours=1))
EXPORTS = ConcurrencyLimit("exports", 2)
PER_CUSTOMER = ConcurrencyLimit("per-customer", 1, key=by_request("customer"))
CALLS = RateLimit("calls", 2, per=timedelta(seconds=10))


@dataclass
class Holds:
    """Job code that runs until the test lets it end."""

    started: list[str] = field(default_factory=list)
    ends: dict[str, asyncio.Event] = field(default_factory=dict)

    def end(self, job: QueuedJob) -> None:
        self.ends.setdefault(job.id, asyncio.Event()).set()

    async def run(self, context: JobContext) -> str:
        self.started.append(context.job.id)
        await self.ends.setdefault(context.job.id, asyncio.Event()).wait()
        return "done"


@dataclass
class Fixture:
    app: JobApp
    clock: ManualClock
    holds: Holds
    client: JobClient
    pipelines: list[Pipeline] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def worker(self) -> Pipeline:
        repository, broker = self.app.storage.open(self.clock)
        pipeline = Pipeline(
            repository,
            broker,
            self.app.registry,
            host=f"worker-{len(self.pipelines) + 1}:1",
            clock=self.clock,
            settings=SETTINGS,
        )
        self.pipelines.append(pipeline)
        return pipeline

    async def queue(self, job_type: str, request: Any = None) -> QueuedJob:
        self.clock.advance(timedelta(milliseconds=5))
        return await self.client.queue_job(job_type, request, owner="ada")

    async def running(self, pipeline: Pipeline, job: QueuedJob) -> asyncio.Task[Handled]:
        task = asyncio.create_task(pipeline.handle_job(job.id))
        self.tasks.append(task)
        await until(lambda: job.id in self.holds.started or task.done(), f"{job.id} started")
        assert not task.done(), task.result()
        return task

    async def messages_of(self, job: QueuedJob) -> int:
        peeked = await self.client.broker.queue(job.queue).peek()
        return sum(decode_message(message.body).job_id == job.id for message in peeked)

    async def get(self, job: QueuedJob) -> QueuedJob:
        return await self.client.get_job(job.id)


def build_app(storage: Storage, clock: ManualClock, holds: Holds) -> JobApp:
    app = JobApp(storage, clock=clock, settings=SETTINGS)

    async def export(request: Any, context: JobContext) -> str:
        return await holds.run(context)

    app.job(export, name="exports.build", limits=[EXPORTS])
    app.job(export, name="exports.customer", limits=[PER_CUSTOMER])
    app.job(export, name="calls.make", limits=[CALLS])
    app.job(export, name="plain")
    return app


@pytest.fixture(params=["memory", "sqlite"])
async def fx(request: pytest.FixtureRequest) -> AsyncIterator[Fixture]:
    clock = ManualClock()
    storage: Storage = MemoryStorage()
    holds = Holds()
    app = build_app(storage, clock, holds)
    client = app.client()
    await client.create_storage()
    fixture = Fixture(app, clock, holds, client)
    yield fixture
    for event in holds.ends.values():
        event.set()
    async with asyncio.timeout(30):
        await asyncio.gather(*fixture.tasks, return_exceptions=True)
    await client.close()


async def test_a_job_over_a_concurrency_limit_is_parked_and_woken_by_the_first_to_end(
    fx: Fixture,
) -> None:
    first, second, third = [await fx.queue("exports.build") for _ in range(3)]
    one, other = fx.worker(), fx.worker()
    runs = [await fx.running(one, first), await fx.running(other, second)]

    parked = await one.handle_job(third.id)

    assert parked.disposition is Disposition.ACK, parked
    stored = await fx.get(third)
    assert stored.status is JobStatus.QUEUED
    assert stored.attempts == 0
    assert stored.waiting is not None
    assert stored.waiting.kind is WaitKind.CONCURRENCY
    assert stored.waiting.limit == "exports"
    assert "2 of 2 running" in stored.waiting.reason
    assert await fx.client.list_attempts(third.id) == []
    before = await fx.messages_of(third)

    fx.holds.end(second)
    assert (await runs[1]).job.status is JobStatus.SUCCEEDED  # type: ignore[union-attr]
    assert await fx.messages_of(third) == before + 1  # woken

    run = await fx.running(other, third)
    ran = await fx.get(third)
    assert ran.status is JobStatus.RUNNING
    assert ran.waiting is None
    fx.holds.end(first)
    fx.holds.end(third)
    assert [(await r).job.status for r in (runs[0], run)] == [JobStatus.SUCCEEDED] * 2  # type: ignore[union-attr]


async def test_each_key_of_a_limit_has_its_own_places(fx: Fixture) -> None:
    acme = [await fx.queue("exports.customer", {"customer": "acme"}) for _ in range(2)]
    globex = await fx.queue("exports.customer", {"customer": "globex"})
    worker = fx.worker()
    await fx.running(worker, acme[0])
    await fx.running(worker, globex)

    parked = await worker.handle_job(acme[1].id)

    assert parked.reason.startswith("parked"), parked
    waiting = (await fx.get(acme[1])).waiting
    assert waiting is not None
    assert waiting.key == "acme"


async def test_a_place_whose_holder_died_goes_to_a_parked_job_once_it_runs_out(
    fx: Fixture,
) -> None:
    holder, waiter = [await fx.queue("exports.customer", {"customer": "acme"}) for _ in range(2)]
    dead, alive = fx.worker(), fx.worker()
    await fx.running(dead, holder)  # its heartbeat never comes: as a worker that died
    assert (await alive.handle_job(waiter.id)).reason.startswith("parked")
    gate = JobGate(PER_CUSTOMER, "acme")
    assert await alive.limits.wake_parked(gate) == 0  # the holder's place is live

    fx.clock.advance(LEASE + timedelta(seconds=1))

    assert await alive.limits.wake_parked(gate) == 1
    await fx.running(alive, waiter)


async def test_a_capacity_changed_at_run_time_applies_to_the_next_job(fx: Fixture) -> None:
    jobs = [await fx.queue("exports.build") for _ in range(3)]
    worker = fx.worker()
    await fx.running(worker, jobs[0])
    await fx.client.repository.limits.save_limit_settings(
        LimitSettings(limit="exports", capacity=1, updated_at=fx.clock.now())
    )
    worker.limits.forget_settings("exports")

    parked = await worker.handle_job(jobs[1].id)

    assert parked.reason.startswith("parked")
    assert "1 of 1 running" in parked.reason


async def test_a_job_cancelled_while_parked_passes_its_place_to_the_next(fx: Fixture) -> None:
    holder, cancelled, next_one = [
        await fx.queue("exports.customer", {"customer": "acme"}) for _ in range(3)
    ]
    worker = fx.worker()
    run = await fx.running(worker, holder)
    for job in (cancelled, next_one):
        assert (await worker.handle_job(job.id)).reason.startswith("parked")
    await fx.client.cancel(cancelled.id)

    fx.holds.end(holder)
    await run
    woken = await worker.handle_job(cancelled.id)  # its wake-up: it ended meanwhile

    assert woken.job is not None
    assert woken.job.status is JobStatus.CANCELLED
    assert await fx.messages_of(next_one) >= 1
    await fx.running(worker, next_one)


async def test_a_job_over_a_rate_comes_back_at_its_turn(fx: Fixture) -> None:
    jobs = [await fx.queue("calls.make") for _ in range(3)]
    worker = fx.worker()
    for job in jobs[:2]:
        await fx.running(worker, job)
    started = fx.clock.now()

    later = await worker.handle_job(jobs[2].id)

    assert later.disposition is Disposition.ACK, later
    waiting = (await fx.get(jobs[2])).waiting
    assert waiting is not None
    assert waiting.kind is WaitKind.RATE
    assert started + timedelta(seconds=9) < waiting.until <= started + timedelta(seconds=11)
    assert await fx.client.list_attempts(jobs[2].id) == []
    early = await worker.handle_job(jobs[2].id)  # a copy of its message, too early
    assert "turn" in early.reason
    assert fx.holds.started.count(jobs[2].id) == 0
    fx.clock.advance(waiting.until - fx.clock.now())
    await fx.running(worker, jobs[2])


async def test_a_key_function_that_fails_fails_its_job_saying_why(fx: Fixture) -> None:
    job = await fx.queue("exports.customer", {"client": "acme"})

    handled = await fx.worker().handle_job(job.id)

    assert handled.job is not None
    assert handled.job.status is JobStatus.FAILED
    assert handled.job.error is not None
    assert "customer" in handled.job.error.message


async def test_a_type_without_limits_stores_no_gate(fx: Fixture) -> None:
    job = await fx.queue("plain")
    worker = fx.worker()
    run = await fx.running(worker, job)
    fx.holds.end(job)
    await run

    page = await fx.client.repository.limits.list_gates()
    assert list(page.items) == []


async def test_gates_left_idle_are_removed_by_the_sweep_after_an_hour(fx: Fixture) -> None:
    job = await fx.queue("exports.build")
    worker = fx.worker()
    run = await fx.running(worker, job)
    fx.holds.end(job)
    await run
    sweeper = LimitSweeper(worker.limits, fx.app.registry, clock=fx.clock)
    limits = fx.client.repository.limits
    assert [g.limit for g in (await limits.list_gates()).items] == ["exports"]
    assert await sweeper.purge() == 0  # idle, but not for an hour yet

    fx.clock.advance(IDLE_FOR)

    assert await sweeper.purge() == 1
    assert list((await limits.list_gates()).items) == []
