"""Tracking work done in the caller's own process: :class:`JobTracker` and its sync twin.

Work that runs where it is started (a request handler, a script, a nightly batch), not
through a queue, still gets a job record that users and operators see like any other:
owner, input, progress, duration, result, and why it failed::

    async with tracker.start("alice", job_type="reports.monthly", data={"month": 5}) as work:
        await work.report_progress(50, "half way")
        work.set_result({"url": url})

    with SyncJobTracker(lambda: JobTracker(SqliteJobRepository("jobs.db"))) as tracker:
        with tracker.start_unique("alice", "monthly-report") as work:
            ...

Entering the block stores the job ``running`` (no queue message: nothing else runs it).
Leaving it normally stores ``succeeded`` with the result; an exception escaping it stores
``failed`` with the error captured and goes on up; cancellation (``CancelledError``,
``KeyboardInterrupt``, ``JobCancelled``) stores ``cancelled``. Every write is conditional on
the record's version and goes through the attempt's :class:`RunningJob`, which re-reads and
re-applies it on a conflict (an operator's cancel request, say).

A tracked job holds no lease: nothing renews it, the sweep leaves it alone, and if the
process dies mid-block its record stays ``running``.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Concatenate, Final, ParamSpec, Self

from pydantic import JsonValue, TypeAdapter, ValidationError

from ._sync import LoopBound, SyncTwin, blocking
from ._unique import release_unique_key, reserve_unique_key
from .clock import SYSTEM_CLOCK, Clock
from .errors import InvalidInput, InvalidTransition, JobCancelled
from .execution.attempts import attempt_record
from .execution.running import RunningJob
from .models import AttemptOutcome, JobError, JobStatus, Progress, QueuedJob, UniqueScope
from .repositories.base import JobRepository
from .telemetry.logs import library_logger

__all__ = ["JobTracker", "SyncJobTracker", "SyncTrackedWork", "TrackedWork"]

log = library_logger("queued_jobs.tracker")
P = ParamSpec("P")

#: The error type of a failure given as a message to :meth:`TrackedWork.fail`.
FAILED_ON_REQUEST: Final = "queued_jobs.WorkFailed"
_JSON: Final = TypeAdapter[JsonValue](JsonValue)
_NO_LEASE: Final = timedelta(0)  # RunningJob only needs it to extend a lease; we hold none


@dataclass(frozen=True, slots=True)
class _Plan:
    """What :meth:`JobTracker.start` was asked for; the record is made when the block starts."""

    owner: str
    job_type: str
    data: JsonValue
    unique_key: str | None
    unique_scope: UniqueScope
    correlation_id: str | None
    tags: tuple[str, ...]
    custom_data: dict[str, JsonValue]

    def record(self, now: datetime, host: str) -> QueuedJob:
        try:
            return QueuedJob.new(
                owner=self.owner,
                job_type=self.job_type,
                request=self.data,
                now=now,
                status=JobStatus.RUNNING,
                attempts=1,
                max_attempts=1,  # run once, by its caller; nothing retries it
                started_at=now,
                lease_owner=host,
                unique_key=self.unique_key,
                unique_scope=self.unique_scope,
                correlation_id=self.correlation_id,
                tags=self.tags,
                custom_data=self.custom_data,
            )
        except ValidationError as exc:
            raise InvalidInput(f"invalid tracked job: {exc}") from exc


class JobTracker:
    """Records work done in this process as jobs in ``repository``.

    ``host`` names this process in the records (default ``hostname:pid``). Progress
    reports are written at most once per ``progress_interval`` (the latest always wins).
    Like :class:`JobClient`, the tracker owns its repository: :meth:`close` closes it.
    """

    def __init__(
        self,
        repository: JobRepository,
        *,
        clock: Clock = SYSTEM_CLOCK,
        host: str | None = None,
        progress_interval: timedelta = timedelta(seconds=1),
    ) -> None:
        self.repository = repository
        self.clock = clock
        self.host = host or f"{socket.gethostname()}:{os.getpid()}"
        self.progress_interval = progress_interval

    async def create_storage(self) -> None:
        """Create the repository's table/schema if missing."""
        await self.repository.create()

    async def close(self) -> None:
        await self.repository.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def start(
        self,
        owner: str,
        *,
        job_type: str = "tracked",
        data: JsonValue = None,
        correlation_id: str | None = None,
        tags: Sequence[str] = (),
        custom_data: dict[str, JsonValue] | None = None,
    ) -> TrackedWork:
        """Work to track; its record is stored when its ``async with`` block starts."""
        plan = _Plan(
            owner,
            job_type,
            data,
            None,
            UniqueScope.OWNER,
            correlation_id,
            tuple(tags),
            custom_data or {},
        )
        return TrackedWork(self, plan)

    def start_unique(
        self,
        owner: str,
        key: str,
        *,
        unique_scope: UniqueScope = UniqueScope.OWNER,
        job_type: str = "tracked",
        data: JsonValue = None,
        correlation_id: str | None = None,
        tags: Sequence[str] = (),
        custom_data: dict[str, JsonValue] | None = None,
    ) -> TrackedWork:
        """Like :meth:`start`, holding the unique ``key`` while the work runs.

        The key is ``owner``'s own unless ``unique_scope`` is ``UniqueScope.GLOBAL`` (one key
        for every owner). Entering the block raises ``DuplicateJob`` while an unfinished job
        holds the key (with ``existing_job`` if it is the same owner's); a finished holder's
        key is taken over.
        """
        plan = _Plan(
            owner,
            job_type,
            data,
            key,
            unique_scope,
            correlation_id,
            tuple(tags),
            custom_data or {},
        )
        return TrackedWork(self, plan)


class TrackedWork:
    """One piece of tracked work: an async context manager, entered once."""

    def __init__(self, tracker: JobTracker, plan: _Plan) -> None:
        self._tracker = tracker
        self._plan = plan
        self._running: RunningJob | None = None
        self._result: JsonValue = None
        self._ended = False

    @property
    def job(self) -> QueuedJob:
        """The job's record as last stored by this work."""
        return self._started().job

    @property
    def cancellation_requested(self) -> bool:
        """Whether someone asked to cancel the job (seen at the latest progress write); long
        work should check it and stop, by raising ``JobCancelled`` for instance."""
        return self._running is not None and self._running.cancelled.is_set()

    def set_result(self, result: JsonValue) -> None:
        """The result stored when the block ends normally (JSON values only)."""
        try:
            self._result = _JSON.validate_python(result)
        except ValidationError as exc:
            raise InvalidInput(f"a tracked job's result must be JSON: {exc}") from exc

    async def report_progress(self, percent: float, message: str | None = None) -> None:
        """Record how far the work is (0-100)."""
        running = self._open(JobStatus.RUNNING)
        try:
            progress = Progress(percent=percent, message=message)
        except ValidationError as exc:
            raise InvalidInput(f"invalid progress: {exc}") from exc
        await running.report_progress(progress)

    async def fail(self, error: str | BaseException) -> QueuedJob:
        """Store the job failed now, with ``error`` (a message or an exception); leaving the
        block afterwards changes nothing more."""
        self._open(JobStatus.FAILED)
        if isinstance(error, BaseException):
            reason = JobError.from_exception(error)
        else:
            reason = JobError(type=FAILED_ON_REQUEST, message=error)
        return await self._end(AttemptOutcome.FAILED, JobStatus.FAILED, error=reason)

    async def __aenter__(self) -> Self:
        if self._running is not None or self._ended:
            raise RuntimeError("tracked work runs once; start new work with tracker.start()")
        tracker, repository = self._tracker, self._tracker.repository
        new = self._plan.record(tracker.clock.now(), tracker.host)
        await reserve_unique_key(repository, new)
        try:
            stored = await repository.insert(new)
        except BaseException:
            await release_unique_key(repository, new)
            raise
        self._running = RunningJob(
            repository,
            stored,
            clock=tracker.clock,
            lease=_NO_LEASE,
            progress_interval=tracker.progress_interval,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._running is None or self._ended:
            return  # never started, or fail() already stored the end
        if exc is None:
            await self._succeed()
        elif isinstance(exc, JobCancelled) or not isinstance(exc, Exception):
            await self._end_quietly(exc, AttemptOutcome.CANCELLED, JobStatus.CANCELLED)
        else:
            reason = JobError.from_exception(exc)
            await self._end_quietly(exc, AttemptOutcome.FAILED, JobStatus.FAILED, error=reason)

    async def _succeed(self) -> None:
        try:
            await self._end(AttemptOutcome.SUCCEEDED, JobStatus.SUCCEEDED, result=self._result)
        except InvalidInput as refused:  # a result the store refuses (too large)
            reason = JobError.from_exception(refused)
            await self._end(AttemptOutcome.FAILED, JobStatus.FAILED, error=reason)
            raise

    async def _end_quietly(
        self,
        exc: BaseException,
        outcome: AttemptOutcome,
        status: JobStatus,
        *,
        error: JobError | None = None,
    ) -> None:
        """End the job while ``exc`` escapes the block; a failure to store that is noted on
        ``exc``, which goes on up either way."""
        try:
            await self._end(outcome, status, error=error)
        except Exception as problem:
            job_id = self.job.id
            log.exception("tracked job %s: could not store it %s", job_id, status.value)
            exc.add_note(
                f"queued-jobs: tracked job {job_id} could not be stored {status}: {problem}"
            )

    async def _end(
        self,
        outcome: AttemptOutcome,
        status: JobStatus,
        *,
        error: JobError | None = None,
        **changes: object,
    ) -> QueuedJob:
        running = self._started()
        self._ended = True
        await running.stop()
        now = self._tracker.clock.now()
        host = self._tracker.host
        attempt = attempt_record(running.job, running.started_at, now, outcome, host, error)
        change = running.final_change(status, now, completed_at=now, error=error, **changes)
        stored = await running.write(change, attempt=attempt)
        await release_unique_key(self._tracker.repository, running.job)
        if stored is None:
            log.warning(
                "tracked job %s was changed by someone else; its end (%s) is not stored",
                running.job.id,
                status.value,
            )
            return running.job
        return stored

    def _started(self) -> RunningJob:
        if self._running is None:
            raise RuntimeError("the tracked work has not started: enter its block first")
        return self._running

    def _open(self, target: JobStatus) -> RunningJob:
        running = self._started()
        if self._ended:
            raise InvalidTransition(running.job.id, running.job.status.value, target.value)
        return running


class SyncTrackedWork(LoopBound[TrackedWork]):
    """:class:`TrackedWork` for a ``with`` block: the same record, written from the
    tracker's event loop thread."""

    @property
    def job(self) -> QueuedJob:
        """The job's record as last stored by this work."""
        return self._target.job

    @property
    def cancellation_requested(self) -> bool:
        """Whether someone asked to cancel the job (seen at the latest progress write)."""
        return self._target.cancellation_requested

    def set_result(self, result: JsonValue) -> None:
        """The result stored when the block ends normally (JSON values only)."""
        self._target.set_result(result)

    report_progress = blocking(TrackedWork.report_progress)
    fail = blocking(TrackedWork.fail)

    def __enter__(self) -> Self:
        self._loop.run(self._target.__aenter__())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._loop.run(self._target.__aexit__(exc_type, exc, tb))


def _in_block(
    start: Callable[Concatenate[JobTracker, P], TrackedWork],
) -> Callable[Concatenate[LoopBound[JobTracker], P], SyncTrackedWork]:
    """A sync tracker's ``start``: the async tracker's, wrapped for a ``with`` block."""

    @functools.wraps(start, assigned=("__module__", "__name__", "__doc__"))
    def call(self: LoopBound[JobTracker], /, *args: P.args, **kwargs: P.kwargs) -> SyncTrackedWork:
        return SyncTrackedWork(self._loop, start(self._target, *args, **kwargs))

    return call


class SyncJobTracker(SyncTwin[JobTracker]):
    """The sync twin of :class:`JobTracker`: ``with tracker.start(...) as work:``.

    ``factory`` builds the :class:`JobTracker` (and its repository) on the twin's own event
    loop thread, where all its writes run. Close the twin (or use ``with``) to close the
    tracker and stop the thread.
    """

    def __init__(self, factory: Callable[[], JobTracker]) -> None:
        super().__init__(factory, name="queued-jobs-tracker")

    create_storage = blocking(JobTracker.create_storage)
    start = _in_block(JobTracker.start)
    start_unique = _in_block(JobTracker.start_unique)
