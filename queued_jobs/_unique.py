"""Unique keys of jobs: reserving one for a new job (a finished holder gives its key up; a live
one keeps it, and the newcomer gets :class:`DuplicateJob` with the holder's record), and
releasing one when its job ends."""

from __future__ import annotations

import logging

from .errors import ConcurrencyConflict, DuplicateJob, JobNotFound, QueuedJobsError
from .models import QueuedJob
from .repositories.base import JobRepository

__all__ = ["release_unique_key", "reserve_unique_key"]

log = logging.getLogger("queued_jobs")

_TRIES = 5


async def reserve_unique_key(repository: JobRepository, key: str, job_id: str) -> None:
    """Reserve ``key`` for ``job_id``, taking it over from a holder that has finished.

    Raises ``DuplicateJob`` (with ``existing_job`` when the holder is stored) if an
    unfinished job holds the key, ``ConcurrencyConflict`` if the holder kept changing.
    """
    replacing = None
    for _ in range(_TRIES):
        try:
            await repository.reserve_unique_key(key, job_id, replacing=replacing)
            return
        except DuplicateJob as duplicate:
            try:
                holder = await repository.get(duplicate.existing_job_id)
            except JobNotFound:
                raise duplicate from None  # not stored yet, or just purged: still held
            if not holder.is_terminal:
                raise DuplicateJob(key, holder.id, holder) from None
            replacing = holder.id  # a finished job no longer blocks its key
    raise ConcurrencyConflict(job_id)


async def release_unique_key(repository: JobRepository, job: QueuedJob) -> None:
    """Free the unique key ``job`` holds, if any. A failure is logged, not raised: the caller
    is usually finishing or cleaning up, and a finished holder's key is taken over by the
    next reservation anyway."""
    if job.unique_key is None:
        return
    try:
        await repository.release_unique_key(job.unique_key, job.id)
    except QueuedJobsError:
        log.exception("job %s: could not release unique key %r", job.id, job.unique_key)
