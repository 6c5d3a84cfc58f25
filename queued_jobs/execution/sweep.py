"""The sweep: the periodic pass that makes sure no job is forgotten.

- a ``scheduled`` job due within the queue's 7-day delay is queued (its message sent with
  the remaining delay);
- a ``queued`` job due for ``resend_after`` whose record has not changed meanwhile gets its
  message again
  (the process that stored it may have died before sending it; a duplicate is harmless);
- a ``running`` job whose lease expired ``resend_after`` ago gets a message, so that a worker
  takes it over even if its own message is gone (and again only once ``resend_after`` has
  passed since, not at every pass).

Every resend first touches the record with a conditional write, so that several sweepers
running at once send one message, not one each. A row that cannot be read is skipped,
counted and named in the log (``SweepReport.skipped``); it never ends a pass.

**What a pass reads.** The repository's due index (``JobRepository.list_due``) holds, for
each job the sweep may act on, the moment it becomes due; a pass reads only the jobs due
``resend_after`` ago (on Azure one query per shard and index, however large the table),
at most :data:`PASS_PAGES` pages of :data:`PAGE` jobs (the rest: next pass). Records
stored by a version without that index are in it from their next write; until then a
*full pass* finds them (``JobRepository.list_unindexed``, read after the due index: the
scheduled, queued and running jobs the index does not hold; on Azure the one read in
proportion to the table, the service reading every job row): once per
``full_pass_every`` (an hour) across all processes. The full pass also purges the change
feed's changes older than ``ExecutionSettings.change_retention`` (a day;
``JobRepository.purge_changes``: on Azure a query per shard, and a transaction per 100
changes purged) and the presences of hosts not seen for :data:`PRESENCE_RETENTION` (a
day; ``JobRepository.purge_presences``: on Azure a query of the presence partition, and a
delete per host gone) and the schedules' slot markers fired more than
:data:`MARKER_RETENTION` ago (30 days, up to a thousand a pass;
``ScheduleStore.purge_slot_markers``): a slot that old never fires again, as a schedule's
next slot only moves forward.

**One sweeper at a time.** A pass first takes the store-wide lease ``sweep`` for
``lease_for`` (50 seconds); a sweeper that finds it held by another skips its pass
(``SweepReport.held_elsewhere``). So however many workers and Functions instances sweep
every minute, about one pass a minute runs; if its holder dies, the next one after the
lease ran out sweeps.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConcurrencyConflict, InvalidInput, QueuedJobsError
from ..fairness.admission import Admission
from ..models import JobStatus, QueuedJob
from ..queues.base import MAX_DELAY, QueueBroker
from ..repositories.base import JobRepository, Page
from ..telemetry.logs import library_logger
from .messages import encode_message
from .settings import ExecutionSettings

__all__ = [
    "FULL_PASS_EVERY",
    "MARKER_RETENTION",
    "PAGE",
    "PASS_PAGES",
    "PRESENCE_RETENTION",
    "SWEEP_LEASE",
    "SWEEP_LEASE_NAME",
    "SweepReport",
    "Sweeper",
]

log = library_logger("queued_jobs.sweep")
#: Unreadable rows named in a sweep's log line; the rest are counted.
_SHOWN = 20
#: Due jobs read per page, and pages read at most per pass.
PAGE: Final = 200
PASS_PAGES: Final = 5
SWEEP_LEASE_NAME: Final = "sweep"
_FULL_PASS_LEASE_NAME: Final = "sweep-full-pass"
#: What the full pass looks for outside the due index.
_UNINDEXED: Final = frozenset({JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.RUNNING})
SWEEP_LEASE: Final = timedelta(seconds=50)
#: The full pass deletes the presences of hosts not seen for this long.
PRESENCE_RETENTION: Final = timedelta(days=1)
FULL_PASS_EVERY: Final = timedelta(hours=1)
#: The full pass deletes the slot markers of schedules fired longer ago than this.
MARKER_RETENTION: Final = timedelta(days=30)
_SWEPT: Final = frozenset({JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.RUNNING})


@dataclass(slots=True)
class SweepReport:
    released: int = 0  # scheduled jobs queued
    resent: int = 0  # queued jobs whose message was sent again
    recovered: int = 0  # running jobs with an expired lease, sent to be taken over
    #: Another sweeper holds the sweep's lease: this pass did nothing.
    held_elsewhere: bool = False
    #: This pass read every scheduled, queued and running job, not only the due index.
    full: bool = False
    #: Changes the full pass purged from the change feed (past the retention).
    changes_purged: int = 0
    #: Presences of hosts not seen for :data:`PRESENCE_RETENTION`, purged by the full pass.
    presences_purged: int = 0
    #: Slot markers older than :data:`MARKER_RETENTION`, purged by the full pass.
    markers_purged: int = 0
    #: Ids of job rows that could not be read, passed over.
    skipped: list[str] = field(default_factory=list)


class Sweeper:
    def __init__(
        self,
        repository: JobRepository,
        broker: QueueBroker,
        *,
        clock: Clock = SYSTEM_CLOCK,
        settings: ExecutionSettings | None = None,
        lease_for: timedelta = SWEEP_LEASE,
        full_pass_every: timedelta | None = FULL_PASS_EVERY,
        holder: str | None = None,
        admission: Admission | None = None,
    ) -> None:
        """``lease_for``: how long a pass keeps others from sweeping; ``full_pass_every``:
        how often (across processes) a pass reads every unfinished job (``None``: never);
        ``holder``: this sweeper's name in the lease (default: host, process, random);
        ``admission``: the owner share, which a scheduled job passes when it is queued."""
        self.repository = repository
        self.admission = admission
        self.broker = broker
        self.clock = clock
        self.settings = settings or ExecutionSettings()
        self.lease_for = lease_for
        self.full_pass_every = full_pass_every
        host = socket.gethostname()[:100]
        self.holder = holder or f"{host}:{os.getpid()}:{uuid.uuid4().hex[:12]}"

    async def _due(self, due_by: datetime, report: SweepReport) -> AsyncIterator[QueuedJob]:
        async def page(continuation: str | None) -> Page[QueuedJob]:
            return await self.repository.list_due(
                _SWEPT, due_by=due_by, limit=PAGE, continuation=continuation
            )

        async for job in _paged(page, report, pages=PASS_PAGES):
            yield job

    async def _unindexed(self, report: SweepReport) -> AsyncIterator[QueuedJob]:
        """The scheduled, queued and running jobs the due index does not hold."""

        async def page(continuation: str | None) -> Page[QueuedJob]:
            return await self.repository.list_unindexed(
                _UNINDEXED, limit=PAGE, continuation=continuation
            )

        async for job in _paged(page, report):
            yield job

    async def _touch_and_send(self, changed: QueuedJob) -> bool:
        try:
            stored = await self.repository.update(changed)
        except ConcurrencyConflict:
            return False  # someone else moved it (a worker, another sweeper): theirs now
        except InvalidInput as exc:  # a record stored before the write gate refused its kind
            log.error("sweep: job %s left as it is: %s", changed.id, exc)
            return False
        now = self.clock.now()
        delay = max(stored.run_at - now, timedelta(0)) if stored.run_at else None
        await self.broker.queue(stored.queue).send(
            encode_message(stored, await self.repository.message_key()), delay=delay
        )
        return True

    async def _settle(self, job: QueuedJob, report: SweepReport) -> None:
        """Act on one job if it is due (it may have moved on since it was listed)."""
        now = self.clock.now()
        stale = now - self.settings.resend_after
        if job.status is JobStatus.SCHEDULED:
            if job.run_at is None or job.run_at - now <= MAX_DELAY:
                queued = job.transition(JobStatus.QUEUED, now=now)
                if self.admission is not None:
                    queued = await self.admission.admit_one(queued)
                report.released += await self._touch_and_send(queued)
        elif job.status is JobStatus.QUEUED:
            due = job.run_at or job.updated_at
            if job.updated_at <= stale and due <= stale:
                report.resent += await self._touch_and_send(job.transition(job.status, now=now))
        elif job.status is JobStatus.RUNNING:
            expired = job.lease_expires_at is not None and job.lease_expires_at <= stale
            if expired and job.updated_at <= stale:  # not sent again since
                touched = job.transition(job.status, now=now)
                report.recovered += await self._touch_and_send(touched)

    async def _full_pass_due(self, now: datetime) -> bool:
        if self.full_pass_every is None:
            return False
        until = now + self.full_pass_every
        # A fresh holder each time: the lease is taken only once it ran out.
        return await self.repository.take_lease(
            _FULL_PASS_LEASE_NAME, uuid.uuid4().hex, now=now, until=until
        )

    async def sweep(self) -> SweepReport:
        """One pass, unless another sweeper holds the lease; safe to run from several
        processes at once."""
        report = SweepReport()
        now = self.clock.now()
        try:
            taken = await self.repository.take_lease(
                SWEEP_LEASE_NAME, self.holder, now=now, until=now + self.lease_for
            )
            if not taken:
                report.held_elsewhere = True
                return report
            report.full = await self._full_pass_due(now)
            async for job in self._due(now - self.settings.resend_after, report):
                await self._settle(job, report)
            if report.full:  # and the jobs the index does not hold, old changes and hosts
                async for job in self._unindexed(report):
                    await self._settle(job, report)
                report.changes_purged = await self.repository.purge_changes(
                    older_than=self.settings.change_retention
                )
                report.presences_purged = await self.repository.purge_presences(
                    seen_before=now - PRESENCE_RETENTION
                )
                report.markers_purged = await self.repository.schedules.purge_slot_markers(
                    fired_before=now - MARKER_RETENTION
                )
        except QueuedJobsError:
            log.exception("sweep stopped early; the next one carries on")
        if report.skipped:
            shown = ", ".join(report.skipped[:_SHOWN])
            more = len(report.skipped) - _SHOWN
            log.error(
                "sweep: skipped %d job records that cannot be read: %s%s "
                "(queued-jobs status ID says why; delete or repair them)",
                len(report.skipped),
                shown,
                f" and {more} more" if more > 0 else "",
            )
        if (
            report.released
            or report.resent
            or report.recovered
            or report.changes_purged
            or report.presences_purged
            or report.markers_purged
        ):
            log.info("sweep: %s", report)
        return report


async def _paged(
    fetch: Callable[[str | None], Awaitable[Page[QueuedJob]]],
    report: SweepReport,
    *,
    pages: int | None = None,
) -> AsyncIterator[QueuedJob]:
    """The jobs of ``fetch``'s pages, followed from one continuation to the next (at most
    ``pages`` of them); the rows they could not read are named in ``report``."""
    continuation = None
    read = 0
    while pages is None or read < pages:
        page = await fetch(continuation)
        read += 1
        report.skipped.extend(page.skipped)
        for job in page.items:
            yield job
        if page.continuation is None:
            return
        continuation = page.continuation
