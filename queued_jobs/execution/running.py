"""One claimed attempt's hold on its job record: every write of the attempt goes through it.

Writes are serialized and conditional. When one conflicts (someone asked to cancel, an
operator touched the job), the record is re-read: if the attempt still holds the lease, the
change is applied again on top of the fresh record and a cancellation request is passed on
to the job; if another worker took the job over, the attempt has lost it and stops writing.

A progress write (a report, a held-back report, a lease renewal) is not cancelled with the
code that asked for it: it goes on in its own task, and the attempt's last write waits for
it (:meth:`RunningJob.stop`, bounded) so that it starts from the version that write stored,
with no conflict, and the last progress reported is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

from ..clock import Clock
from ..errors import ConcurrencyConflict, JobNotFound, LeaseLost, QueuedJobsError
from ..models import Attempt, JobOutput, JobStatus, Progress, QueuedJob, output_tail
from ..repositories.base import JobRepository
from ..telemetry.logs import library_logger

__all__ = ["NO_LEASE", "LeaseKeeper", "RunningJob"]

log = library_logger("queued_jobs.execution")
Change = Callable[[QueuedJob], QueuedJob]
_WRITE_TRIES = 5
#: How long :meth:`RunningJob.stop` waits, by default, for a progress write in flight.
SETTLE: Final = timedelta(seconds=5)
#: How long a write in flight gets to end once cancelled (past its bound).
_CANCELLED_WRITE_GRACE: Final = 1.0
#: The changes that drop a job's lease (its attempt ended or was handed back).
NO_LEASE: Final[Mapping[str, None]] = MappingProxyType(
    {"lease_owner": None, "lease_expires_at": None}
)


_NO_OUTPUT: Final = JobOutput()


class _Held:
    """Progress and output reported since the last write that carried them. The output
    is known by where it ends in the job's output (``end``: characters printed in all), so
    that writing it again (a write that landed although it was given up) adds nothing."""

    __slots__ = ("end", "output", "progress")

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.output = ""  # the end of what was printed, at most the record's tail
        self.end: int | None = None  # the job's output length after it; None: no output

    def __bool__(self) -> bool:
        return self.progress is not None or self.end is not None

    def add_output(self, text: str, end: int) -> None:
        self.output = output_tail(self.output + text)
        self.end = end

    def before(self, later: _Held) -> _Held:
        """These reports followed by ``later``'s (a write given up: its reports go first)."""
        merged = _Held()
        merged.progress = later.progress or self.progress
        if self.end is not None:
            merged.add_output(self.output, self.end)
        if later.end is not None:
            merged.add_output(later.output, later.end)
        return merged

    def changes(self, job: QueuedJob) -> dict[str, Any]:
        """What writing these reports changes of ``job``: its progress, and its output,
        with what of it ``job`` does not hold yet (the output says it added nothing when
        none is missing)."""
        update: dict[str, Any] = {}
        if self.progress is not None:
            update["progress"] = self.progress
        output = job.output
        if self.end is None and output is None:  # most jobs: they print nothing
            return update
        output = output or _NO_OUTPUT
        missing = 0 if self.end is None else self.end - output.length
        if missing > 0:
            update["output"] = output.appended(self.output[-missing:], missing)
        elif output.new:
            update["output"] = output.model_copy(update={"new": 0})
        return update


class RunningJob:
    """The claimed record of one attempt, and the only writer of it while the attempt runs."""

    def __init__(
        self,
        repository: JobRepository,
        job: QueuedJob,
        *,
        clock: Clock,
        lease: timedelta,
        progress_interval: timedelta,
        settle: timedelta = SETTLE,
    ) -> None:
        """``settle``: how long :meth:`stop` waits for a progress write in flight to end
        (a store that does not answer); past it the write is cancelled, and the progress
        it carried goes into the attempt's last write instead."""
        self._repository = repository
        self.job = job
        #: When this attempt claimed the job (the claim's write time).
        self.started_at = job.attempt_started_at or job.updated_at
        self._clock = clock
        self._lease = lease
        self._progress_interval = progress_interval
        self._lock = asyncio.Lock()
        self._last_progress_write = clock.now() - progress_interval
        #: Progress and output reported but not yet written (throttled).
        self._held = _Held()
        #: How many characters the job has printed in all (its record's, then this
        #: attempt's reports).
        self._printed = 0 if job.output is None else job.output.length
        self._flush: asyncio.Task[None] | None = None
        self._settle = settle.total_seconds()
        #: Progress writes in flight, each in its own task (see :meth:`_write_progress`).
        self._in_flight: set[asyncio.Task[QueuedJob | None]] = set()
        self.cancelled = asyncio.Event()
        #: Set (with ``lost``) once another worker has the job: this attempt stops writing.
        self.lost_lease = asyncio.Event()
        self.lost = False
        self._reporting = True
        if job.cancel_requested:
            self.cancelled.set()

    def _ours(self, fresh: QueuedJob) -> bool:
        return (
            fresh.status is JobStatus.RUNNING
            and fresh.lease_owner == self.job.lease_owner
            and fresh.attempts == self.job.attempts
        )

    async def write(self, change: Change, *, attempt: Attempt | None = None) -> QueuedJob | None:
        """Apply ``change`` to the latest record and store it; ``None`` if the job was lost."""
        async with self._lock:
            if self.lost:
                return None
            for _ in range(_WRITE_TRIES):
                try:
                    self.job = await self._repository.update(change(self.job), attempt=attempt)
                    return self.job
                except ConcurrencyConflict:
                    try:
                        fresh = await self._repository.get(self.job.id)
                    except JobNotFound:
                        fresh = None
                    if fresh is None or not self._ours(fresh):
                        log.warning("job %s: this attempt lost its lease; it stops", self.job.id)
                        self.lost = True
                        self.lost_lease.set()
                        self.cancelled.set()
                        return None
                    if fresh.cancel_requested:
                        self.cancelled.set()
                    self.job = fresh
            raise ConcurrencyConflict(self.job.id)

    async def extend_lease(self) -> None:
        """Push the lease expiry forward (and write progress and output held back)."""
        expires = self._clock.now() + self._lease
        held = self._take_held()
        await self._write_progress(
            held,
            lambda job: job.model_copy(
                update={
                    "lease_expires_at": expires,
                    "updated_at": self._clock.now(),
                    **held.changes(job),
                }
            ),
        )

    async def report_progress(self, progress: Progress) -> None:
        """Store progress now, or, within the throttle interval, soon (the latest wins).
        Once the attempt is over (:meth:`stop`), reports of code still running are dropped."""
        if not self._reporting:
            return
        self._held.progress = progress
        await self._report()

    async def report_output(self, text: str) -> None:
        """Add ``text`` (clean, :func:`~queued_jobs.models.clean_output`) to the job's
        output: stored with progress, at most once per throttle interval."""
        if not self._reporting or not text:
            return
        self._printed += len(text)
        self._held.add_output(text, self._printed)
        await self._report()

    async def _report(self) -> None:
        now = self._clock.now()
        if now - self._last_progress_write >= self._progress_interval:
            self._last_progress_write = now
            held = self._take_held()
            await self._write_progress(held, lambda job: job.model_copy(update=held.changes(job)))
            return
        if self._flush is None or self._flush.done():
            wait = self._progress_interval - (now - self._last_progress_write)
            self._flush = asyncio.create_task(self._flush_later(wait.total_seconds()))

    async def _flush_later(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        held = self._take_held()
        if held:
            self._last_progress_write = self._clock.now()
            await self._write_progress(held, lambda job: job.model_copy(update=held.changes(job)))

    def _take_held(self) -> _Held:
        held, self._held = self._held, _Held()
        return held

    async def _write_progress(self, held: _Held, change: Change) -> None:
        """:meth:`write` in a task of its own, which cancelling the caller (the job's code
        stopped, the lease keeper or the held-back report ended) does not cancel: a write
        cut off in flight may still land, and the next write would then conflict."""
        task = asyncio.create_task(self._carrying(held, change))
        self._in_flight.add(task)
        task.add_done_callback(self._landed)
        await asyncio.shield(task)

    async def _carrying(self, held: _Held, change: Change) -> QueuedJob | None:
        try:
            return await self.write(change)
        except asyncio.CancelledError:  # given up by stop(): the last write carries it
            self._held = held.before(self._held)
            raise

    def _landed(self, task: asyncio.Task[QueuedJob | None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:  # its caller may be gone
            log.debug("job %s: a progress write failed: %s", self.job.id, task.exception())

    def final_change(self, status: JobStatus, now: datetime, **changes: Any) -> Change:
        """The attempt's last change: to ``status``, lease dropped, held-back progress and
        output kept (after :meth:`stop`, nothing more is held: a last change made again,
        its first refused, carries them too)."""
        held = self._held

        def change(job: QueuedJob) -> QueuedJob:
            return job.transition(status, now=now, **NO_LEASE, **held.changes(job), **changes)

        return change

    async def stop(self) -> None:
        """The attempt's code is over (or left detached): no more progress reports, and the
        progress writes in flight are waited for (at most ``settle``; then they are
        cancelled), so that the last write starts from the version they stored."""
        self._reporting = False
        if self._flush is not None:
            self._flush.cancel()  # a held-back report not yet sent stays for the last write
            await asyncio.gather(self._flush, return_exceptions=True)
        if not self._in_flight:
            return
        _, hung = await asyncio.wait(set(self._in_flight), timeout=self._settle)
        if not hung:
            return
        log.warning(
            "job %s: a progress write got no answer from the store within %ss; it is "
            "given up and its progress goes into the attempt's last write",
            self.job.id,
            self._settle,
        )
        for task in hung:
            task.cancel()
        await asyncio.wait(hung, timeout=_CANCELLED_WRITE_GRACE)


class LeaseKeeper:
    """Renews an attempt's lease (record and queue message, and ``beside``: what else the
    attempt holds for as long, its job type's lease) until stopped, or until the attempt
    lost it: then it renews nothing more."""

    def __init__(
        self,
        running: RunningJob,
        interval: timedelta,
        renew_message: Callable[[], Awaitable[None]] | None,
        *,
        beside: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._running = running
        self._interval = interval.total_seconds()
        self._renew_message = renew_message
        self._beside = beside
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        job_id = self._running.job.id
        while not self._running.lost:
            await asyncio.sleep(self._interval)
            try:
                await self._running.extend_lease()
            except QueuedJobsError as exc:
                log.warning("job %s: could not renew the lease of its record: %s", job_id, exc)
            except Exception:
                log.exception("job %s: could not renew the lease of its record", job_id)
            if self._beside is not None and not self._running.lost:
                await self._renew_beside(job_id, self._beside)
            if self._running.lost or self._renew_message is None:
                continue
            try:
                await self._renew_message()
            except LeaseLost as exc:
                log.warning(
                    "job %s: its queue message is no longer leased to this worker, so it is "
                    "no longer renewed (%s); the job record's lease still is",
                    job_id,
                    exc,
                )
                self._renew_message = None
            except QueuedJobsError as exc:
                log.warning("job %s: could not renew the lease of its message: %s", job_id, exc)
            except Exception:
                log.exception("job %s: could not renew the lease of its message", job_id)

    @staticmethod
    async def _renew_beside(job_id: str, renew: Callable[[], Awaitable[None]]) -> None:
        try:
            await renew()
        except QueuedJobsError as exc:
            log.warning("job %s: could not renew the lease of its job type: %s", job_id, exc)
        except Exception:
            log.exception("job %s: could not renew the lease of its job type", job_id)

    def __enter__(self) -> LeaseKeeper:
        self._task = asyncio.create_task(self._loop())
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
