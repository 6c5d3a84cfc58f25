"""When the sweep needs to look at a job: the moment its due index is keyed by.

Every adapter keeps an index of the jobs the sweep (and the takeover look) acts on, keyed
by one moment per job, written in the same atomic write as the job itself:

=============  ==========================================================================
``scheduled``  when its run is within a queue's delay limit: ``run_at`` less 7 days
``queued``     its last write, or its ``run_at`` if later (a message is due by then), or
               when a job waiting on a limit is looked at again (``waiting.until``)
``running``    its lease's expiry, or its last write if later (``None`` without a lease)
=============  ==========================================================================

Other statuses have none: a finished job needs nothing. A job is due for the sweep once
its moment is ``resend_after`` past, and its lease is up once its moment has passed. The
listing is in order of that moment and then of id, paged by a token naming the last one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

from ..errors import InvalidInput
from ..models import JobStatus, QueuedJob
from ..queues.base import MAX_DELAY

__all__ = [
    "DUE_STATUSES",
    "due_at",
    "due_micros",
    "due_token",
    "parse_due_token",
]

#: The statuses a job can be due in.
DUE_STATUSES: Final = frozenset({JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.RUNNING})
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_TOKEN: Final = re.compile(r"^([0-9a-f]{16})\|([0-9a-f]{29})$")


def due_at(job: QueuedJob) -> datetime | None:
    """The moment the due index keys ``job`` by, or ``None`` if it needs no sweep."""
    if job.status is JobStatus.SCHEDULED:
        return (job.run_at or job.updated_at) - MAX_DELAY
    if job.status is JobStatus.QUEUED:
        waited = job.waiting.until if job.waiting is not None else job.updated_at
        return max(job.updated_at, job.run_at or job.updated_at, waited)
    if job.status is JobStatus.RUNNING and job.lease_expires_at is not None:
        return max(job.lease_expires_at, job.updated_at)
    return None


def due_micros(moment: datetime) -> int:
    """``moment`` as microseconds since the epoch, clamped to what 16 hex digits hold."""
    micros = (moment - _EPOCH) // _MICROSECOND
    return min(max(micros, 0), 16**16 - 1)


def due_token(micros: int, job_id: str) -> str:
    """The continuation token after the job ``job_id`` due at ``micros``."""
    return f"{micros:016x}|{job_id}"


def parse_due_token(token: str) -> tuple[int, str]:
    """The moment (microseconds) and job id a token names; ``InvalidInput`` if foreign."""
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if match is None:
        raise InvalidInput(f"{token!r:.80} is not a continuation token of the due listing")
    return int(match.group(1), 16), match.group(2)
