"""Finding jobs to take over: ``running`` records whose lease ran out (their worker died).

The dead worker's queue message comes back when its lease ends, but behind every message
sent meanwhile: with a backlog, the job would sit ``running`` until the backlog drains. A
worker looks for such records directly (``WorkerSettings.takeover_interval``) and takes
them over ahead of the backlog; the message that comes back later is a duplicate the claim
recognises (the job runs under a live lease, or has finished).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Final

from ..models import JobStatus, QueuedJob
from ..repositories.base import JobQuery, JobRepository

__all__ = ["SCAN_PAGE", "SCAN_PAGES", "expired_leases"]

#: Running jobs read per listing page, and pages read at most per scan: a scan costs at most
#: ``SCAN_PAGES`` listings (on Azure 16 requests each, one per shard; on SQLite one query).
SCAN_PAGE: Final = 200
SCAN_PAGES: Final = 2
_RUNNING: Final = JobQuery(statuses=frozenset({JobStatus.RUNNING}))


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
    running jobs (newest first); jobs beyond them are left to their messages and the sweep."""
    found: list[QueuedJob] = []
    continuation = None
    for _ in range(SCAN_PAGES):
        page = await repository.list_jobs(_RUNNING, limit=SCAN_PAGE, continuation=continuation)
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
