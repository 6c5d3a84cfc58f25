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
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConcurrencyConflict, InvalidInput, QueuedJobsError
from ..models import JobStatus, QueuedJob
from ..queues.base import MAX_DELAY, QueueBroker
from ..repositories.base import JobQuery, JobRepository
from .messages import encode_message
from .settings import ExecutionSettings

__all__ = ["SweepReport", "Sweeper"]

log = logging.getLogger("queued_jobs.sweep")
#: Unreadable rows named in a sweep's log line; the rest are counted.
_SHOWN = 20


@dataclass(slots=True)
class SweepReport:
    released: int = 0  # scheduled jobs queued
    resent: int = 0  # queued jobs whose message was sent again
    recovered: int = 0  # running jobs with an expired lease, sent to be taken over
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
    ) -> None:
        self.repository = repository
        self.broker = broker
        self.clock = clock
        self.settings = settings or ExecutionSettings()

    async def _jobs(self, status: JobStatus, report: SweepReport) -> AsyncIterator[QueuedJob]:
        query = JobQuery(statuses=frozenset({status}))
        continuation = None
        while True:
            page = await self.repository.list_jobs(query, limit=200, continuation=continuation)
            report.skipped.extend(page.skipped)
            for job in page.items:
                yield job
            if page.continuation is None:
                return
            continuation = page.continuation

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

    async def sweep(self) -> SweepReport:
        """One pass; safe to run from several processes at once."""
        report = SweepReport()
        now = self.clock.now()
        stale = now - self.settings.resend_after
        try:
            async for job in self._jobs(JobStatus.SCHEDULED, report):
                if job.run_at is None or job.run_at - now <= MAX_DELAY:
                    queued = job.transition(JobStatus.QUEUED, now=now)
                    report.released += await self._touch_and_send(queued)
            async for job in self._jobs(JobStatus.QUEUED, report):
                due = job.run_at or job.updated_at
                if job.updated_at <= stale and due <= stale:
                    report.resent += await self._touch_and_send(job.transition(job.status, now=now))
            async for job in self._jobs(JobStatus.RUNNING, report):
                expired = job.lease_expires_at is not None and job.lease_expires_at <= stale
                if expired and job.updated_at <= stale:  # not sent again since
                    touched = job.transition(job.status, now=now)
                    report.recovered += await self._touch_and_send(touched)
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
        if report.released or report.resent or report.recovered:
            log.info("sweep: %s", report)
        return report
