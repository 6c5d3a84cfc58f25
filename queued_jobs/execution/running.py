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
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

from ..clock import Clock
from ..errors import ConcurrencyConflict, JobNotFound, LeaseLost, QueuedJobsError
from ..models import Attempt, JobStatus, Progress, QueuedJob
from ..repositories.base import JobRepository

__all__ = ["NO_LEASE", "LeaseKeeper", "RunningJob"]

log = logging.getLogger("queued_jobs.execution")
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
        self._pending_progress: Progress | None = None
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
        """Push the lease expiry forward (and write progress that was held back)."""
        expires = self._clock.now() + self._lease
        progress, self._pending_progress = self._pending_progress, None
        await self._write_progress(
            progress,
            lambda job: job.model_copy(
                update={
                    "lease_expires_at": expires,
                    "updated_at": self._clock.now(),
                    **({"progress": progress} if progress else {}),
                }
            ),
        )

    async def report_progress(self, progress: Progress) -> None:
        """Store progress now, or, within the throttle interval, soon (the latest wins).
        Once the attempt is over (:meth:`stop`), reports of code still running are dropped."""
        if not self._reporting:
            return
        now = self._clock.now()
        if now - self._last_progress_write >= self._progress_interval:
            self._pending_progress = None
            self._last_progress_write = now
            await self._write_progress(
                progress, lambda job: job.model_copy(update={"progress": progress})
            )
            return
        self._pending_progress = progress
        if self._flush is None or self._flush.done():
            wait = self._progress_interval - (now - self._last_progress_write)
            self._flush = asyncio.create_task(self._flush_later(wait.total_seconds()))

    async def _flush_later(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        progress, self._pending_progress = self._pending_progress, None
        if progress is not None:
            self._last_progress_write = self._clock.now()
            await self._write_progress(
                progress, lambda job: job.model_copy(update={"progress": progress})
            )

    async def _write_progress(self, progress: Progress | None, change: Change) -> None:
        """:meth:`write` in a task of its own, which cancelling the caller (the job's code
        stopped, the lease keeper or the held-back report ended) does not cancel: a write
        cut off in flight may still land, and the next write would then conflict."""
        task = asyncio.create_task(self._carrying(progress, change))
        self._in_flight.add(task)
        task.add_done_callback(self._landed)
        await asyncio.shield(task)

    async def _carrying(self, progress: Progress | None, change: Change) -> QueuedJob | None:
        try:
            return await self.write(change)
        except asyncio.CancelledError:  # given up by stop(): the last write carries it
            if progress is not None and self._pending_progress is None:
                self._pending_progress = progress
            raise

    def _landed(self, task: asyncio.Task[QueuedJob | None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:  # its caller may be gone
            log.debug("job %s: a progress write failed: %s", self.job.id, task.exception())

    def final_change(self, status: JobStatus, now: datetime, **changes: Any) -> Change:
        """The attempt's last change: to ``status``, lease dropped, held-back progress kept."""
        progress, self._pending_progress = self._pending_progress, None
        extra = {"progress": progress} if progress else {}

        def change(job: QueuedJob) -> QueuedJob:
            return job.transition(status, now=now, **NO_LEASE, **extra, **changes)

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
    """Renews an attempt's lease (record and queue message) until stopped, or until the
    attempt lost it: then it renews nothing more."""

    def __init__(
        self,
        running: RunningJob,
        interval: timedelta,
        renew_message: Callable[[], Awaitable[None]] | None,
    ) -> None:
        self._running = running
        self._interval = interval.total_seconds()
        self._renew_message = renew_message
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

    def __enter__(self) -> LeaseKeeper:
        self._task = asyncio.create_task(self._loop())
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
