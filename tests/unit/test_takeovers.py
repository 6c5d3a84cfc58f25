"""Jobs taken over from a worker that died: their lost attempt's own start, who is charged
for it, suspects running alone (worker) or spread (Functions), and how they are shown."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import pytest
from rich.console import Console

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.context import JobContext
from queued_jobs.execution.messages import encode_message
from queued_jobs.execution.pipeline import Disposition, Pipeline
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.models import Attempt, AttemptOutcome, JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry

LEASE = timedelta(seconds=10)


class Timeline(list[str]):
    """What the jobs did, in order; tests wait on it."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = asyncio.Event()
        #: Lets the ``t.block`` jobs end.
        self.release = asyncio.Event()

    def add(self, line: str) -> None:
        self.append(line)
        self._changed.set()

    async def reaches(self, length: int) -> None:
        async with asyncio.timeout(20):
            while len(self) < length:
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
def timeline() -> Timeline:
    return Timeline()


@pytest.fixture
def client(timeline: Timeline) -> JobClient:
    clock = ManualClock()
    registry = JobRegistry()

    @registry.job(name="t.step")
    async def step(request: float, context: JobContext) -> None:
        timeline.add(f"start {context.job.id}")
        await asyncio.sleep(request)
        timeline.add(f"end {context.job.id}")

    @registry.job(name="t.block")
    async def block(request: None, context: JobContext) -> None:
        timeline.add(f"start {context.job.id}")
        await timeline.release.wait()
        timeline.add(f"end {context.job.id}")

    return JobClient(
        MemoryJobRepository(clock=clock), MemoryQueueBroker(clock=clock), registry, clock=clock
    )


def pipeline_for(
    client: JobClient, host: str = "test:1", *, lease: timedelta = LEASE, **settings: Any
) -> Pipeline:
    return Pipeline(
        client.repository,
        client.broker,
        client.registry,
        host=host,
        clock=client.clock,
        settings=ExecutionSettings(lease=lease, **settings),
    )


def clock_of(client: JobClient) -> ManualClock:
    assert isinstance(client.clock, ManualClock)
    return client.clock


async def left_by_a_dead_worker(
    client: JobClient, job: QueuedJob, *, alone: bool = False, abandoned: int = 0
) -> QueuedJob:
    """``job`` as a worker that died while running it leaves it (after ``abandoned``
    earlier abandoned attempts beside other jobs): running, its lease expired."""
    clock = clock_of(client)
    for number in range(1, abandoned + 1):
        await client.repository.append_attempt(
            Attempt(
                job_id=job.id,
                number=number,
                started_at=clock.now(),
                ended_at=clock.now(),
                outcome=AttemptOutcome.ABANDONED,
                host="dead:0",
            )
        )
    stored = await client.repository.get(job.id)
    running = stored.transition(
        JobStatus.RUNNING,
        now=clock.now(),
        attempts=abandoned + 1,
        started_at=clock.now(),
        lease_owner="dead:1",
        lease_expires_at=clock.now() - timedelta(seconds=1),  # time moves for no one else
        **({"running_alone": True} if alone else {}),
    )
    return await client.repository.update(running)


# --- 12: the abandoned attempt's own start ------------------------------------------------


async def test_an_abandoned_attempt_starts_when_it_was_claimed_not_at_the_last_heartbeat(
    client: JobClient, timeline: Timeline
) -> None:
    clock = clock_of(client)
    job = await client.queue_job("t.block", None, owner="alice")
    claimed_at = clock.now()
    first = asyncio.create_task(pipeline_for(client, "doomed:1").handle_job(job.id))
    await timeline.reaches(1)
    first.cancel()  # the worker dies: nothing more is written
    await asyncio.gather(first, return_exceptions=True)
    for _ in range(3):  # heartbeats (and a sweep) touched the record meanwhile
        clock.advance(timedelta(seconds=5))
        running = await client.get_job(job.id)
        renewed = {"lease_expires_at": clock.now() + LEASE, "updated_at": clock.now()}
        await client.repository.update(running.model_copy(update=renewed))
    clock.advance(LEASE + timedelta(seconds=1))

    task = asyncio.create_task(pipeline_for(client, "heir:1").handle_job(job.id))
    await timeline.reaches(2)  # taken over: running again
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    [lost] = await client.repository.list_attempts(job.id)
    assert lost.outcome is AttemptOutcome.ABANDONED
    assert lost.started_at == claimed_at
    assert lost.ended_at == clock.now()


async def test_a_record_stored_before_attempts_kept_their_start_still_reads_and_is_taken_over(
    client: JobClient,
) -> None:
    job = await client.queue_job("t.step", 0.0, owner="alice")
    stale = await left_by_a_dead_worker(client, job)
    document = stale.model_dump(mode="json", exclude={"attempt_started_at", "running_alone"})
    old = QueuedJob.model_validate(document)  # as an older version stored it
    assert old.attempt_started_at is None

    handled = await pipeline_for(client).handle_job(job.id, old)

    assert handled.disposition is Disposition.ACK
    history = await client.repository.list_attempts(job.id)
    assert [a.outcome for a in history] == [AttemptOutcome.ABANDONED, AttemptOutcome.SUCCEEDED]
    assert history[0].started_at == stale.updated_at


# --- 8: who is charged for an abandoned attempt ----------------------------------------


async def test_abandons_beside_other_jobs_do_not_use_up_attempts(client: JobClient) -> None:
    job = await client.queue_job("t.step", 0.0, owner="alice", max_attempts=2)
    await left_by_a_dead_worker(client, job, abandoned=1)  # its second abandon

    handled = await pipeline_for(client).handle_job(job.id)

    assert handled.job is not None
    assert handled.job.status is JobStatus.SUCCEEDED
    outcomes = [a.outcome for a in await client.repository.list_attempts(job.id)]
    assert outcomes == ["abandoned", "abandoned", "succeeded"]


async def test_an_abandon_of_a_job_that_ran_alone_is_charged(client: JobClient) -> None:
    job = await client.queue_job("t.step", 0.0, owner="alice", max_attempts=1)
    await left_by_a_dead_worker(client, job, alone=True)

    handled = await pipeline_for(client).handle_job(job.id)

    failed = await client.get_job(job.id)
    assert handled.disposition is Disposition.ACK
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.type == "queued_jobs.LeaseExpired"
    [lost] = await client.repository.list_attempts(job.id)
    assert (lost.outcome, lost.alone) == (AttemptOutcome.ABANDONED, True)


async def test_free_abandons_are_bounded_so_a_job_that_always_shares_its_worker_still_ends(
    client: JobClient,
) -> None:
    job = await client.queue_job("t.step", 0.0, owner="alice", max_attempts=2)
    await left_by_a_dead_worker(client, job, abandoned=2)  # 3 abandons: 1 free, 2 charged

    await pipeline_for(client, uncharged_abandons=1).handle_job(job.id)

    assert (await client.get_job(job.id)).status is JobStatus.FAILED
    outcomes = [a.outcome for a in await client.repository.list_attempts(job.id)]
    assert outcomes == ["abandoned"] * 3


def test_charged_attempts_count_failures_alone_abandons_and_free_abandons_past_the_bound() -> None:
    from queued_jobs.execution.attempts import charged_attempts

    def attempt(number: int, outcome: AttemptOutcome, alone: bool = False) -> Attempt:
        now = ManualClock().now()
        return Attempt(
            job_id="0" * 28 + "0",
            number=number,
            started_at=now,
            outcome=outcome,
            host="h",
            alone=alone,
        )

    a, f, r = AttemptOutcome.ABANDONED, AttemptOutcome.FAILED, AttemptOutcome.RELEASED
    history = [attempt(1, a), attempt(2, r), attempt(3, f), attempt(4, a, alone=True)]
    assert charged_attempts(history, uncharged_abandons=3) == 2
    beside = [attempt(n, a) for n in range(1, 6)]
    assert charged_attempts(beside, uncharged_abandons=3) == 2
    assert charged_attempts(beside, uncharged_abandons=0) == 5
    assert charged_attempts([*beside, attempt(5, f)], uncharged_abandons=3) == 2  # one no. 5


# --- 8: suspects run alone on the worker, spread under Functions --------------------------


async def test_the_worker_runs_a_job_taken_over_from_a_dead_worker_with_nothing_beside_it(
    client: JobClient, timeline: Timeline
) -> None:
    from queued_jobs.worker import Worker, WorkerSettings

    before = [await client.queue_job("t.step", 0.2, owner=f"b{n}") for n in range(2)]
    suspect = await client.queue_job("t.step", 0.2, owner="suspect")
    after = [await client.queue_job("t.step", 0.2, owner=f"a{n}") for n in range(3)]
    await left_by_a_dead_worker(client, suspect)  # its message is still queued
    everyone = [*before, suspect, *after]
    pipeline = pipeline_for(client)
    queues = [client.broker.queue(name) for name in client.queues.bands]
    worker = Worker(
        pipeline, queues, settings=WorkerSettings(concurrency=8, takeover_interval=None)
    )

    running = asyncio.create_task(worker.run())
    await timeline.reaches(2 * len(everyone))
    worker.stop()
    await running

    start, end = timeline.index(f"start {suspect.id}"), timeline.index(f"end {suspect.id}")
    assert end == start + 1, timeline  # nothing started or ended while it ran
    others_before = [line for line in timeline[:start] if not line.endswith(suspect.id)]
    assert sum(line.startswith("start") for line in others_before) == sum(
        line.startswith("end") for line in others_before
    ), timeline  # and whatever ran before it had ended
    history = await client.repository.list_attempts(suspect.id)
    assert [(a.outcome, a.alone) for a in history] == [
        (AttemptOutcome.ABANDONED, False),
        (AttemptOutcome.SUCCEEDED, True),
    ]
    for job in everyone:
        assert (await client.get_job(job.id)).status is JobStatus.SUCCEEDED


async def test_a_suspect_waits_a_lease_at_most_for_a_long_job_then_runs_beside_it_unproven(
    client: JobClient, timeline: Timeline
) -> None:
    from queued_jobs.worker import Worker, WorkerSettings

    long_job = await client.queue_job("t.block", None, owner="long")
    pipeline = pipeline_for(client, lease=timedelta(seconds=1))
    queues = [client.broker.queue(name) for name in client.queues.bands]
    settings = WorkerSettings(
        concurrency=4, poll_max=timedelta(milliseconds=20), takeover_interval=None
    )
    worker = Worker(pipeline, queues, settings=settings)
    running = asyncio.create_task(worker.run())
    try:
        await timeline.reaches(1)
        suspect = await client.queue_job("t.step", 0.0, owner="suspect")
        await left_by_a_dead_worker(client, suspect)
        await timeline.reaches(3)  # it ran, while the long job still runs
        assert timeline == [f"start {long_job.id}", f"start {suspect.id}", f"end {suspect.id}"]
    finally:
        timeline.release.set()
        worker.stop()
        await running

    history = await client.repository.list_attempts(suspect.id)
    assert [(a.outcome, a.alone) for a in history] == [
        (AttemptOutcome.ABANDONED, False),
        (AttemptOutcome.SUCCEEDED, False),
    ]


async def test_stopping_a_worker_hands_back_the_messages_waiting_behind_a_suspect_at_once(
    client: JobClient, timeline: Timeline
) -> None:
    from queued_jobs.worker import Worker, WorkerSettings

    suspect = await client.queue_job("t.block", None, owner="suspect")
    await left_by_a_dead_worker(client, suspect)
    waiting = [await client.queue_job("t.step", 0.0, owner=f"w{n}") for n in range(3)]
    pipeline = pipeline_for(client)
    queues = [client.broker.queue(name) for name in client.queues.bands]
    settings = WorkerSettings(
        concurrency=4, shutdown_grace=timedelta(seconds=30), takeover_interval=None
    )
    worker = Worker(pipeline, queues, settings=settings)
    running = asyncio.create_task(worker.run())
    await timeline.reaches(1)  # the suspect runs alone; the others wait behind it

    worker.stop()
    handed_back: list[str] = []
    async with asyncio.timeout(5):  # visible again well within the grace the suspect gets
        while len(handed_back) < len(waiting):
            assert not running.done()
            handed_back += [m.body for m in await client.broker.queue("jobs").receive()]
            await asyncio.sleep(0.01)
    key = await client.repository.message_key()
    assert sorted(handed_back) == sorted(encode_message(job, key) for job in waiting)
    assert timeline == [f"start {suspect.id}"]  # none of them started
    for job in waiting:
        assert (await client.get_job(job.id)).status is JobStatus.QUEUED
    timeline.release.set()
    await running
    assert (await client.get_job(suspect.id)).status is JobStatus.SUCCEEDED


async def test_functions_spread_a_job_taken_over_from_a_dead_worker_instead_of_running_it(
    client: JobClient, timeline: Timeline
) -> None:
    jobs = [await client.queue_job("t.step", 0.0, owner=f"u{n}") for n in range(6)]
    for job in jobs:
        await left_by_a_dead_worker(client, job)
    pipeline = pipeline_for(client, spread_suspects=timedelta(seconds=30))

    delays = []
    for job in jobs:
        handled = await pipeline.handle(
            encode_message(job, await pipeline.repository.message_key()), spread_suspects=True
        )
        assert handled.disposition is Disposition.RETRY_LATER
        assert handled.job is not None
        assert handled.job.status is JobStatus.QUEUED
        assert handled.job.run_at == client.clock.now() + handled.delay
        delays.append(handled.delay)
        [lost] = await client.repository.list_attempts(job.id)
        assert (lost.outcome, lost.alone) == (AttemptOutcome.ABANDONED, False)

    assert timeline == []  # none ran in the batch that found them
    assert all(timedelta(0) <= delay <= timedelta(seconds=30) for delay in delays)
    assert len(set(delays)) == len(delays)


# --- 13: taken over ahead of the backlog, by busy workers only ---------------------------


async def test_only_a_worker_that_started_messages_looks_for_expired_leases(
    client: JobClient,
) -> None:
    from queued_jobs.execution.isolation import Isolation
    from queued_jobs.worker.takeovers import Takeovers

    class CountingRepository(MemoryJobRepository):
        listings = 0

        async def list_due(self, *args: Any, **kwargs: Any) -> Any:
            self.listings += 1
            return await super().list_due(*args, **kwargs)

    repository = CountingRepository(clock=client.clock)
    counted = JobClient(repository, client.broker, client.registry, clock=client.clock)
    dead = await left_by_a_dead_worker(
        counted, await counted.queue_job("t.step", 0.0, owner="alice")
    )
    pipeline = pipeline_for(counted)
    started: list[asyncio.Future[None]] = []
    takeovers = Takeovers(
        pipeline,
        ["jobs"],
        interval=timedelta(seconds=1),
        limit=2,
        isolation=Isolation(timedelta(seconds=1), patience=LEASE),
        halt=asyncio.Event(),
        start=lambda work: started.append(asyncio.ensure_future(work)),
    )

    assert await takeovers.look() is None  # idle: no listing at all
    assert repository.listings == 0
    takeovers.saw_work()
    assert await takeovers.look() == [dead.id]
    assert await takeovers.look() is None  # nothing started since
    await asyncio.gather(*started)
    takeovers.saw_work()
    assert await takeovers.look() == []

    assert repository.listings == 2
    history = await repository.list_attempts(dead.id)
    assert [(a.outcome, a.alone) for a in history] == [
        (AttemptOutcome.ABANDONED, False),
        (AttemptOutcome.SUCCEEDED, True),
    ]


async def test_a_look_for_expired_leases_that_fails_is_logged_and_tried_again(
    client: JobClient, caplog: pytest.LogCaptureFixture
) -> None:
    from queued_jobs.execution.isolation import Isolation
    from queued_jobs.worker.takeovers import Takeovers

    class FlakyRepository(MemoryJobRepository):
        failures = 1

        async def list_due(self, *args: Any, **kwargs: Any) -> Any:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("a row no one can read")
            return await super().list_due(*args, **kwargs)

    repository = FlakyRepository(clock=client.clock)
    flaky = JobClient(repository, client.broker, client.registry, clock=client.clock)
    dead = await left_by_a_dead_worker(flaky, await flaky.queue_job("t.step", 0.0, owner="a"))
    taken = asyncio.Event()

    def start(work: Coroutine[Any, Any, None]) -> None:
        work.close()  # taking it over is the other tests' business
        taken.set()

    takeovers = Takeovers(
        pipeline_for(flaky),
        ["jobs"],
        interval=timedelta(milliseconds=10),
        limit=2,
        isolation=Isolation(timedelta(seconds=1), patience=LEASE),
        halt=asyncio.Event(),
        start=start,
    )
    stopping = asyncio.Event()
    looking = asyncio.create_task(takeovers.forever(stopping))
    try:
        async with asyncio.timeout(10):
            while not taken.is_set():  # busy all along: it looks every interval
                takeovers.saw_work()
                await asyncio.sleep(0.01)
    finally:
        stopping.set()
        await looking

    assert "the look for expired leases failed" in caplog.text
    assert repository.failures == 0
    assert dead.lease_expired(client.clock.now())


# --- 13: a job whose lease expired is shown as waiting to be taken over ------------------


async def test_a_running_job_with_an_expired_lease_is_shown_as_waiting_for_a_takeover(
    client: JobClient,
) -> None:
    from queued_jobs._cli_views import job_table, job_view

    clock = clock_of(client)
    job = await client.queue_job("t.step", 0.0, owner="alice")
    stale = await left_by_a_dead_worker(client, job)
    assert stale.lease_expires_at is not None
    assert not stale.lease_expired(stale.lease_expires_at - timedelta(seconds=1))
    assert stale.lease_expired(clock.now())
    assert not job.lease_expired(clock.now())  # queued: no lease to expire

    def shown(renderable: Any) -> str:
        out = io.StringIO()
        Console(file=out, width=200).print(renderable)
        return out.getvalue()

    view = shown(job_view(stale, now=clock.now()))
    table = shown(job_table([stale], now=clock.now()))
    for text in (view, table):
        assert "lease expired 1.0s ago, waiting to be taken over" in text
    assert "dead:1 until" in view
    assert "lease expired" not in shown(job_view(stale, now=stale.lease_expires_at - LEASE))
