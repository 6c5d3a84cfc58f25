"""A progress write still in flight when a job's code returns: the attempt's last write
waits for it (bounded), starts from the version it stored, and keeps the last progress."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.context import JobContext
from queued_jobs.errors import ConcurrencyConflict
from queued_jobs.execution.pipeline import Disposition, Pipeline
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.models import Attempt, JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry
from tests.support.waiting import PATIENCE

pytestmark = pytest.mark.asyncio

LAST = 100.0


class SlowProgressStore(MemoryJobRepository):
    """Counts reads, writes and conflicts; holds the write of the last progress (``LAST``
    percent) until ``release`` is set: before it lands, or, with ``lands_first``, after it
    landed and before its answer comes back (a reply still on the wire)."""

    def __init__(self, clock: ManualClock, *, lands_first: bool, renewal: bool = False) -> None:
        """``renewal``: hold the first lease renewal (a write of a running job that moves
        its lease and carries no progress) instead."""
        super().__init__(clock=clock)
        self.lands_first = lands_first
        self.renewal = renewal
        self.reads = self.updates = self.conflicts = 0
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def get(self, job_id: str) -> QueuedJob:
        self.reads += 1
        return await super().get(job_id)

    async def update(self, job: QueuedJob, *, attempt: Attempt | None = None) -> QueuedJob:
        self.updates += 1
        hold = self._holds(job) and job.status is JobStatus.RUNNING and not self.held.is_set()
        if hold and not self.lands_first:
            await self._hold()
        try:
            stored = await super().update(job, attempt=attempt)
        except ConcurrencyConflict:
            self.conflicts += 1
            raise
        if hold and self.lands_first:
            await self._hold()
        return stored

    def _holds(self, job: QueuedJob) -> bool:
        if self.renewal:  # the claim is the first write of a running job: then the renewals
            return job.progress is None and self.updates > 1
        return job.progress is not None and job.progress.percent == LAST

    async def _hold(self) -> None:
        self.held.set()
        await self.release.wait()


def client_for(store: SlowProgressStore, clock: ManualClock, *, released: bool) -> JobClient:
    """A client whose job reports 50 %, then the last progress (held back by the throttle,
    so written by a task of its own), waits until that write is in flight, and returns; with
    ``released`` the store answers that write once the job's code has returned."""
    registry = JobRegistry()

    @registry.job(name="report.quiet")
    async def quiet(request: int, context: JobContext) -> str:
        await store.held.wait()
        work = asyncio.current_task()
        if released and work is not None:
            work.add_done_callback(lambda _: store.release.set())
        return "ok"

    @registry.job(name="report.last-step")
    async def last_step(request: int, context: JobContext) -> str:
        await context.report_progress(50, "half way")
        await context.report_progress(LAST, "done")
        await store.held.wait()
        work = asyncio.current_task()
        if released and work is not None:
            work.add_done_callback(lambda _: store.release.set())
        return "ok"

    return JobClient(store, MemoryQueueBroker(clock=clock), registry, clock=clock)


async def run_next(
    client: JobClient,
    *,
    hook_timeout: timedelta | None = None,
    heartbeat: timedelta | None = None,
) -> Disposition:
    settings = ExecutionSettings(
        progress_interval=timedelta(milliseconds=10),
        hook_timeout=hook_timeout,
        heartbeat=heartbeat,
    )
    pipeline = Pipeline(
        client.repository,
        client.broker,
        client.registry,
        host="test:1",
        clock=client.clock,
        settings=settings,
    )
    [message] = await client.broker.queue("jobs").receive()
    async with asyncio.timeout(PATIENCE):
        handled = await pipeline.handle(message.body)
    return handled.disposition


async def test_the_end_of_a_job_waits_for_its_progress_write_and_conflicts_with_nothing() -> None:
    clock = ManualClock()
    store = SlowProgressStore(clock, lands_first=True)
    client = client_for(store, clock, released=True)
    job = await client.queue_job("report.last-step", 1, owner="alice")
    store.reads = store.updates = 0

    assert await run_next(client) is Disposition.ACK

    assert (store.conflicts, store.reads) == (0, 0)
    assert store.updates == 4  # the claim, two progress writes, the end
    done = await client.repository.get(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.progress is not None
    assert (done.progress.percent, done.progress.message) == (LAST, "done")


async def test_a_slow_progress_write_at_the_end_is_waited_for_and_its_progress_kept() -> None:
    clock = ManualClock()
    store = SlowProgressStore(clock, lands_first=False)
    client = client_for(store, clock, released=True)
    job = await client.queue_job("report.last-step", 1, owner="alice")

    assert await run_next(client) is Disposition.ACK

    done = await client.repository.get(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.progress is not None
    assert (done.progress.percent, done.progress.message) == (LAST, "done")
    assert store.conflicts == 0


@pytest.mark.parametrize("lands_first", [False, True], ids=["before-landing", "after-landing"])
async def test_a_progress_write_that_never_ends_is_given_up_and_its_progress_kept(
    lands_first: bool, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    store = SlowProgressStore(clock, lands_first=lands_first)
    client = client_for(store, clock, released=False)  # the store never answers that write
    job = await client.queue_job("report.last-step", 1, owner="alice")

    assert await run_next(client, hook_timeout=timedelta(milliseconds=50)) is Disposition.ACK

    done = await client.repository.get(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.progress is not None
    assert (done.progress.percent, done.progress.message) == (LAST, "done")
    assert "a progress write got no answer from the store" in caplog.text


async def test_a_lease_renewal_in_flight_at_the_end_is_waited_for_not_cut_off() -> None:
    clock = ManualClock()
    store = SlowProgressStore(clock, lands_first=True, renewal=True)
    client = client_for(store, clock, released=True)
    job = await client.queue_job("report.quiet", 1, owner="alice")
    store.reads = 0

    assert await run_next(client, heartbeat=timedelta(milliseconds=10)) is Disposition.ACK

    assert (store.conflicts, store.reads) == (0, 0)
    assert (await client.repository.get(job.id)).status is JobStatus.SUCCEEDED
