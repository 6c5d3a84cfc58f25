"""Claiming a job for an attempt: what a message's job comes to (:func:`decide`), and the
conditional write that makes it ours (:func:`claim`), past the job's gates
(:mod:`.limited`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from .._unique import release_unique_key
from ..errors import ConcurrencyConflict, CorruptJobRecord, InvalidInput, JobNotFound
from ..limits.keeper import Blocked, JobGate
from ..models import Attempt, JobStatus, QueuedJob
from ..telemetry.logs import library_logger
from ..telemetry.names import METRIC_TAKEN_OVER
from . import limited
from .attempts import counted_failures, lease_expired_attempt
from .handled import Disposition, Handled, unworkable
from .running import NO_LEASE

if TYPE_CHECKING:
    from .pipeline import Pipeline

__all__ = ["SUSPECT", "Claimed", "Suspect", "claim", "claim_or_dead_letter", "decide"]

log = library_logger("queued_jobs.execution")
_ZERO: Final = timedelta(0)
_CLAIM_TRIES: Final = 5
_EARLY: Final = timedelta(seconds=1)
_SPREAD: Final = "taken over from a dead worker: queued again after a random delay"


class Suspect:
    """A job to take over from a dead worker: claim it alone."""


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job claimed for an attempt, past its gates (:mod:`.limited`)."""

    job: QueuedJob
    entered: limited.Entered


SUSPECT = Suspect()


async def claim_or_dead_letter(
    pipeline: Pipeline,
    job_id: str,
    snapshot: QueuedJob | None,
    *,
    due_now: bool,
    suspects: bool = True,
    alone: bool = False,
    spread: bool = False,
    halt: asyncio.Event | None = None,
) -> Claimed | Handled | Suspect:
    """:meth:`_claim`, or a dead letter for a record that cannot be read or stored."""
    try:
        return await claim(
            pipeline,
            job_id,
            snapshot,
            due_now=due_now,
            suspects=suspects,
            alone=alone,
            spread=spread,
            halt=halt,
        )
    except (CorruptJobRecord, InvalidInput) as exc:
        return unworkable(job_id, exc)


async def claim(
    pipeline: Pipeline,
    job_id: str,
    snapshot: QueuedJob | None,
    *,
    due_now: bool = False,
    suspects: bool = True,
    alone: bool = False,
    spread: bool = False,
    halt: asyncio.Event | None = None,
) -> Claimed | Handled | Suspect:
    """Claim the job for an attempt, past its gates (:mod:`.limited`); with
    ``suspects=False``, a job that would be taken over from a dead worker is not
    claimed (:data:`SUSPECT`: claim it alone). Places taken for a claim that does not
    happen are given back."""
    job = snapshot
    places: tuple[JobGate, ...] = ()
    claimed: Claimed | None = None
    try:
        for _ in range(_CLAIM_TRIES):
            if job is None:
                try:
                    job = await pipeline.repository.get(job_id)
                except JobNotFound:
                    log.warning("job %s: no record; dropping its message", job_id)
                    return Handled(Disposition.ACK, reason="job gone")
            decision = await decide(pipeline, job, due_now=due_now, alone=alone, spread=spread)
            if isinstance(decision, Handled):
                if job.is_terminal:  # one that ended while parked: what was kept goes
                    await limited.forget(pipeline, job)
                return decision
            change, attempt = decision
            taking_over = attempt is not None and change.status is JobStatus.RUNNING
            if taking_over and not suspects:
                return SUSPECT
            entered = limited.NOT_LIMITED
            if change.status is JobStatus.RUNNING:
                passed = await limited.enter(pipeline, job, halt)
                if isinstance(passed, Blocked):
                    places = ()  # given back by the gates
                    held = await limited.hold_back(pipeline, job, passed, attempt)
                    if held is None:
                        job = None
                        continue
                    return held
                entered, places = passed, passed.places
                if entered is not limited.NOT_LIMITED:  # time passed at the gates (a turn
                    again = await decide(  # waited for, maybe): the claim says now
                        pipeline, job, due_now=due_now, alone=alone, spread=spread
                    )
                    if isinstance(again, Handled):
                        return again
                    change, attempt = again
            try:
                stored = await pipeline.repository.update(change, attempt=attempt)
            except ConcurrencyConflict:
                job = None  # changed since we read it: read again and decide again
                continue
            except JobNotFound:  # the message's snapshot outlived the record (purged)
                log.warning("job %s: no record; dropping its message", job_id)
                return Handled(Disposition.ACK, reason="job gone")
            if attempt is not None:  # an attempt whose worker died, recorded
                pipeline.telemetry.metrics.count(METRIC_TAKEN_OVER, job.job_type, job.queue)
            if stored.status is not JobStatus.RUNNING:  # a run hears its claim later
                await pipeline.notify(stored)
            if attempt is not None and stored.status is JobStatus.QUEUED and stored.run_at:
                delay = max(stored.run_at - pipeline.clock.now(), _ZERO)
                return Handled(Disposition.RETRY_LATER, stored, delay, reason=_SPREAD)
            if stored.status is not JobStatus.RUNNING:
                if stored.is_terminal:  # cancelled as asked, or out of attempts
                    pipeline.telemetry.metrics.ended(stored)
                    await release_unique_key(pipeline.repository, stored)
                    await limited.forget(pipeline, stored)
                    pipeline.left_ready_queue(stored, claimed=False)
                return Handled(Disposition.ACK, stored, reason=stored.status.value)
            pipeline.left_ready_queue(stored, claimed=True)
            claimed = Claimed(stored, entered)
            return claimed
        return Handled(Disposition.RETRY_LATER, delay=_EARLY, reason="job kept changing")
    finally:
        if places and claimed is None:
            await pipeline.limits.leave(job_id, places)


async def decide(
    pipeline: Pipeline,
    job: QueuedJob,
    *,
    due_now: bool = False,
    alone: bool = False,
    spread: bool = False,
) -> tuple[QueuedJob, Attempt | None] | Handled:
    """What claiming ``job`` means: a change to store (and an attempt to record with
    it), or what to do with the message instead. ``alone``: the attempt will run with no
    other job beside it; ``spread``: a job taken over is queued again after a random
    delay instead of claimed."""
    now = pipeline.clock.now()
    if job.is_terminal:
        return Handled(Disposition.ACK, job, reason="already finished")
    if job.status is JobStatus.SCHEDULED:
        return Handled(Disposition.ACK, job, reason="scheduled: the sweep will queue it")
    abandoned = None
    if job.status is JobStatus.RUNNING:
        if job.lease_expires_at is not None and job.lease_expires_at > now:
            wait = job.lease_expires_at - now + _EARLY
            return Handled(Disposition.RETRY_LATER, job, wait, reason="running elsewhere")
        abandoned = lease_expired_attempt(job, now)
    if job.cancel_requested:
        cancelled = job.transition(JobStatus.CANCELLED, now=now, completed_at=now, **NO_LEASE)
        return cancelled, abandoned
    if abandoned is not None:
        failures = await counted_failures(
            pipeline.repository,
            job,
            extra=abandoned,
            uncharged_abandons=pipeline.settings.uncharged_abandons,
        )
        if failures >= job.max_attempts:
            failed = job.transition(
                JobStatus.FAILED,
                now=now,
                completed_at=now,
                error=abandoned.error,
                **NO_LEASE,
            )
            return failed, abandoned
        if spread:
            later = now + pipeline.settings.spread_suspects * pipeline.rng.random()
            queued = job.transition(JobStatus.QUEUED, now=now, run_at=later, **NO_LEASE)
            return queued, abandoned
    elif not due_now and job.run_at is not None and job.run_at - now > _EARLY:
        return Handled(Disposition.RETRY_LATER, job, job.run_at - now, reason="not due yet")
    running = job.transition(
        JobStatus.RUNNING,
        now=now,
        attempts=job.attempts + 1,
        started_at=job.started_at or now,
        attempt_started_at=now,
        running_alone=alone,
        waiting=None,
        lease_owner=pipeline.host,
        lease_expires_at=now + pipeline.settings.lease,
    )
    return running, abandoned
