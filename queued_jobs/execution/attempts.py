"""Attempt bookkeeping: what counts against ``max_attempts``, and lost attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from ..models import Attempt, AttemptOutcome, JobError, QueuedJob
from ..repositories.base import JobRepository

__all__ = ["COUNTED_OUTCOMES", "attempt_record", "counted_failures", "lease_expired_attempt"]

#: Outcomes that use up an attempt. A cancelled attempt ends the job; one handed back on
#: shutdown (released) was not the job's fault and does not count.
COUNTED_OUTCOMES: Final = frozenset(
    {AttemptOutcome.FAILED, AttemptOutcome.TIMED_OUT, AttemptOutcome.ABANDONED}
)


async def counted_failures(repository: JobRepository, job: QueuedJob, *, extra: Attempt) -> int:
    """How many attempts of ``job`` have failed, counting ``extra`` (not yet stored)."""
    history = await repository.list_attempts(job.id)
    numbers = {a.number for a in history if a.outcome in COUNTED_OUTCOMES}
    if extra.outcome in COUNTED_OUTCOMES:
        numbers.add(extra.number)
    return len(numbers)


def lease_expired_attempt(job: QueuedJob, now: datetime) -> Attempt:
    """The record of an attempt whose worker stopped renewing its lease (it died)."""
    return Attempt(
        job_id=job.id,
        number=job.attempts,
        started_at=job.updated_at if job.updated_at <= now else now,
        ended_at=now,
        outcome=AttemptOutcome.ABANDONED,
        error=JobError(
            type="queued_jobs.LeaseExpired",
            message=(
                f"worker {job.lease_owner} stopped renewing its lease, which expired at "
                f"{job.lease_expires_at}; the job was taken over"
            ),
        ),
        host=job.lease_owner or "unknown",
    )


def attempt_record(
    job: QueuedJob,
    started: datetime,
    now: datetime,
    outcome: AttemptOutcome,
    host: str,
    error: JobError | None,
) -> Attempt:
    """The record of the attempt ``job`` is on (its ``attempts`` number), ending ``now``."""
    return Attempt(
        job_id=job.id,
        number=job.attempts,
        started_at=started,
        ended_at=now,
        outcome=outcome,
        error=error,
        host=host,
    )
