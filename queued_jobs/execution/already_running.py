"""Job types that do not run two jobs at once: what a job does when it is about to start
while another job of its type runs (:class:`~queued_jobs.runner.AlreadyRunning`, any policy
but ``ALLOW``, which costs nothing and never comes here).

Once claimed, such a job takes a store-wide lease named after its type
(:func:`type_lease_name`), held by the job's id for as long as a job's lease lasts. The
heartbeat renews it beside the record's lease, and the attempt gives it back after its last
write. The holder is the job, not its worker: a worker that takes over a job whose worker
died takes the lease again as the same holder. An attempt that lost its job to another
worker, or that was left to its lease (halted, its code still running), gives nothing back;
a crash leaves the lease to run out.

A job that finds the lease held by another job that runs (``running`` under a live lease):

- ``REFUSE``: fails at once, its attempt ``failed`` with ``JobAlreadyRunning``;
- ``SKIP``: is cancelled, its attempt ``cancelled``, its error naming the running job;
- ``REPLACE``: asks the running job to stop (and every other running job of its type
  queued before it), and is handed back (its attempt ``released``, so not charged) to try
  again after a short delay that grows with its attempts (1 s doubling to 15 s), with a
  new message as a retry has. A job
  never replaces one queued after it: it is cancelled instead, so that two jobs waiting on
  a third cannot cancel each other, and the newest job of the type is the one that runs.

A lease held by a job that is not running (it ended, and its worker died before giving the
lease back) is waited for the same way, without asking anything to stop: it runs out within
a lease. A ``REPLACE`` job that finds the holder ``running`` with its lease run out (its
worker died) asks it to stop as well, so that the worker that takes it over cancels it
instead of running the job it replaces again.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from ..clock import Clock
from ..errors import (
    ConcurrencyConflict,
    CorruptJobRecord,
    JobAlreadyRunning,
    JobNotFound,
    QueuedJobsError,
)
from ..models import AttemptOutcome, JobError, JobStatus, QueuedJob
from ..repositories.base import JobQuery, JobRepository
from ..runner import AlreadyRunning
from ..telemetry.logs import library_logger
from .attempts import attempt_record

if TYPE_CHECKING:
    from .pipeline import Pipeline

__all__ = ["WAITING", "NotStarted", "TypeLease", "record_not_started", "start", "type_lease_name"]

log = library_logger("queued_jobs.execution")
#: The reason (``Handled.reason``) of a job handed back to wait for another of its type.
WAITING: Final = "waits for the job of its type that runs"
_TRIES: Final = 3
_FIRST_WAIT: Final = timedelta(seconds=1)
_LONGEST_WAIT: Final = timedelta(seconds=15)
#: The most running jobs of its type a replacing job looks at (there are few: one runs).
_LISTED: Final = 100
_RUNNING: Final = frozenset({JobStatus.RUNNING})


def type_lease_name(job_type: str) -> str:
    """The store-wide lease of ``job_type``: ``running-`` and a hash of the name (a job
    type may hold capitals, dots and colons, and be longer than a lease name may)."""
    return "running-" + hashlib.sha256(job_type.encode("utf-8")).hexdigest()[:40]


class TypeLease:
    """The lease of one job type, held by one job while an attempt of it runs."""

    def __init__(
        self,
        repository: JobRepository,
        job: QueuedJob,
        *,
        clock: Clock,
        lease: timedelta,
        settle: timedelta,
    ) -> None:
        """``settle``: how long :meth:`give_back` waits for a renewal in flight."""
        self.name = type_lease_name(job.job_type)
        self.job_id = job.id
        self.job_type = job.job_type
        self._repository = repository
        self._clock = clock
        self._lease = lease
        self._settle = settle.total_seconds()
        self._renewal: asyncio.Task[bool] | None = None

    async def take(self) -> bool:
        """Take the lease for a lease's time (or renew it); whether this job holds it."""
        now = self._clock.now()
        return await self._repository.take_lease(
            self.name, self.job_id, now=now, until=now + self._lease
        )

    async def renew(self) -> None:
        """Renew the lease (the heartbeat, beside the record's lease). The renewal goes on
        in a task of its own that cancelling the heartbeat does not cancel, so that
        :meth:`give_back` comes after it, never before."""
        task = asyncio.create_task(self.take())
        task.add_done_callback(_retrieved)
        self._renewal = task
        if not await asyncio.shield(task):
            log.warning(
                "job %s: the lease of its type %r ran out and another job holds it now: "
                "a job of its type may run beside this one",
                self.job_id,
                self.job_type,
            )

    async def give_back(self) -> None:
        """Give the lease back (after the attempt's last write), once a renewal in flight
        has landed. A failure is logged: the lease then runs out by itself."""
        if self._renewal is not None:
            await asyncio.wait({self._renewal}, timeout=self._settle)
        now = self._clock.now()
        try:
            await self._repository.take_lease(self.name, self.job_id, now=now, until=now)
        except QueuedJobsError as exc:
            log.warning(
                "job %s: could not give back the lease of its type %r (%s); the next job "
                "of its type starts once it runs out",
                self.job_id,
                self.job_type,
                exc,
            )


def _retrieved(task: asyncio.Task[bool]) -> None:
    """Retrieve a renewal's error (its caller may be gone); the heartbeat logged it."""
    if not task.cancelled():
        task.exception()


@dataclass(frozen=True, slots=True)
class NotStarted:
    """What becomes of a claimed job that does not start: its status, how its attempt is
    recorded and why; for a job handed back, when it tries again."""

    status: JobStatus
    outcome: AttemptOutcome
    error: JobError
    delay: timedelta | None = None


async def start(
    pipeline: Pipeline, job: QueuedJob, policy: AlreadyRunning
) -> TypeLease | NotStarted:
    """The lease of the claimed ``job``'s type, taken; or what becomes of the job instead,
    as ``policy`` says (see the module's text)."""
    repository, clock = pipeline.repository, pipeline.clock
    lease = TypeLease(
        repository,
        job,
        clock=clock,
        lease=pipeline.settings.lease,
        settle=timedelta(seconds=pipeline.settings.hook_seconds),
    )
    for _ in range(_TRIES):
        if await lease.take():
            return lease
        holder_id = await repository.lease_holder(lease.name, now=clock.now())
        if holder_id is None or holder_id == job.id:
            continue  # given back or run out since: take it again
        holder = await _running(repository, holder_id, clock)
        if holder is None:
            if policy is AlreadyRunning.REPLACE and await _stop_stale(pipeline, job, holder_id):
                return _wait(
                    job,
                    f"job {holder_id} holds the lease of the type but its worker died: "
                    "asked it to stop (it is cancelled when taken over); this job waits "
                    "for the lease to run out",
                )
            return _wait(
                job,
                f"job {holder_id} holds the lease of the type but is not running (it ended "
                "and its worker died before giving the lease back): this job waits for the "
                "lease to run out",
            )
        return await _decide(pipeline, job, holder, policy)
    return _wait(job, "the lease of the type kept changing hands")


async def _stop_stale(pipeline: Pipeline, job: QueuedJob, holder_id: str) -> bool:
    """A replacing ``job`` asks the holder whose worker died (``running``, its lease run
    out) to stop, so that a worker taking it over cancels it rather than running it
    again; whether it was such a job, queued before ``job``."""
    try:
        stale = await pipeline.repository.get(holder_id)
    except (JobNotFound, CorruptJobRecord):
        return False
    if stale.status is not JobStatus.RUNNING or not _queued_after(job, stale):
        return False
    await _ask_to_stop(pipeline.repository, stale, pipeline.clock)
    return True


async def _decide(
    pipeline: Pipeline, job: QueuedJob, holder: QueuedJob, policy: AlreadyRunning
) -> NotStarted:
    kind = job.job_type
    if policy is AlreadyRunning.REFUSE:
        error = JobError.from_exception(JobAlreadyRunning(kind, holder.id))
        return NotStarted(JobStatus.FAILED, AttemptOutcome.FAILED, _untraced(error))
    if policy is AlreadyRunning.SKIP:
        message = (
            f"skipped: job {holder.id} of type {kind!r} is running, and a job of that type "
            "that finds another running is cancelled (already_running=skip)"
        )
        skipped = JobError(type="queued_jobs.Skipped", message=message)
        return NotStarted(JobStatus.CANCELLED, AttemptOutcome.CANCELLED, skipped)
    if _queued_after(holder, job):
        message = (
            f"replaced by job {holder.id} of type {kind!r}, queued after this one, which "
            "is running (already_running=replace: the newest job of the type runs)"
        )
        replaced = JobError(type="queued_jobs.Replaced", message=message)
        return NotStarted(JobStatus.CANCELLED, AttemptOutcome.CANCELLED, replaced)
    if not holder.cancel_requested:  # else another job asked it already, and these too
        await _ask_to_stop(pipeline.repository, holder, pipeline.clock)
        await _stop_older(pipeline.repository, job, holder, pipeline.clock)
    return _wait(job, f"asked job {holder.id} to stop; this job starts once it has")


def _untraced(error: JobError) -> JobError:
    """An error never raised has no traceback worth keeping (its one line is the message)."""
    return error.model_copy(update={"traceback": None})


def _queued_after(one: QueuedJob, other: QueuedJob) -> bool:
    """Whether ``one`` was queued after ``other`` (ids break a tie of creation times)."""
    return (one.created_at, one.id) > (other.created_at, other.id)


def _wait(job: QueuedJob, why: str) -> NotStarted:
    """Handed back to try again after 1 s, doubling with each attempt of the job, up to
    15 s: soon after the other job stops, without holding a worker slot meanwhile."""
    delay = min(_FIRST_WAIT * 2 ** min(job.attempts - 1, 4), _LONGEST_WAIT)
    message = f"{why}; tried again in {delay.total_seconds():g}s"
    waiting = JobError(type="queued_jobs.Waiting", message=message)
    return NotStarted(JobStatus.QUEUED, AttemptOutcome.RELEASED, waiting, delay)


async def _running(repository: JobRepository, job_id: str, clock: Clock) -> QueuedJob | None:
    """The job ``job_id`` if it runs (``running`` under a lease that has not run out)."""
    try:
        job = await repository.get(job_id)
    except (JobNotFound, CorruptJobRecord):
        return None
    if job.status is not JobStatus.RUNNING or job.lease_expires_at is None:
        return None
    return None if job.lease_expired(clock.now()) else job


async def _ask_to_stop(repository: JobRepository, seen: QueuedJob, clock: Clock) -> None:
    """Request the cancellation of the attempt ``seen`` is on, as ``JobClient.cancel``
    does; nothing once that attempt is over (the job was handed back, or claimed again),
    or if it was asked already."""
    job = seen
    for _ in range(_TRIES):
        if (
            job.status is not JobStatus.RUNNING
            or job.attempts != seen.attempts
            or job.cancel_requested
        ):
            return
        asked = job.model_copy(update={"cancel_requested": True, "updated_at": clock.now()})
        try:
            await repository.update(asked)
            return
        except ConcurrencyConflict:
            try:
                job = await repository.get(seen.id)
            except (JobNotFound, CorruptJobRecord):
                return


async def _stop_older(
    repository: JobRepository, job: QueuedJob, holder: QueuedJob, clock: Clock
) -> None:
    """Ask every other running job of ``job``'s type queued before it to stop: one that
    runs without the lease (started while its type allowed it), or one about to wait."""
    query = JobQuery(statuses=_RUNNING, job_type=job.job_type)
    page = await repository.list_jobs(query, limit=_LISTED)
    now = clock.now()
    for other in page.items:
        if other.id in (job.id, holder.id) or other.lease_expired(now):
            continue
        if _queued_after(job, other):
            await _ask_to_stop(repository, other, clock)


async def record_not_started(
    pipeline: Pipeline, job: QueuedJob, not_started: NotStarted
) -> QueuedJob | None:
    """Store what becomes of the claimed ``job``, with its attempt; ``None`` if another
    worker has the job. Written as an attempt's last write is (a conflict re-read, the
    change applied again while the job is still this attempt's)."""
    now = pipeline.clock.now()
    running = pipeline.running(job)
    error = not_started.error
    attempt = attempt_record(
        job, running.started_at, now, not_started.outcome, pipeline.host, error
    )
    if not_started.delay is None:
        final = running.final_change(not_started.status, now, completed_at=now, error=error)
    else:
        final = running.final_change(not_started.status, now, run_at=now + not_started.delay)
    stored = await running.write(final, attempt=attempt)
    if stored is not None:
        log.info(
            "job %s (%s) attempt %d %s without starting: %r",
            stored.id,
            stored.job_type,
            stored.attempts,
            not_started.outcome.value,
            error.message,
        )
    return stored
