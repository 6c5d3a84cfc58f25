"""What :meth:`JobClient.list_jobs` checks and how it pages: the filters given as plain
arguments, refused in a sentence when they cannot match any job, and an owner's jobs
filtered page by page without losing any between pages."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from .errors import InvalidInput
from .models import JobStatus, QueuedJob, check_owner
from .repositories.base import JobQuery, JobRepository, Page, check_page_size

__all__ = ["OWNER_PAGES_READ", "job_query", "owner_page"]

#: The most store pages one owner-scoped listing with filters reads looking for a match;
#: past them it returns what it found (maybe nothing) with a continuation to go on from.
OWNER_PAGES_READ: Final = 10


def job_query(
    statuses: Iterable[JobStatus | str],
    job_type: str | None,
    created_from: datetime | None,
    created_before: datetime | None,
) -> JobQuery:
    """The filters as a :class:`JobQuery`; ``InvalidInput`` for an unknown status or a
    time without a time zone."""
    if isinstance(statuses, str):  # "failed" would be read as its letters
        statuses = [statuses]
    chosen: set[JobStatus] = set()
    for status in statuses:
        try:
            chosen.add(JobStatus(status))
        except ValueError:
            known = ", ".join(s.value for s in JobStatus)
            raise InvalidInput(
                f"unknown job status {str(status)[:64]!r}; one of: {known}"
            ) from None
    for name, moment in (("created_from", created_from), ("created_before", created_before)):
        if moment is not None and moment.utcoffset() is None:
            raise InvalidInput(f"{name} needs a time zone (e.g. datetime.now(UTC)), not {moment}")
    return JobQuery(
        statuses=frozenset(chosen),
        job_type=job_type,
        created_from=created_from,
        created_before=created_before,
    )


async def owner_page(
    repository: JobRepository,
    owner: str,
    query: JobQuery,
    *,
    limit: int,
    continuation: str | None,
) -> Page[QueuedJob]:
    """One page of ``owner``'s jobs that match ``query``, newest first.

    Each store page of at most ``limit`` jobs is filtered as a whole and returned with its
    own continuation, so that no job falls between two pages; store pages with no match
    are passed over, up to :data:`OWNER_PAGES_READ` of them. A page may therefore hold
    fewer than ``limit`` jobs (none, even) and still have a continuation.
    """
    check_owner(owner)
    check_page_size(limit)
    skipped: list[str] = []
    for _ in range(OWNER_PAGES_READ):
        page = await repository.list_by_owner(owner, limit=limit, continuation=continuation)
        skipped.extend(page.skipped)
        found = [job for job in page.items if query.matches(job)]
        continuation = page.continuation
        if found or continuation is None:
            return Page(found, continuation, tuple(skipped))
    return Page([], continuation, tuple(skipped))
