"""Jobs of types with limits (``queued_jobs.limits``): their way past the gates before the
claim, and what becomes of a job a gate holds back.

The gates are passed *before* the claim, so that a job held back costs no attempt and no
claim: its record only says why it waits (:attr:`~queued_jobs.models.QueuedJob.waiting`),
in one write.

- held back by a **concurrency** limit, the job is parked at the gate and its message
  deleted: it holds neither a worker nor a message. The first job of its key to give a
  place back keeps the place for it and sends it a message; if that never comes (the
  sender died), the sweep sends one once ``waiting.until`` is ``resend_after`` past.
- held back by a **rate**, the job has its turn: within :data:`HOLD_IN_PLACE` it waits
  for it where it is (a queue's delays are whole seconds); later turns come back as a new
  message delayed to the turn.

A job that ended while parked (cancelled) gives back what was kept for it and wakes the
next, when its message comes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from ..errors import ConcurrencyConflict, InvalidInput, JobNotFound
from ..limits.keeper import Blocked, JobGate, gates_of
from ..models import Attempt, JobStatus, QueuedJob
from ..models.waiting import WaitKind
from ..telemetry.logs import library_logger
from .handled import Disposition, Handled
from .running import NO_LEASE

if TYPE_CHECKING:
    from .pipeline import Pipeline

__all__ = ["HOLD_IN_PLACE", "Entered", "enter", "forget", "hold_back"]

log = library_logger("queued_jobs.execution")
#: A rate's turn this close is waited for in place (a queue delays by whole seconds).
HOLD_IN_PLACE: Final = timedelta(seconds=2)
_IN_PLACE_WAITS: Final = 3
_ZERO: Final = timedelta(0)


@dataclass(frozen=True, slots=True)
class Entered:
    """A job past its gates: the places it holds, or why its gates could not be told
    (a key function that failed: the job fails with it once claimed)."""

    places: tuple[JobGate, ...] = ()
    error: Exception | None = None


NOT_LIMITED: Final = Entered()


async def enter(
    pipeline: Pipeline, job: QueuedJob, halt: asyncio.Event | None
) -> Entered | Blocked:
    """Pass ``job``'s gates (none for a type without limits, at no cost)."""
    if job.job_type not in pipeline.registry:
        return NOT_LIMITED
    limits = pipeline.registry.get(job.job_type).limits
    if not limits:
        return NOT_LIMITED
    try:
        gates = gates_of(limits, job)
    except Exception as exc:  # a key function is the application's code
        error = (
            exc
            if isinstance(exc, InvalidInput)
            else InvalidInput(
                f"a key function of the job's limits failed: {type(exc).__name__}: {exc}"
            )
        )
        return Entered(error=error)
    turn = None
    for _ in range(_IN_PLACE_WAITS):
        passed = await pipeline.limits.enter(job, gates, turn=turn)
        if not isinstance(passed, Blocked):
            return Entered(tuple(passed))
        waiting = passed.waiting
        wait = waiting.until - pipeline.clock.now()
        if waiting.kind is not WaitKind.RATE or wait > HOLD_IN_PLACE:
            return passed
        if not await _waited(wait, halt):
            return passed
        turn = waiting.until
    return passed if isinstance(passed, Blocked) else Entered(tuple(passed))


async def _waited(wait: timedelta, halt: asyncio.Event | None) -> bool:
    """Wait ``wait``; whether it was waited to its end (not halted meanwhile)."""
    seconds = max(wait.total_seconds(), 0.0)
    if halt is None:
        await asyncio.sleep(seconds)
        return True
    try:
        await asyncio.wait_for(halt.wait(), timeout=seconds)
    except TimeoutError:
        return True
    return False


async def hold_back(
    pipeline: Pipeline, job: QueuedJob, blocked: Blocked, abandoned: Attempt | None
) -> Handled | None:
    """Store that ``job`` waits (with the attempt a dead worker abandoned, if it was taken
    over), and say what becomes of its message; ``None`` if the record changed meanwhile
    (read it again and decide again)."""
    now = pipeline.clock.now()
    waiting = blocked.waiting
    if job.status is JobStatus.RUNNING:  # taken over: its place went to another job
        held = job.transition(JobStatus.QUEUED, now=now, waiting=waiting, **NO_LEASE)
    else:
        held = job.changed(waiting=waiting, updated_at=now)
    try:
        stored = await pipeline.repository.update(held, attempt=abandoned)
    except ConcurrencyConflict:
        return None
    except JobNotFound:
        return Handled(Disposition.ACK, reason="job gone")
    await pipeline.notify(stored)
    log.info(
        "job %s (%s) waits on limit %r (key %r): %s",
        stored.id,
        stored.job_type,
        waiting.limit,
        waiting.key,
        waiting.reason,
    )
    if waiting.kind is WaitKind.CONCURRENCY:
        return Handled(Disposition.ACK, stored, reason=f"parked: {waiting.reason}")
    delay = max(waiting.until - now, _ZERO)
    if await pipeline.send_again(stored, delay):
        return Handled(Disposition.ACK, stored, reason=f"its turn comes: {waiting.reason}")
    return Handled(Disposition.RETRY_LATER, stored, delay, reason=waiting.reason)


async def forget(pipeline: Pipeline, job: QueuedJob) -> None:
    """A job that ended while it was parked: give back the place kept for it, if one
    was, remove it from the gate's parked jobs and wake the next."""
    waiting = job.waiting
    if waiting is None or waiting.kind is not WaitKind.CONCURRENCY:
        return
    limit = pipeline.registry.limit(waiting.limit)
    if limit is None:
        return
    await pipeline.limits.leave(job.id, [JobGate(limit, waiting.key)], parked=True)
