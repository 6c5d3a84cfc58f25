"""Finding jobs to take over: ``running`` records whose lease ran out (their worker died).

The dead worker's queue message comes back when its lease ends, but behind every message
sent meanwhile: with a backlog, the job would sit ``running`` until the backlog drains. A
worker looks for such records directly (``WorkerSettings.takeover_interval``) and takes
them over ahead of the backlog; the message that comes back later is a duplicate the claim
recognises (the job runs under a live lease, or has finished).

Under Azure Functions the timer cannot run jobs; it sends each such job a message on the
most urgent band's queue instead (:func:`send_takeovers`), whose trigger sees it ahead of
the backlog of the others.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Final

from ..errors import ConcurrencyConflict
from ..models import JobStatus, QueuedJob
from ..queues.base import QueueBroker
from ..repositories.base import JobRepository
from ..telemetry.logs import library_logger
from .messages import encode_message

__all__ = ["SCAN_PAGE", "SCAN_PAGES", "expired_leases", "send_takeovers"]

log = library_logger("queued_jobs.execution")

#: Jobs read per listing page, and pages read at most per scan. The listing is the due
#: index of running jobs up to now (``JobRepository.list_due``): only jobs whose lease ran
#: out, oldest lease first, are read; a scan costs at most ``SCAN_PAGES`` listings (on
#: Azure one query per shard each, plus one read per job found; on SQLite one query).
SCAN_PAGE: Final = 200
SCAN_PAGES: Final = 2
_RUNNING: Final = frozenset({JobStatus.RUNNING})


async def expired_leases(
    repository: JobRepository,
    *,
    now: datetime,
    queues: Collection[str],
    limit: int,
    skip: Collection[str] = (),
) -> list[QueuedJob]:
    """Up to ``limit`` jobs of ``queues`` running under an expired lease, oldest lease
    first, leaving out the ids in ``skip``. Reads at most :data:`SCAN_PAGES` pages of
    them; jobs beyond are left to their messages, the next scan and the sweep."""
    found: list[QueuedJob] = []
    continuation = None
    for _ in range(SCAN_PAGES):
        page = await repository.list_due(
            _RUNNING, due_by=now, limit=SCAN_PAGE, continuation=continuation
        )
        found.extend(
            job
            for job in page.items
            if job.queue in queues and job.id not in skip and job.lease_expired(now)
        )
        continuation = page.continuation
        if continuation is None:
            break
    found.sort(key=lambda job: job.lease_expires_at or now)
    return found[:limit]


async def send_takeovers(
    repository: JobRepository,
    broker: QueueBroker,
    *,
    now: datetime,
    queues: Collection[str],
    to: str,
) -> int:
    """Send a message on queue ``to`` for each job of ``queues`` running under an expired
    lease that has not had one since; returns how many were sent. Each job is first touched
    with a conditional write, so it gets one such message, however many timers run."""
    sent = 0
    for job in await expired_leases(
        repository, now=now, queues=queues, limit=SCAN_PAGE * SCAN_PAGES
    ):
        if job.lease_expires_at is not None and job.updated_at > job.lease_expires_at:
            continue  # already sent (or swept) since its lease ran out
        try:
            touched = await repository.update(job.transition(job.status, now=now))
        except ConcurrencyConflict:
            continue  # someone else moved it: theirs now
        await broker.queue(to).send(encode_message(touched, await repository.message_key()))
        log.info("job %s: its lease expired at %s; sent to %s", job.id, job.lease_expires_at, to)
        sent += 1
    return sent
