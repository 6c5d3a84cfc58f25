"""Tracking work done in the caller's process, async and sync, on memory and SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from queued_jobs import JobTracker, SyncJobTracker
from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.errors import (
    DuplicateJob,
    InvalidInput,
    InvalidTransition,
    PayloadTooLarge,
    StorageUnavailable,
)
from queued_jobs.models import Attempt, AttemptOutcome, JobStatus, Progress, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.base import JobRepository
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.repositories.sqlite import SqliteJobRepository
from queued_jobs.runner import JobRegistry

HOST = "box-1:4242"


class ReportBroke(Exception):
    pass


@dataclass
class Store:
    """One test's job data, in memory or in a SQLite file, and ways to open it."""

    kind: str
    path: Path
    clock: ManualClock
    memory: MemoryJobRepository | None = None

    def repository(self, **options: Any) -> JobRepository:
        """A repository on this test's data (in memory, the same one every time)."""
        if self.kind == "sqlite":
            return SqliteJobRepository(self.path, clock=self.clock, **options)
        if self.memory is None:
            self.memory = MemoryJobRepository(clock=self.clock, **options)
        return self.memory

    def tracker(self, **options: Any) -> JobTracker:
        return JobTracker(
            self.repository(**options),
            clock=self.clock,
            host=HOST,
            progress_interval=timedelta(0),
        )

    async def read(self, job_id: str) -> tuple[QueuedJob, list[Attempt]]:
        """The stored job and its attempts, read through a repository of its own."""
        repository = self.repository()
        try:
            return await repository.get(job_id), await repository.list_attempts(job_id)
        finally:
            await repository.close()

    def read_sync(self, job_id: str) -> tuple[QueuedJob, list[Attempt]]:
        return asyncio.run(self.read(job_id))


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return Store(request.param, tmp_path / "jobs.db", ManualClock())


@pytest.fixture
async def tracker(store: Store) -> AsyncIterator[JobTracker]:
    async with store.tracker() as tracker:
        await tracker.create_storage()
        yield tracker


@pytest.fixture
def sync_tracker(store: Store) -> Iterator[SyncJobTracker]:
    with SyncJobTracker(store.tracker) as tracker:
        tracker.create_storage()
        yield tracker


def raise_in_sync_block(tracker: SyncJobTracker, error: BaseException) -> str:
    """Run a sync block that raises ``error``; the tracked job's id."""
    work = tracker.start("alice")

    def block() -> None:
        with work:
            raise error

    with pytest.raises(type(error)) as raised:
        block()
    assert raised.value is error
    return work.job.id


# --- async blocks ----------------------------------------------------------------------


async def test_leaving_the_block_stores_success_with_the_result_and_one_attempt(
    tracker: JobTracker, store: Store
) -> None:
    started = store.clock.now()
    async with tracker.start(
        "alice",
        job_type="reports.monthly",
        data={"month": 5},
        correlation_id="req-1",
        tags=("reports",),
        custom_data={"team": "billing"},
    ) as work:
        running, _ = await store.read(work.job.id)
        store.clock.advance(5)
        work.set_result({"url": "https://example.test/report.zip"})

    assert running.status is JobStatus.RUNNING
    assert (running.attempts, running.lease_owner, running.started_at) == (1, HOST, started)
    assert running.lease_expires_at is None  # no lease: the sweep leaves it alone
    job, attempts = await store.read(work.job.id)
    assert job == work.job
    assert job.status is JobStatus.SUCCEEDED
    assert (job.owner, job.job_type, job.request) == ("alice", "reports.monthly", {"month": 5})
    assert (job.correlation_id, job.tags) == ("req-1", ("reports",))
    assert job.custom_data == {"team": "billing"}
    assert job.result == {"url": "https://example.test/report.zip"}
    assert (job.error, job.lease_owner, job.duration) == (None, None, timedelta(seconds=5))
    assert [(a.number, a.outcome, a.host, a.error) for a in attempts] == [
        (1, AttemptOutcome.SUCCEEDED, HOST, None)
    ]
    assert (attempts[0].started_at, attempts[0].ended_at) == (started, job.completed_at)


async def test_an_escaping_exception_stores_failure_with_its_traceback_and_goes_on_up(
    tracker: JobTracker, store: Store
) -> None:
    """The original WorkTracker recorded an escaping exception as success."""
    work = tracker.start("alice")

    async def report() -> None:
        async with work:
            work.set_result("half a report")
            raise ReportBroke("the printer is on fire")

    with pytest.raises(ReportBroke) as raised:
        await report()

    job, attempts = await store.read(work.job.id)
    assert job.status is JobStatus.FAILED
    assert job.completed_at is not None
    assert job.result is None
    assert job.error is not None
    assert job.error.type == f"{__name__}.ReportBroke"
    assert job.error.message == "the printer is on fire"
    assert job.error.traceback is not None
    assert "raise ReportBroke" in job.error.traceback
    assert ", in report\n" in job.error.traceback
    assert [(a.outcome, a.error) for a in attempts] == [(AttemptOutcome.FAILED, job.error)]
    assert not hasattr(raised.value, "__notes__")  # nothing went wrong storing it


async def test_a_failure_to_store_the_end_is_noted_on_the_escaping_exception(
    tracker: JobTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def store_is_down(job: QueuedJob, *, attempt: Attempt | None = None) -> QueuedJob:
        raise StorageUnavailable("the store is down")

    work = tracker.start("alice")

    async def report() -> None:
        async with work:
            monkeypatch.setattr(tracker.repository, "update", store_is_down)
            raise ReportBroke("the printer is on fire")

    with pytest.raises(ReportBroke) as raised:
        await report()

    assert raised.value.__notes__ == [
        f"queued-jobs: tracked job {work.job.id} could not be stored failed: the store is down"
    ]


async def test_fail_stores_failure_and_leaving_the_block_changes_nothing_more(
    tracker: JobTracker, store: Store
) -> None:
    async with tracker.start("alice") as work:
        failed = await work.fail("no customers to bill this month")
        work.set_result("ignored")

    job, attempts = await store.read(work.job.id)
    assert job == failed
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert (job.error.type, job.error.message) == (
        "queued_jobs.WorkFailed",
        "no customers to bill this month",
    )
    assert job.result is None
    assert [a.outcome for a in attempts] == [AttemptOutcome.FAILED]
    with pytest.raises(InvalidTransition):
        await work.fail("again")
    with pytest.raises(InvalidTransition):
        await work.report_progress(100)


async def test_fail_with_an_exception_captures_it_and_a_later_exception_still_goes_on_up(
    tracker: JobTracker, store: Store
) -> None:
    work = tracker.start("alice")

    async def report() -> None:
        async with work:
            try:
                raise ReportBroke("bad input")
            except ReportBroke as exc:
                await work.fail(exc)
            raise KeyError("later")

    with pytest.raises(KeyError):
        await report()

    job, attempts = await store.read(work.job.id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert (job.error.type, job.error.message) == (f"{__name__}.ReportBroke", "bad input")
    assert len(attempts) == 1


async def test_progress_is_stored_while_the_work_runs_and_kept_at_the_end(
    tracker: JobTracker, store: Store
) -> None:
    async with tracker.start("alice") as work:
        await work.report_progress(40, "4 of 10 invoices")
        stored, _ = await store.read(work.job.id)
        with pytest.raises(InvalidInput):
            await work.report_progress(140)

    assert stored.status is JobStatus.RUNNING
    assert stored.progress == Progress(percent=40, message="4 of 10 invoices")
    job, _ = await store.read(work.job.id)
    assert job.progress == Progress(percent=40, message="4 of 10 invoices")


async def test_throttled_progress_is_written_with_the_end(store: Store) -> None:
    tracker = store.tracker()
    tracker.progress_interval = timedelta(minutes=1)
    async with tracker:
        await tracker.create_storage()
        async with tracker.start("alice") as work:
            await work.report_progress(10)
            await work.report_progress(90, "nearly")  # held back: within the interval
            stored, _ = await store.read(work.job.id)

    assert stored.progress == Progress(percent=10)
    job, _ = await store.read(work.job.id)
    assert job.progress == Progress(percent=90, message="nearly")


async def test_a_cancel_request_is_seen_at_the_next_progress_write(
    tracker: JobTracker, store: Store
) -> None:
    client = JobClient(tracker.repository, MemoryQueueBroker(), JobRegistry(), clock=store.clock)
    async with tracker.start("alice") as work:
        await work.report_progress(10)
        requested = await client.cancel(work.job.id)
        assert requested.cancel_requested
        assert not work.cancellation_requested

        await work.report_progress(20)  # conflicts with the request: re-read, re-applied

        assert work.cancellation_requested
        assert work.job.progress == Progress(percent=20)

    job, _ = await store.read(work.job.id)
    assert (job.status, job.cancel_requested) == (JobStatus.SUCCEEDED, True)


async def test_a_cancelled_task_stores_the_job_cancelled_and_stays_cancelled(
    tracker: JobTracker, store: Store
) -> None:
    entered = asyncio.Event()
    ids: list[str] = []

    async def long_work() -> None:
        async with tracker.start("alice") as work:
            ids.append(work.job.id)
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(long_work())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    job, attempts = await store.read(ids[0])
    assert (job.status, job.error) == (JobStatus.CANCELLED, None)
    assert [a.outcome for a in attempts] == [AttemptOutcome.CANCELLED]


async def test_start_unique_refuses_a_duplicate_while_the_first_runs_and_allows_it_after(
    tracker: JobTracker, store: Store
) -> None:
    async with tracker.start_unique("alice", "monthly-bill") as first:
        with pytest.raises(DuplicateJob) as duplicate:
            async with tracker.start_unique("alice", "monthly-bill"):
                pytest.fail("a duplicate must not run")

    assert duplicate.value.existing_job_id == first.job.id
    assert duplicate.value.existing_job is not None
    assert duplicate.value.existing_job.status is JobStatus.RUNNING
    async with tracker.start_unique("alice", "monthly-bill") as second:
        pass
    job, _ = await store.read(second.job.id)
    assert (job.status, job.unique_key) == (JobStatus.SUCCEEDED, "monthly-bill")
    async with tracker.start_unique("alice", "monthly-bill"):  # released when it ended
        pass


async def test_a_result_that_is_not_json_is_refused_at_once(tracker: JobTracker) -> None:
    async with tracker.start("alice") as work:
        with pytest.raises(InvalidInput, match="must be JSON"):
            work.set_result({"when": object()})  # type: ignore[dict-item]


async def test_a_result_the_store_refuses_fails_the_job_with_the_reason(store: Store) -> None:
    async with store.tracker(max_payload_bytes=100) as tracker:
        await tracker.create_storage()
        with pytest.raises(PayloadTooLarge):
            async with tracker.start("alice") as work:
                work.set_result("x" * 200)

    job, attempts = await store.read(work.job.id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.type == "queued_jobs.errors.PayloadTooLarge"
    assert [a.outcome for a in attempts] == [AttemptOutcome.FAILED]


async def test_invalid_options_are_refused_before_anything_is_stored(
    tracker: JobTracker, store: Store
) -> None:
    with pytest.raises(InvalidInput):
        async with tracker.start("alice", job_type="no spaces allowed"):
            pytest.fail("must not run")
    page = await tracker.repository.list_jobs()
    assert page.items == []


async def test_tracked_work_runs_once(tracker: JobTracker) -> None:
    work = tracker.start("alice")
    with pytest.raises(RuntimeError, match="has not started"):
        _ = work.job
    async with work:
        pass
    with pytest.raises(RuntimeError, match="runs once"):
        async with work:
            pass


# --- sync blocks -----------------------------------------------------------------------


def test_a_sync_block_stores_success_with_progress_and_result(
    sync_tracker: SyncJobTracker, store: Store
) -> None:
    with sync_tracker.start("alice", data=[1, 2, 3]) as work:
        work.report_progress(50, "half")
        running, _ = store.read_sync(work.job.id)
        work.set_result(6)

    assert running.status is JobStatus.RUNNING
    assert running.progress == Progress(percent=50, message="half")
    job, attempts = store.read_sync(work.job.id)
    assert (job.status, job.request, job.result) == (JobStatus.SUCCEEDED, [1, 2, 3], 6)
    assert [(a.outcome, a.host) for a in attempts] == [(AttemptOutcome.SUCCEEDED, HOST)]
    assert not work.cancellation_requested


def test_an_exception_escaping_a_sync_block_stores_failure_and_goes_on_up(
    sync_tracker: SyncJobTracker, store: Store
) -> None:
    """The original WorkTracker recorded an escaping exception as success."""
    job_id = raise_in_sync_block(sync_tracker, ReportBroke("out of paper"))

    job, attempts = store.read_sync(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert (job.error.type, job.error.message) == (f"{__name__}.ReportBroke", "out of paper")
    assert job.error.traceback is not None
    assert ", in block\n    raise error" in job.error.traceback
    assert [a.outcome for a in attempts] == [AttemptOutcome.FAILED]


def test_keyboard_interrupt_in_a_sync_block_stores_the_job_cancelled(
    sync_tracker: SyncJobTracker, store: Store
) -> None:
    job_id = raise_in_sync_block(sync_tracker, KeyboardInterrupt())

    job, attempts = store.read_sync(job_id)
    assert job.status is JobStatus.CANCELLED
    assert [a.outcome for a in attempts] == [AttemptOutcome.CANCELLED]


def test_explicit_fail_in_a_sync_block(sync_tracker: SyncJobTracker, store: Store) -> None:
    with sync_tracker.start("alice") as work:
        failed = work.fail("nothing to do")

    job, _ = store.read_sync(work.job.id)
    assert job == failed
    assert job.status is JobStatus.FAILED


def test_sync_start_unique_refuses_a_duplicate_until_the_first_ends(
    sync_tracker: SyncJobTracker, store: Store
) -> None:
    with sync_tracker.start_unique("alice", "nightly") as first:
        with (
            pytest.raises(DuplicateJob) as duplicate,
            sync_tracker.start_unique("alice", "nightly"),
        ):
            pytest.fail("a duplicate must not run")
        assert duplicate.value.existing_job_id == first.job.id

    with sync_tracker.start_unique("alice", "nightly") as second:
        pass
    job, _ = store.read_sync(second.job.id)
    assert job.status is JobStatus.SUCCEEDED
