"""Firing: the pass that turns due schedules into jobs, each slot exactly once.

:meth:`ScheduleFirer.fire_due` reads the schedules due (the store's due index: one query
however many schedules are stored), chooses the slots to fire by the catch-up and
overlap policies (:mod:`._choice`), and for each slot:

1. makes the job's id ahead and inserts the slot's marker naming it. The insert is
   atomic and refuses a second marker of the slot, from any process: **the marker is the
   one decision**, so two firers (workers, Functions instances) never both start a job
   for one slot;
2. stores and queues the job under that id. A firer that lost the marker race leaves
   the schedule to the winner for this pass (it reads and writes nothing more). A
   marker older than :data:`RECOVER_AFTER` whose job is not stored is a firer that died
   between the two writes: the next firer stores the job itself. The id is the
   marker's, so the job exists once, whoever stores it first (``JobAlreadyExists`` for
   the others), and only the one that stored it sends its message. A job stored but
   never sent is re-sent by the sweep;
3. moves the schedule's ``next_slot`` past the slots considered, with a write guarded
   by the version read; a firer whose write conflicts re-reads the schedule and goes on
   from what it finds (markers keep a slot from firing twice whatever the order).

A crash anywhere leaves the schedule due, so the next pass finishes the work. Storage
requests per slot fired on Azure: the marker insert, the job's insert transaction, the
message send; plus one schedule update and one due query per pass.

A job that cannot be built (its job type no longer registered, its request no longer
valid for the job type) is stored ``failed`` with the reason, so that the slot's outcome
is visible to its owner rather than retried for ever. A schedule whose rule or time zone
this host cannot read is left as it is (another host may), with an error logged once.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from ..client import JobClient
from ..errors import (
    ConcurrencyConflict,
    InvalidInput,
    JobAlreadyExists,
    JobNotFound,
    QueuedJobsError,
    ScheduleNotFound,
    SlotAlreadyFired,
)
from ..models import JobError, JobStatus, QueuedJob, new_job_id
from ..telemetry.logs import library_logger
from ._choice import choose_slots
from .jobs import schedule_job_spec
from .model import Overlap, Schedule, SlotMarker
from .rules import parse_rule, parse_zone

__all__ = [
    "DEFAULT_GRACE",
    "FIRING_PAGE",
    "RECOVER_AFTER",
    "FiringReport",
    "ScheduleFirer",
]

log = library_logger("queued_jobs.schedules")

#: A slot fired later than this after its time counts as missed (its catch-up policy
#: decides); sooner, it is on time.
DEFAULT_GRACE: Final = timedelta(minutes=5)
#: A slot's marker this old without its job is a firer that died before storing it.
RECOVER_AFTER: Final = timedelta(seconds=30)
#: Due schedules read per query; a pass reads again while pages come back full.
FIRING_PAGE: Final = 100
_PASS_PAGES: Final = 10
_TRIES: Final = 5
#: Schedules a pass fires at once (their writes in flight together).
_AT_ONCE: Final = 16
_ACTIVE: Final = frozenset({JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.RUNNING})


@dataclass(slots=True)
class FiringReport:
    #: Schedules read as due.
    due: int = 0
    #: Jobs this pass started for slots (stored and sent by this firer).
    fired: int = 0
    #: Slots whose marker another firer had set: their job was there, or stored here.
    already_fired: int = 0
    #: Due slots passed over: missed ones the catch-up policy skips, or skipped while the
    #: last job was active (at least this many).
    passed_over: int = 0
    #: Last jobs cancelled by ``Overlap.CANCEL``.
    cancelled: int = 0
    #: Slots whose job could not be built, stored failed with the reason.
    failed: int = 0
    #: Schedules this host could not fire (an unreadable rule or zone, a storage error).
    errors: list[str] = field(default_factory=list)


class _BeingFired(Exception):
    """A slot's marker is fresh: another firer is firing the schedule right now."""

    def __init__(self, fired_at: datetime) -> None:
        self.fired_at = fired_at


class ScheduleFirer:
    """Fires the due schedules of ``client``'s store; safe to run in any number of
    processes at once.

    ``horizon``: slots up to this far ahead fire now, their jobs held until their time
    (a host that runs a pass every minute fires each slot on time); ``grace``: how late a
    slot may fire and still count as on time.
    """

    def __init__(
        self,
        client: JobClient,
        *,
        horizon: timedelta = timedelta(0),
        grace: timedelta = DEFAULT_GRACE,
        holder: str | None = None,
    ) -> None:
        if horizon < timedelta(0) or grace < timedelta(0):
            raise InvalidInput("a firing horizon and grace are zero or longer")
        self.client = client
        self.store = client.repository.schedules
        self.horizon = horizon
        self.grace = grace
        host = socket.gethostname()[:100]
        self.holder = holder or f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._reported: set[tuple[str, str | None]] = set()
        #: Schedules left to another firer: the version seen, and when its marker was set.
        self._left: dict[str, tuple[str | None, datetime]] = {}

    async def fire_due(self) -> FiringReport:
        """One pass: every schedule due now (up to a thousand; the rest next pass)."""
        report = FiringReport()
        stale = self.client.clock.now() - RECOVER_AFTER
        self._left = {key: left for key, left in self._left.items() if left[1] > stale}
        for _ in range(_PASS_PAGES):
            now = self.client.clock.now()
            due = await self.store.list_due_schedules(now=now + self.horizon, limit=FIRING_PAGE)
            report.due += len(due)
            gate = asyncio.Semaphore(_AT_ONCE)
            await asyncio.gather(*(self._fire_guarded(s, report, gate) for s in due))
            if len(due) < FIRING_PAGE:
                break
        if report.fired or report.failed or report.passed_over or report.errors:
            log.info("schedules: %s", report)
        return report

    async def _fire_guarded(
        self, schedule: Schedule, report: FiringReport, gate: asyncio.Semaphore
    ) -> None:
        async with gate:
            try:
                await self._fire(schedule, report)
            except QueuedJobsError as exc:
                report.errors.append(schedule.id)
                log.warning("schedule %s: not fired this pass: %s", schedule.id, exc)

    async def _fire(self, schedule: Schedule, report: FiringReport) -> None:
        """Fire ``schedule``'s due slots and move it on, re-reading it after a conflict."""
        left = self._left.pop(schedule.id, None)
        now = self.client.clock.now()
        if left is not None and left[0] == schedule.version and now - left[1] < RECOVER_AFTER:
            # Still as another firer found it: it is at work (or died: then its marker
            # goes stale, and this firer looks again).
            self._left[schedule.id] = left
            return
        current: Schedule | None = schedule
        for _ in range(_TRIES):
            if current is None or not current.is_due(self.client.clock.now() + self.horizon):
                return
            try:
                await self._fire_once(current, report)
                return
            except _BeingFired as busy:
                # another firer is at it now: its pass moves the schedule on
                self._left[current.id] = (current.version, busy.fired_at)
                return
            except ConcurrencyConflict:
                try:
                    current = await self.store.get_schedule(current.id)
                except ScheduleNotFound:
                    return
        raise ConcurrencyConflict(schedule.id, kind="schedule")

    async def _fire_once(self, schedule: Schedule, report: FiringReport) -> None:
        try:
            rule = parse_rule(schedule.rule)
            zone = parse_zone(schedule.time_zone)
        except InvalidInput as exc:
            self._unreadable(schedule, exc, report)
            return
        now = self.client.clock.now()
        choice = choose_slots(schedule, rule, zone, now=now, grace=self.grace, horizon=self.horizon)
        report.passed_over += choice.passed_over
        last_slot, last_job_id = schedule.last_slot, schedule.last_job_id
        if choice.fire and not await self._may_start(schedule, report):
            report.passed_over += len(choice.fire)
        else:
            claimed: list[tuple[datetime, str]] = []
            try:
                for slot in choice.fire:
                    last_slot, (last_job_id, ours) = slot, await self._claim(schedule, slot, report)
                    if ours:
                        claimed.append((slot, last_job_id))
            except _BeingFired:
                await self._store_jobs(schedule, claimed, report)
                raise
            await self._store_jobs(schedule, claimed, report)
        moved = schedule.with_changes(
            now=self.client.clock.now(),
            next_slot=rule.next_after(choice.through, zone),
            last_slot=last_slot,
            last_job_id=last_job_id,
        )
        try:
            await self.store.update_schedule(moved)
        except ScheduleNotFound:
            return  # deleted meanwhile: it fires nothing more

    async def _may_start(self, schedule: Schedule, report: FiringReport) -> bool:
        """Whether the overlap policy lets a new job start (cancelling the last job under
        ``Overlap.CANCEL``)."""
        if schedule.overlap is Overlap.ALLOW or schedule.last_job_id is None:
            return True
        try:
            last = await self.client.repository.get(schedule.last_job_id)
        except JobNotFound:
            return True
        if last.status not in _ACTIVE:
            return True
        if schedule.overlap is Overlap.SKIP:
            log.info(
                "schedule %s: slot skipped: job %s is still %s",
                schedule.id,
                last.id,
                last.status.value,
            )
            return False
        await self.client.cancel(last.id)
        report.cancelled += 1
        return True

    async def _claim(
        self, schedule: Schedule, slot: datetime, report: FiringReport
    ) -> tuple[str, bool]:
        """Set ``slot``'s marker: its job's id, and whether this firer is to store the job
        with the pass's others (it set the marker). A marker's job that its firer never
        stored (it died between the two) is stored here at once."""
        now = self.client.clock.now()
        job_id = new_job_id(schedule.owner, now=now)
        marker = SlotMarker.of(schedule.id, slot, job_id=job_id, fired_by=self.holder, fired_at=now)
        try:
            await self.store.insert_slot_marker(marker)
            return job_id, True
        except SlotAlreadyFired as fired:
            report.already_fired += 1
            mine = fired.existing.fired_by == self.holder  # from a try before a conflict
            if not mine and fired.existing.fired_at > now - RECOVER_AFTER:
                raise _BeingFired(fired.existing.fired_at) from None
            try:
                await self.client.repository.get(fired.job_id)
            except JobNotFound:
                # Its firer stopped before storing the job: store it here, alone, so that
                # another firer doing the same can only make this one store fail whole
                # (in a batch, the jobs of its other transactions would be left unsent).
                await self._store_jobs(schedule, [(slot, fired.job_id)], report)
            return fired.job_id, False

    async def _store_jobs(
        self, schedule: Schedule, claimed: list[tuple[datetime, str]], report: FiringReport
    ) -> None:
        """Store and queue the claimed slots' jobs: one batch (on Azure one transaction
        for up to a dozen jobs), or one by one if another firer stored one of them."""
        if not claimed:
            return
        now = self.client.clock.now()
        specs = [
            schedule_job_spec(
                schedule, slot=slot, job_id=job_id, run_at=slot if slot > now else None
            )
            for slot, job_id in claimed
        ]
        try:
            await self.client.queue_jobs(specs)
            report.fired += len(specs)
            return
        except JobAlreadyExists:
            if len(specs) == 1:
                return
        except InvalidInput as exc:  # its type or request no longer fits this app
            for slot, job_id in claimed:
                await self._store_failed(schedule, slot, job_id, exc, report)
            return
        for spec in specs:
            try:
                await self.client.queue_jobs([spec])
                report.fired += 1
            except JobAlreadyExists:
                pass

    async def _store_failed(
        self,
        schedule: Schedule,
        slot: datetime,
        job_id: str,
        exc: InvalidInput,
        report: FiringReport,
    ) -> None:
        """Store the slot's job ``failed`` with the reason it cannot be built."""
        now = self.client.clock.now()
        spec = schedule_job_spec(schedule, slot=slot, job_id=job_id)
        error = JobError(
            type="queued_jobs.ScheduleFiringFailed",
            message=f"schedule {schedule.name!r} ({schedule.id}) could not start its job "
            f"for {slot.isoformat()}: {exc}",
        )
        job = QueuedJob.new(
            owner=schedule.owner,
            job_type=schedule.job_type,
            request=schedule.request,
            now=now,
            job_id=job_id,
            queue=self.client.queues.for_priority(schedule.priority),
            priority=schedule.priority,
            max_attempts=schedule.max_attempts,
            correlation_id=spec.correlation_id,
            tags=tuple(spec.tags),
            custom_data=dict(spec.custom_data),
            status=JobStatus.FAILED,
            completed_at=now,
            error=error,
        )
        try:
            await self.client.repository.insert(job)
        except JobAlreadyExists:
            return
        report.failed += 1
        log.error("%s", error.message)

    def _unreadable(self, schedule: Schedule, exc: InvalidInput, report: FiringReport) -> None:
        report.errors.append(schedule.id)
        seen = (schedule.id, schedule.version)
        if seen in self._reported:
            return
        self._reported.add(seen)
        log.error(
            "schedule %s (%r) cannot be fired by this host: %s; it is left as it is "
            "(update its rule or time zone, or pause it)",
            schedule.id,
            schedule.name,
            exc,
        )
