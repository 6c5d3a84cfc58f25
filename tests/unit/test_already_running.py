"""Job types that do not run two jobs at once (``already_running``): each policy, on memory
and SQLite, with two pipelines (two workers) on one store and job code the test lets end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from queued_jobs import AlreadyRunning
from queued_jobs.app import JobApp, MemoryStorage, SqliteStorage, Storage
from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.context import JobContext
from queued_jobs.execution.already_running import WAITING, type_lease_name
from queued_jobs.execution.messages import decode_message
from queued_jobs.execution.pipeline import Disposition, Handled, Pipeline
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.models import AttemptOutcome, JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from tests.support.waiting import PATIENCE, until

LEASE = timedelta(seconds=30)
SETTINGS = ExecutionSettings(
    lease=LEASE, heartbeat=timedelta(milliseconds=10), stop_timeout=timedelta(seconds=5)
)
#: Settings under which no heartbeat comes during a test: the clock alone moves leases.
NO_HEARTBEAT = ExecutionSettings(lease=LEASE, heartbeat=timedelta(hours=1))
TYPES = {policy: f"exports.{policy.value}" for policy in AlreadyRunning}


@dataclass
class Gates:
    """Job code that runs until the test opens its gate: each attempt records its start and
    end (``(event, job id, attempt)``), so a test sees what ran and what overlapped."""

    events: list[tuple[str, str, int]] = field(default_factory=list)
    gates: dict[tuple[str, int], asyncio.Event] = field(default_factory=dict)

    def gate(self, job_id: str, attempt: int) -> asyncio.Event:
        return self.gates.setdefault((job_id, attempt), asyncio.Event())

    def open(self, job: QueuedJob, attempt: int = 1) -> None:
        self.gate(job.id, attempt).set()

    async def run(self, context: JobContext) -> str:
        key = (context.job.id, context.attempt)
        self.events.append(("start", *key))
        try:
            await self.gate(*key).wait()
        finally:
            self.events.append(("end", *key))
        return "done"

    def started(self, job: QueuedJob) -> list[int]:
        return [a for event, j, a in self.events if event == "start" and j == job.id]

    def running(self) -> int:
        """How many attempts run now."""
        return sum(1 if e == "start" else -1 for e, _, _ in self.events)

    def most_at_once(self) -> int:
        most = now = 0
        for event, _, _ in self.events:
            now += 1 if event == "start" else -1
            most = max(most, now)
        return most


@dataclass
class Fixture:
    app: JobApp
    clock: ManualClock
    gates: Gates
    client: JobClient
    pipelines: list[Pipeline] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def worker(self, settings: ExecutionSettings = SETTINGS) -> Pipeline:
        """A pipeline on connections of its own, as another worker's."""
        repository, broker = self.app.storage.open(self.clock)
        pipeline = Pipeline(
            repository,
            broker,
            self.app.registry,
            host=f"worker-{len(self.pipelines) + 1}:1",
            clock=self.clock,
            settings=settings,
        )
        self.pipelines.append(pipeline)
        return pipeline

    async def queue(self, policy: AlreadyRunning) -> QueuedJob:
        self.clock.advance(timedelta(milliseconds=5))  # jobs queued one after another
        return await self.client.queue_job(TYPES[policy], None, owner="ada")

    async def running(self, pipeline: Pipeline, job: QueuedJob) -> asyncio.Task[Handled]:
        """``job`` handled by ``pipeline`` in a task of its own, once its code started."""
        before = len(self.gates.started(job))
        task = asyncio.create_task(pipeline.handle_job(job.id))
        self.tasks.append(task)
        await until(
            lambda: len(self.gates.started(job)) > before or task.done(), f"{job.id} started"
        )
        assert not task.done(), task.result()
        return task

    async def holder(self, job_type: str) -> str | None:
        return await self.client.repository.lease_holder(
            type_lease_name(job_type), now=self.clock.now()
        )

    async def messages_of(self, job: QueuedJob) -> int:
        """How many messages naming ``job`` are visible on its queue now."""
        peeked = await self.client.broker.queue(job.queue).peek()
        return sum(decode_message(message.body).job_id == job.id for message in peeked)

    async def outcomes(self, job: QueuedJob) -> list[AttemptOutcome]:
        return [attempt.outcome for attempt in await self.client.list_attempts(job.id)]


async def ended(run: Awaitable[Handled]) -> JobStatus:
    """The status the handled job was left in."""
    handled = await run
    assert handled.job is not None, handled
    return handled.job.status


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Return once ``check()`` holds (a store read), failing the test after the patience."""
    async with asyncio.timeout(PATIENCE):
        while not await check():  # noqa: ASYNC110 - a store read: nothing signals it
            await asyncio.sleep(0.005)


def build_app(storage: Storage, clock: ManualClock, gates: Gates) -> JobApp:
    app = JobApp(storage, clock=clock, settings=SETTINGS)
    for policy, name in TYPES.items():

        async def export(request: None, context: JobContext) -> str:
            return await gates.run(context)

        app.job(export, name=name, already_running=policy)
    return app


@pytest.fixture(params=["memory", "sqlite"])
async def fx(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Fixture]:
    clock = ManualClock()
    storage: Storage = (
        MemoryStorage() if request.param == "memory" else SqliteStorage(str(tmp_path / "j.db"))
    )
    gates = Gates()
    app = build_app(storage, clock, gates)
    client = app.client()
    await client.create_storage()
    fixture = Fixture(app, clock, gates, client)
    yield fixture
    for gate in gates.gates.values():
        gate.set()
    async with asyncio.timeout(30):
        await asyncio.gather(*fixture.tasks, return_exceptions=True)
    for pipeline in fixture.pipelines:
        await pipeline.repository.close()
        await pipeline.broker.close()
    await client.close()


# --- allow ---------------------------------------------------------------------------


async def test_allow_runs_jobs_of_a_type_side_by_side_and_takes_no_lease(fx: Fixture) -> None:
    first, second = [await fx.queue(AlreadyRunning.ALLOW) for _ in range(2)]
    one, other = fx.worker(), fx.worker()

    runs = [await fx.running(one, first), await fx.running(other, second)]

    assert fx.gates.running() == 2
    assert await fx.holder(TYPES[AlreadyRunning.ALLOW]) is None
    fx.gates.open(first)
    fx.gates.open(second)
    assert [await ended(run) for run in runs] == [JobStatus.SUCCEEDED] * 2


# --- refuse --------------------------------------------------------------------------


async def test_refuse_fails_a_job_that_finds_another_of_its_type_running(fx: Fixture) -> None:
    first, second = [await fx.queue(AlreadyRunning.REFUSE) for _ in range(2)]
    one, other = fx.worker(), fx.worker()
    run = await fx.running(one, first)
    assert await fx.holder(first.job_type) == first.id

    refused = await other.handle_job(second.id)

    assert refused.disposition is Disposition.ACK
    failed = await fx.client.get_job(second.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.type == "queued_jobs.errors.JobAlreadyRunning"
    assert first.id in failed.error.message
    assert repr(first.job_type) in failed.error.message
    assert (failed.lease_owner, failed.completed_at) == (None, fx.clock.now())
    assert await fx.outcomes(second) == [AttemptOutcome.FAILED]
    assert fx.gates.started(second) == []  # its code never ran
    fx.gates.open(first)
    assert await ended(run) is JobStatus.SUCCEEDED
    assert await fx.holder(first.job_type) is None  # given back after its last write


async def test_refuse_runs_the_next_job_once_the_running_one_has_ended(fx: Fixture) -> None:
    first, second = [await fx.queue(AlreadyRunning.REFUSE) for _ in range(2)]
    worker = fx.worker()
    fx.gates.open(first)
    assert await ended(worker.handle_job(first.id)) is JobStatus.SUCCEEDED

    fx.gates.open(second)
    handled = await worker.handle_job(second.id)

    assert handled.job is not None
    assert handled.job.status is JobStatus.SUCCEEDED
    assert await fx.outcomes(second) == [AttemptOutcome.SUCCEEDED]


async def test_two_jobs_claimed_at_once_by_two_workers_let_exactly_one_run(fx: Fixture) -> None:
    for _ in range(5):  # a few rounds: either may win each
        jobs = [await fx.queue(AlreadyRunning.REFUSE) for _ in range(2)]
        workers = [fx.worker(), fx.worker()]
        runs = [asyncio.create_task(w.handle_job(j.id)) for w, j in zip(workers, jobs, strict=True)]
        fx.tasks += runs

        done, _ = await asyncio.wait(runs, timeout=30, return_when=asyncio.FIRST_COMPLETED)

        [refused] = [jobs[runs.index(task)] for task in done]
        [winner] = [job for job in jobs if job is not refused]
        assert (await fx.client.get_job(refused.id)).status is JobStatus.FAILED
        await until(lambda: bool(fx.gates.started(winner)), "the winner started")  # noqa: B023
        fx.gates.open(winner)
        await asyncio.gather(*runs)
        assert (await fx.client.get_job(winner.id)).status is JobStatus.SUCCEEDED
        assert fx.gates.started(refused) == []
    assert fx.gates.most_at_once() == 1


async def test_a_duplicate_message_of_the_running_job_leaves_it_and_its_lease_alone(
    fx: Fixture,
) -> None:
    job = await fx.queue(AlreadyRunning.REFUSE)
    run = await fx.running(fx.worker(), job)

    again = await fx.worker().handle_job(job.id)

    assert (again.disposition, again.reason) == (Disposition.RETRY_LATER, "running elsewhere")
    assert await fx.holder(job.job_type) == job.id
    assert fx.gates.started(job) == [1]
    fx.gates.open(job)
    assert await ended(run) is JobStatus.SUCCEEDED
    assert await fx.holder(job.job_type) is None


async def test_the_heartbeat_renews_the_types_lease_with_the_jobs(fx: Fixture) -> None:
    job = await fx.queue(AlreadyRunning.REFUSE)
    run = await fx.running(fx.worker(), job)

    for _ in range(3):  # well past the first lease, a part of a lease at a time
        fx.clock.advance(LEASE * 0.6)
        later = fx.clock.now() + LEASE * 0.5  # past what the lease was before this step

        async def renewed() -> bool:
            holder = type_lease_name(job.job_type)
            return await fx.client.repository.lease_holder(holder, now=later) == job.id  # noqa: B023

        await eventually(renewed, "a heartbeat renewing the lease")

    fx.gates.open(job)
    assert await ended(run) is JobStatus.SUCCEEDED
    assert await fx.holder(job.job_type) is None


# --- skip ----------------------------------------------------------------------------


async def test_skip_cancels_a_job_that_finds_another_of_its_type_running(fx: Fixture) -> None:
    first, second = [await fx.queue(AlreadyRunning.SKIP) for _ in range(2)]
    run = await fx.running(fx.worker(), first)

    skipped = await fx.worker().handle_job(second.id)

    assert skipped.disposition is Disposition.ACK
    cancelled = await fx.client.get_job(second.id)
    assert (cancelled.status, cancelled.completed_at) == (JobStatus.CANCELLED, fx.clock.now())
    assert cancelled.error is not None
    assert cancelled.error.type == "queued_jobs.Skipped"
    assert f"job {first.id}" in cancelled.error.message
    assert await fx.outcomes(second) == [AttemptOutcome.CANCELLED]
    assert fx.gates.started(second) == []
    assert not (await fx.client.get_job(first.id)).cancel_requested  # the running one runs on
    fx.gates.open(first)
    assert await ended(run) is JobStatus.SUCCEEDED


# --- replace -------------------------------------------------------------------------


async def test_replace_stops_the_running_job_and_starts_once_it_has_stopped(
    fx: Fixture,
) -> None:
    first, second = [await fx.queue(AlreadyRunning.REPLACE) for _ in range(2)]
    run = await fx.running(fx.worker(), first)
    other = fx.worker()

    assert await fx.messages_of(second) == 1  # the one queue_job sent

    waiting = await other.handle_job(second.id)

    assert (waiting.disposition, waiting.reason) == (Disposition.ACK, WAITING)
    handed_back = await fx.client.get_job(second.id)
    assert (handed_back.status, handed_back.lease_owner) == (JobStatus.QUEUED, None)
    delay = timedelta(seconds=1)
    assert handed_back.run_at == fx.clock.now() + delay
    assert await fx.messages_of(second) == 1  # and a new one, visible once the delay is up
    [released] = await fx.client.list_attempts(second.id)
    assert released.outcome is AttemptOutcome.RELEASED  # not charged
    assert released.error is not None
    assert f"job {first.id}" in released.error.message
    assert await ended(run) is JobStatus.CANCELLED  # told at its next heartbeat
    assert await fx.outcomes(first) == [AttemptOutcome.CANCELLED]
    assert await fx.holder(first.job_type) is None

    fx.clock.advance(delay)
    assert await fx.messages_of(second) == 2
    started = await fx.running(other, second)
    fx.gates.open(second, attempt=2)

    assert await ended(started) is JobStatus.SUCCEEDED
    assert await fx.outcomes(second) == [AttemptOutcome.RELEASED, AttemptOutcome.SUCCEEDED]
    assert fx.gates.events == [
        ("start", first.id, 1),
        ("end", first.id, 1),
        ("start", second.id, 2),
        ("end", second.id, 2),
    ]


async def test_replace_never_stops_a_job_queued_after_it_but_gives_way(fx: Fixture) -> None:
    older, newer = [await fx.queue(AlreadyRunning.REPLACE) for _ in range(2)]
    run = await fx.running(fx.worker(), newer)

    handled = await fx.worker().handle_job(older.id)

    assert handled.disposition is Disposition.ACK
    replaced = await fx.client.get_job(older.id)
    assert replaced.status is JobStatus.CANCELLED
    assert replaced.error is not None
    assert replaced.error.type == "queued_jobs.Replaced"
    assert f"job {newer.id}" in replaced.error.message
    assert await fx.outcomes(older) == [AttemptOutcome.CANCELLED]
    assert not (await fx.client.get_job(newer.id)).cancel_requested
    fx.gates.open(newer)
    assert await ended(run) is JobStatus.SUCCEEDED


async def test_replace_also_stops_older_jobs_of_its_type_that_run_without_the_lease(
    fx: Fixture,
) -> None:
    job_type = TYPES[AlreadyRunning.REPLACE]
    stray = await _running_without_the_lease(fx, job_type)  # started while the type allowed it
    holder = await fx.queue(AlreadyRunning.REPLACE)
    run = await fx.running(fx.worker(), holder)
    replacing = await fx.queue(AlreadyRunning.REPLACE)
    later_stray = await _running_without_the_lease(fx, job_type)

    waiting = await fx.worker().handle_job(replacing.id)

    assert waiting.reason == WAITING
    assert (await fx.client.get_job(stray.id)).cancel_requested
    assert not (await fx.client.get_job(later_stray.id)).cancel_requested  # queued after it
    assert await ended(run) is JobStatus.CANCELLED


async def _running_without_the_lease(fx: Fixture, job_type: str) -> QueuedJob:
    fx.clock.advance(timedelta(milliseconds=5))
    queued = await fx.client.queue_job(job_type, None, owner="bob")
    now = fx.clock.now()
    claimed = queued.transition(
        JobStatus.RUNNING,
        now=now,
        attempts=1,
        attempt_started_at=now,
        lease_owner="old-worker:1",
        lease_expires_at=now + LEASE,
    )
    return await fx.client.repository.update(claimed)


# --- leases left behind, crashes and takeovers -----------------------------------------


async def test_a_lease_left_by_a_job_that_ended_is_waited_out_with_growing_pauses(
    fx: Fixture,
) -> None:
    ended_job, waiting = [await fx.queue(AlreadyRunning.REFUSE) for _ in range(2)]
    worker = fx.worker()
    fx.gates.open(ended_job)
    assert await ended(worker.handle_job(ended_job.id)) is JobStatus.SUCCEEDED
    # its worker died between its last write and giving the lease back
    now = fx.clock.now()
    name = type_lease_name(ended_job.job_type)
    assert await fx.client.repository.take_lease(name, ended_job.id, now=now, until=now + LEASE)

    for attempt in range(1, 10):
        fx.gates.open(waiting, attempt)
    delays = []
    # the message's pause left to the caller, as inline mode does
    while (handled := await worker.handle_job(waiting.id, send_retries=False)).reason == WAITING:
        assert handled.disposition is Disposition.RETRY_LATER
        assert handled.job is not None
        assert handled.job.status is JobStatus.QUEUED
        delays.append(handled.delay.total_seconds())
        fx.clock.advance(handled.delay)

    assert delays == [1, 2, 4, 8, 15]  # 30 s: the lease's time, run out
    assert handled.job is not None
    assert handled.job.status is JobStatus.SUCCEEDED
    outcomes = await fx.outcomes(waiting)
    assert outcomes == [AttemptOutcome.RELEASED] * 5 + [AttemptOutcome.SUCCEEDED]
    [first_wait, *_] = await fx.client.list_attempts(waiting.id)
    assert first_wait.error is not None
    assert f"job {ended_job.id}" in first_wait.error.message


async def test_a_job_taken_over_from_a_dead_worker_takes_its_types_lease_again(
    fx: Fixture,
) -> None:
    job, refused = [await fx.queue(AlreadyRunning.REFUSE) for _ in range(2)]
    dead = fx.worker(NO_HEARTBEAT)  # it stops renewing anything: as if it died
    first_run = await fx.running(dead, job)
    name = type_lease_name(job.job_type)
    now = fx.clock.now()  # the type's lease is renewed after the record's: it ends later
    assert await fx.client.repository.take_lease(name, job.id, now=now, until=now + 2 * LEASE)
    fx.clock.advance(LEASE)

    second_run = await fx.running(fx.worker(), job)  # the job's lease ran out: taken over
    assert fx.gates.started(job) == [1, 2]
    assert await fx.holder(job.job_type) == job.id
    assert await ended(fx.worker().handle_job(refused.id)) is JobStatus.FAILED

    fx.gates.open(job, attempt=1)  # the dead worker's attempt ends: it lost the job
    assert (await first_run).reason == "taken over by another worker"
    assert await fx.holder(job.job_type) == job.id  # not given back: the new attempt has it
    fx.gates.open(job, attempt=2)
    assert await ended(second_run) is JobStatus.SUCCEEDED
    assert await fx.outcomes(job) == [AttemptOutcome.ABANDONED, AttemptOutcome.SUCCEEDED]
    assert await fx.holder(job.job_type) is None


async def test_a_holder_whose_worker_died_lets_the_next_job_run_once_its_lease_ran_out(
    fx: Fixture,
) -> None:
    job, later = [await fx.queue(AlreadyRunning.REFUSE) for _ in range(2)]
    await fx.running(fx.worker(NO_HEARTBEAT), job)
    fx.clock.advance(LEASE)  # the job's lease and its type's ran out together

    run = await fx.running(fx.worker(), later)

    assert await fx.holder(job.job_type) == later.id
    fx.gates.open(later)
    assert await ended(run) is JobStatus.SUCCEEDED


# --- costs and hosts -------------------------------------------------------------------


async def test_allow_asks_the_store_nothing_and_the_others_a_take_and_a_give_back() -> None:
    clock = ManualClock()
    repository = CountingRepository(clock=clock)
    gates = Gates()
    app = build_app(MemoryStorage(), clock, gates)
    client = JobClient(repository, MemoryQueueBroker(clock=clock), app.registry, clock=clock)
    pipeline = Pipeline(
        repository, client.broker, app.registry, host="w:1", clock=clock, settings=NO_HEARTBEAT
    )
    counts: dict[AlreadyRunning, int] = {}
    for policy in AlreadyRunning:
        job = await client.queue_job(TYPES[policy], None, owner="ada")
        gates.open(job)
        repository.lease_calls = 0
        assert await ended(pipeline.handle_job(job.id)) is JobStatus.SUCCEEDED
        counts[policy] = repository.lease_calls

    assert counts == {
        AlreadyRunning.ALLOW: 0,
        AlreadyRunning.REFUSE: 2,
        AlreadyRunning.SKIP: 2,
        AlreadyRunning.REPLACE: 2,
    }


class CountingRepository(MemoryJobRepository):
    lease_calls = 0

    async def take_lease(self, name: str, holder: str, *, now: datetime, until: datetime) -> bool:
        self.lease_calls += 1
        return await super().take_lease(name, holder, now=now, until=until)

    async def lease_holder(self, name: str, *, now: datetime) -> str | None:
        self.lease_calls += 1
        return await super().lease_holder(name, now=now)


async def test_inline_mode_waits_for_the_job_it_replaces_without_spinning(fx: Fixture) -> None:
    inline = JobClient(
        fx.client.repository,
        fx.client.broker,
        fx.app.registry,
        clock=fx.clock,
        settings=SETTINGS,
        inline=True,
    )
    first = await fx.queue(AlreadyRunning.REPLACE)
    run = await fx.running(fx.worker(), first)
    fx.clock.advance(timedelta(milliseconds=5))
    second = asyncio.create_task(inline.queue_job(TYPES[AlreadyRunning.REPLACE], None, owner="ada"))
    fx.tasks.append(second)

    assert await ended(run) is JobStatus.CANCELLED
    await until(lambda: fx.gates.running() == 1, "the replacing job's start")
    [(_, job_id, attempt)] = [e for e in fx.gates.events if e[1] != first.id]
    fx.gates.gate(job_id, attempt).set()
    done = await second

    assert done.status is JobStatus.SUCCEEDED
    outcomes = await fx.outcomes(done)
    assert outcomes[-1] is AttemptOutcome.SUCCEEDED
    assert set(outcomes[:-1]) == {AttemptOutcome.RELEASED}
    assert len(outcomes) <= 5  # a pause between tries, not a loop
