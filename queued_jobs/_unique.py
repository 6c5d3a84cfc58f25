"""Unique keys of jobs: reserving one for a new job (a finished holder gives its key up; a live
one keeps it, and the newcomer gets :class:`DuplicateJob`), and releasing one when its job
ends.

A job reserves :attr:`QueuedJob.unique_reservation`: its key composed with its owner unless
the key is global (:mod:`queued_jobs.models.unique`), so stores hold one plain string per
reservation and know nothing of scopes. A :class:`DuplicateJob` carries the holder's record
only when the holder is a job of the same owner.
"""

from __future__ import annotations

from .errors import (
    ConcurrencyConflict,
    CorruptJobRecord,
    DuplicateJob,
    JobNotFound,
    QueuedJobsError,
)
from .models import QueuedJob, UniqueScope, check_unique_key
from .repositories.base import JobRepository
from .telemetry.logs import library_logger

__all__ = ["release_unique_key", "reserve_unique_key"]

log = library_logger("queued_jobs")

_TRIES = 5


async def reserve_unique_key(repository: JobRepository, job: QueuedJob) -> None:
    """Reserve ``job``'s unique key (if it has one), taking it over from a holder that has
    finished.

    Raises ``DuplicateJob`` if an unfinished job holds the key (with ``existing_job`` when
    the holder is stored and ``job``'s owner's), ``InvalidInput`` for a global key that
    cannot be one, ``ConcurrencyConflict`` if the holder kept changing.
    """
    if job.unique_key is None:
        return
    check_unique_key(job.unique_key, job.unique_scope)
    key = _reserved(job)
    replacing = None
    for _ in range(_TRIES):
        held_by = await _reserve(repository, key, job.id, replacing)
        if held_by is None:
            return
        holder = await _stored(repository, held_by)
        if holder is None or not holder.is_terminal:
            # Raised outside the store's error, so that it carries no trace of it (its
            # holder's id) as its context either.
            raise _refused(job, held_by, holder)
        replacing = holder.id  # a finished job no longer blocks its key
    raise ConcurrencyConflict(job.id)


def _reserved(job: QueuedJob) -> str:
    key = job.unique_reservation
    assert key is not None, "only a job with a unique key reserves one"
    return key


async def _reserve(
    repository: JobRepository, key: str, job_id: str, replacing: str | None
) -> DuplicateJob | None:
    """Reserve ``key``; the store's refusal (naming the holder), or ``None`` once reserved."""
    try:
        await repository.reserve_unique_key(key, job_id, replacing=replacing)
    except DuplicateJob as refused:
        return refused
    return None


async def _stored(repository: JobRepository, refused: DuplicateJob) -> QueuedJob | None:
    """The holder's record; ``None`` if it is not stored (yet, or any more: the key is still
    held) or cannot be read (whether it finished is not known)."""
    if refused.existing_job_id is None:
        return None
    try:
        return await repository.get(refused.existing_job_id)
    except (JobNotFound, CorruptJobRecord):
        return None


def _refused(job: QueuedJob, refused: DuplicateJob, holder: QueuedJob | None) -> DuplicateJob:
    """The error for ``job``: naming the holder (and carrying its record) only if it is known
    to be ``job``'s owner's. A per-owner key is only ever reserved by its owner's jobs, so its
    holder's id is theirs even while that job is not stored yet."""
    assert job.unique_key is not None
    if holder is not None:
        if holder.owner == job.owner:
            return DuplicateJob(job.unique_key, holder.id, holder)
        return DuplicateJob(job.unique_key, None)
    if job.unique_scope is UniqueScope.OWNER and refused.existing_job_id is not None:
        return DuplicateJob(job.unique_key, refused.existing_job_id)
    return DuplicateJob(job.unique_key, None)


async def release_unique_key(repository: JobRepository, job: QueuedJob) -> None:
    """Free the unique key ``job`` holds, if any. A failure is logged, not raised: the caller
    is usually finishing or cleaning up, and a finished holder's key is taken over by the
    next reservation anyway."""
    key = job.unique_reservation
    if key is None:
        return
    try:
        await repository.release_unique_key(key, job.id)
    except QueuedJobsError:
        log.exception("job %s: could not release unique key %r", job.id, job.unique_key)
