"""Attempt bookkeeping: what counts against ``max_attempts``, and lost attempts.

An attempt abandoned because its worker died is charged to the job only when the job ran
alone on that worker: beside other jobs, any of them (or an operator) may have killed it.
Uncharged abandons are bounded (``ExecutionSettings.uncharged_abandons``), so a job that
kills every worker it shares still ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from ..models import Attempt, AttemptOutcome, JobError, QueuedJob
from ..repositories.base import JobRepository

__all__ = [
    "COUNTED_OUTCOMES",
    "attempt_record",
    "charged_attempts",
    "counted_failures",
    "lease_expired_attempt",
]

#: Outcomes that may use up an attempt (an abandon only under the rule above). A cancelled
#: attempt ends the job; one handed back on shutdown (released) was not the job's fault and
#: does not count.
COUNTED_OUTCOMES: Final = frozenset(
    {AttemptOutcome.FAILED, AttemptOutcome.TIMED_OUT, AttemptOutcome.ABANDONED}
)


def charged_attempts(history: Iterable[Attempt], *, uncharged_abandons: int) -> int:
    """How many of ``history``'s attempts count against ``max_attempts``: failures and
    timeouts, abandons of attempts that ran alone, and abandons beside other jobs past the
    first ``uncharged_abandons``. An attempt recorded twice (same number) counts once."""
    latest = {attempt.number: attempt for attempt in history}
    charged = free = 0
    for number in sorted(latest):
        attempt = latest[number]
        if attempt.outcome not in COUNTED_OUTCOMES:
            continue
        beside = attempt.outcome is AttemptOutcome.ABANDONED and not attempt.alone
        if beside and free < uncharged_abandons:
            free += 1
        else:
            charged += 1
    return charged


async def counted_failures(
    repository: JobRepository, job: QueuedJob, *, extra: Attempt, uncharged_abandons: int
) -> int:
    """How many attempts of ``job`` are charged to it, counting ``extra`` (not yet stored)."""
    history = await repository.list_attempts(job.id)
    return charged_attempts([*history, extra], uncharged_abandons=uncharged_abandons)


def lease_expired_attempt(job: QueuedJob, now: datetime) -> Attempt:
    """The record of an attempt whose worker stopped renewing its lease (it died), from
    the attempt's own start (records stored before that was kept: their last change)."""
    started = job.attempt_started_at or job.updated_at
    return Attempt(
        job_id=job.id,
        number=job.attempts,
        started_at=min(started, now),
        ended_at=now,
        outcome=AttemptOutcome.ABANDONED,
        error=JobError(
            type="queued_jobs.LeaseExpired",
            message=(
                f"worker {job.lease_owner} stopped renewing its lease, which expired at "
                f"{job.lease_expires_at}; the job was taken over"
                + (" (it ran alone there, so the job is charged)" if job.running_alone else "")
            ),
        ),
        host=job.lease_owner or "unknown",
        alone=job.running_alone,
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
        alone=job.running_alone,
    )
