"""A job's history (:class:`~.schemas.HistoryItem` s), read off its record and its attempts:
the store keeps no log of changes beyond its bounded change feed, but each attempt keeps
when and where it ran and how it ended, and the record when the job was created and
finished.

In order: the job ``queued`` (or ``scheduled``) when it was created; for each attempt,
``running`` when it started, on its host, then how it ended (``succeeded``, ``failed``,
``timed_out``, ``cancelled``, ``abandoned`` when its worker died and the job was taken
over, ``released`` when it was handed back on shutdown), then ``queued`` again when
another attempt followed or is due; the attempt running now; ``cancel_requested`` when the
record says so; the job's final status when it finished, unless its last attempt's end
already says it.

What the records keep no time for is placed at the moment nearest to it that they do: a
retry at the end of the attempt before it (also a retry asked for by hand, later), a
cancellation request when the attempt that saw it ended (while it runs: the record's
last change), the release of a scheduled job not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from ..models import Attempt, AttemptOutcome, JobStatus, QueuedJob
from ..queues.base import MAX_DELAY
from .schemas import HistoryItem, HistoryStatus

__all__ = ["job_history"]

_JOB: Final[dict[JobStatus, HistoryStatus]] = {
    JobStatus.SCHEDULED: "scheduled",
    JobStatus.QUEUED: "queued",
    JobStatus.RUNNING: "running",
    JobStatus.SUCCEEDED: "succeeded",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}
_ENDED: Final[dict[AttemptOutcome, HistoryStatus]] = {
    AttemptOutcome.SUCCEEDED: "succeeded",
    AttemptOutcome.FAILED: "failed",
    AttemptOutcome.TIMED_OUT: "timed_out",
    AttemptOutcome.CANCELLED: "cancelled",
    AttemptOutcome.ABANDONED: "abandoned",
    AttemptOutcome.RELEASED: "released",
}
_WAITING: Final = frozenset({JobStatus.QUEUED, JobStatus.SCHEDULED})
#: The most characters of an error's message an entry repeats (``/attempts`` has it all).
_DETAIL_LIMIT: Final = 500


def _cut(text: str) -> str:
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def _item(
    status: HistoryStatus,
    at: datetime,
    *,
    host: str | None = None,
    attempt: int | None = None,
    detail: str | None = None,
) -> HistoryItem:
    return HistoryItem(status=status, at=at, host=host, attempt=attempt, detail=detail)


def _created(job: QueuedJob) -> HistoryItem:
    # Before a retry sets it anew, run_at is the one the job was created with.
    first_wait = job.run_at if job.attempts <= 1 else None
    scheduled = (job.status is JobStatus.SCHEDULED and job.attempts == 0) or (
        first_wait is not None and first_wait - job.created_at > MAX_DELAY
    )
    detail = "created"
    if job.run_at is not None and job.attempts == 0 and job.run_at > job.created_at:
        detail = f"created to run at {job.run_at:%Y-%m-%d %H:%M:%S} UTC"
    return _item("scheduled" if scheduled else "queued", job.created_at, detail=detail)


def _ended(attempt: Attempt, ended_at: datetime) -> HistoryItem:
    if attempt.error is not None:
        detail: str | None = _cut(attempt.error.message)
    elif attempt.outcome is AttemptOutcome.RELEASED:
        detail = "handed back unfinished when its worker shut down"
    else:
        detail = None
    return _item(
        _ENDED[attempt.outcome],
        ended_at,
        host=attempt.host,
        attempt=attempt.number,
        detail=detail,
    )


def _waiting_again(job: QueuedJob, attempt: Attempt, at: datetime, last: bool) -> HistoryItem:
    """The job waiting for its next attempt after ``attempt`` (the last one if ``last``)."""
    status: HistoryStatus = "queued"
    detail = None
    if last:
        status = _JOB[job.status]
        if job.run_at is not None and job.run_at > at:
            detail = f"retry at {job.run_at:%Y-%m-%d %H:%M:%S} UTC"
    return _item(status, at, attempt=attempt.number + 1, detail=detail)


def _running_now(job: QueuedJob, now: datetime) -> HistoryItem:
    started = job.attempt_started_at or (job.started_at if job.attempts == 1 else None)
    detail = None
    if job.lease_expired(now):
        detail = "its worker stopped renewing its lease: it waits to be taken over"
    return _item(
        "running",
        started or job.updated_at,
        host=job.lease_owner,
        attempt=job.attempts,
        detail=detail,
    )


def _attempts(job: QueuedJob, recorded: Sequence[Attempt], now: datetime) -> list[HistoryItem]:
    latest = {attempt.number: attempt for attempt in recorded}  # recorded twice: the later
    ordered = [latest[number] for number in sorted(latest)]
    current = job.status is JobStatus.RUNNING and job.attempts > max(latest, default=0)
    items: list[HistoryItem] = []
    for index, attempt in enumerate(ordered):
        items.append(
            _item("running", attempt.started_at, host=attempt.host, attempt=attempt.number)
        )
        if attempt.ended_at is None:
            continue
        items.append(_ended(attempt, attempt.ended_at))
        last = index == len(ordered) - 1 and not current
        if last and job.status in _WAITING:
            items.append(_waiting_again(job, attempt, attempt.ended_at, last=True))
        elif not last and attempt.outcome is not AttemptOutcome.ABANDONED:  # a takeover
            items.append(_waiting_again(job, attempt, attempt.ended_at, last=False))
    if current:
        items.append(_running_now(job, now))
    return items


def _with_cancel_request(job: QueuedJob, items: list[HistoryItem]) -> list[HistoryItem]:
    if not job.cancel_requested:
        return items
    if job.is_terminal:  # seen when the job ended: just before its last entry
        ending = items[-1]
        request = _item("cancel_requested", ending.at, attempt=ending.attempt)
        return [*items[:-1], request, ending]
    at = max(job.updated_at, items[-1].at)
    return [*items, _item("cancel_requested", at, attempt=job.attempts or None)]


def job_history(job: QueuedJob, attempts: Sequence[Attempt], *, now: datetime) -> list[HistoryItem]:
    """Every status change of ``job`` that its record and its ``attempts`` show, in the
    order they happened."""
    items = [_created(job), *_attempts(job, attempts, now)]
    if job.is_terminal and items[-1].status != _JOB[job.status]:
        detail = None if job.error is None else _cut(job.error.message)
        items.append(_item(_JOB[job.status], job.completed_at or job.updated_at, detail=detail))
    return _with_cancel_request(job, items)
