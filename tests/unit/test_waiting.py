"""What a caller waiting for a job costs: its reads back off while nothing changes, and
start again fast when the job does."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.errors import JobNotFound
from queued_jobs.models import JobStatus, Progress, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry
from queued_jobs.waiting import DEFAULT_BACKOFF, Backoff, Pacer

RUN_TIME = 60.0
#: 0.6 reads a second (31 with the default backoff; 27 for a job whose progress never moves).
MOST_READS = 36


class CountingRepository(MemoryJobRepository):
    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock=clock)
        self.reads = 0

    async def get(self, job_id: str) -> QueuedJob:
        self.reads += 1
        return await super().get(job_id)


class SixtySecondJob:
    """A job queued at 0 s that starts at 1 s, moves its progress every 10 s and succeeds
    at 60 s, played on a manual clock that a waiter's pauses move forward."""

    def __init__(self, repository: CountingRepository, clock: ManualClock, job: QueuedJob):
        self.repository, self.clock, self.job = repository, clock, job
        self.start = clock.now()

    async def pause(self, job_id: str, seconds: float) -> None:
        assert job_id == self.job.id
        self.clock.advance(seconds)
        elapsed = (self.clock.now() - self.start).total_seconds()
        job, now = self.job, self.clock.now()
        if elapsed >= RUN_TIME:
            changed = job.transition(JobStatus.SUCCEEDED, now=now, completed_at=now)
        elif elapsed >= 1 and job.status is JobStatus.QUEUED:
            changed = job.transition(JobStatus.RUNNING, now=now, attempts=1)
        elif job.status is JobStatus.RUNNING and elapsed // 10 * 10 > self.percent(job):
            changed = job.model_copy(update={"progress": Progress(percent=elapsed // 10 * 10)})
        else:
            return
        if changed.status is not job.status or changed.progress != job.progress:
            self.job = await self.repository.update(changed)

    @staticmethod
    def percent(job: QueuedJob) -> float:
        return job.progress.percent if job.progress else 0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def repository(clock: ManualClock) -> CountingRepository:
    return CountingRepository(clock)


@pytest.fixture
async def played(repository: CountingRepository, clock: ManualClock) -> SixtySecondJob:
    job = await repository.insert(QueuedJob.new(owner="alice", job_type="t", now=clock.now()))
    repository.reads = 0
    return SixtySecondJob(repository, clock, job)


def client_of(repository: CountingRepository, clock: ManualClock) -> JobClient:
    return JobClient(repository, MemoryQueueBroker(clock=clock), JobRegistry(), clock=clock)


async def test_waiting_on_a_sixty_second_job_reads_it_at_most_36_times_not_301(
    repository: CountingRepository, clock: ManualClock, played: SixtySecondJob
) -> None:
    client = client_of(repository, clock)
    backoff = dataclasses.replace(DEFAULT_BACKOFF, pause=played.pause)

    done = await client.wait(played.job.id, poll=backoff)

    assert done.status is JobStatus.SUCCEEDED
    assert repository.reads <= MOST_READS  # a fixed 200 ms poll read it 301 times
    seen_late = (clock.now() - played.start).total_seconds() - RUN_TIME
    assert seen_late <= DEFAULT_BACKOFF.cap.total_seconds()


async def test_a_fixed_poll_reads_at_its_own_pace(
    repository: CountingRepository, clock: ManualClock, played: SixtySecondJob
) -> None:
    client = client_of(repository, clock)
    backoff = dataclasses.replace(Backoff.fixed(timedelta(seconds=1)), pause=played.pause)

    await client.wait(played.job.id, poll=backoff)

    assert repository.reads == RUN_TIME + 1


async def test_a_waiter_hears_of_each_change_once(
    repository: CountingRepository, clock: ManualClock, played: SixtySecondJob
) -> None:
    client = client_of(repository, clock)
    seen: list[tuple[JobStatus, float]] = []

    await client.wait(
        played.job.id,
        poll=dataclasses.replace(DEFAULT_BACKOFF, pause=played.pause),
        on_change=lambda job: seen.append((job.status, SixtySecondJob.percent(job))),
    )

    running = [(JobStatus.RUNNING, float(p)) for p in range(0, 60, 10)]
    assert seen == [(JobStatus.QUEUED, 0), *running, (JobStatus.SUCCEEDED, 50)]


def test_reads_slow_down_while_nothing_changes_and_start_again_fast_on_a_new_status() -> None:
    pacer = Pacer(Backoff(first=timedelta(seconds=1), factor=2, cap=timedelta(seconds=5)))
    queued = QueuedJob.new(owner="o", job_type="t")
    running = queued.transition(JobStatus.RUNNING, now=queued.created_at, attempts=1)
    moved = running.model_copy(update={"progress": Progress(percent=10)})

    pauses = []
    for job in [queued, queued, queued, queued, queued, running, running, moved, moved]:
        pacer.saw(job)
        pauses.append(pacer.seconds)

    assert pauses == [1, 2, 4, 5, 5, 1, 2, 2, 4]  # progress moving holds the pace


@pytest.mark.parametrize(
    "options",
    [
        {"first": timedelta(0)},
        {"first": timedelta(seconds=-1)},
        {"first": timedelta(seconds=5), "cap": timedelta(seconds=1)},
        {"cap": timedelta(days=365)},
        {"factor": 0.5},
        {"factor": float("nan")},
        {"factor": 1e9},
    ],
)
def test_a_backoff_that_would_spin_or_never_read_again_is_refused(
    options: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**options)  # type: ignore[arg-type]


async def test_a_wait_with_no_pause_between_reads_is_refused_before_any_read(
    repository: CountingRepository, clock: ManualClock, played: SixtySecondJob
) -> None:
    with pytest.raises(ValueError, match="backoff"):
        await client_of(repository, clock).wait(played.job.id, poll=timedelta(0))
    assert repository.reads == 0


async def test_waiting_for_what_is_no_job_id_reads_nothing(
    repository: CountingRepository, clock: ManualClock
) -> None:
    with pytest.raises(JobNotFound):
        await client_of(repository, clock).wait("../../etc/passwd" * 1000)
    assert repository.reads == 0
