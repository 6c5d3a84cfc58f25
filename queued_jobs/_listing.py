"""What :meth:`JobClient.list_jobs` checks: the filters given as plain arguments, refused
in a sentence when they cannot match any job."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from ._enums import members
from .errors import InvalidInput
from .models import JobStatus, check_owner, check_tag
from .repositories.base import JobQuery

__all__ = ["job_query"]


def job_query(
    owner: str | None,
    statuses: Iterable[JobStatus | str],
    job_type: str | None,
    created_from: datetime | None,
    created_before: datetime | None,
    tag: str | None = None,
) -> JobQuery:
    """The filters as a :class:`JobQuery`; ``InvalidInput`` for an unknown status, a time
    without a time zone, or an owner or tag no job can have."""
    chosen = members(JobStatus, statuses, "job status", shown=64)
    for name, moment in (("created_from", created_from), ("created_before", created_before)):
        if moment is not None and moment.utcoffset() is None:
            raise InvalidInput(f"{name} needs a time zone (e.g. datetime.now(UTC)), not {moment}")
    created_from, created_before = _in_utc(created_from), _in_utc(created_before)
    if owner is not None:
        check_owner(owner)
    if tag is not None:
        check_tag(tag)
    return JobQuery(
        owner=owner,
        statuses=chosen,
        job_type=job_type,
        created_from=created_from,
        created_before=created_before,
        tag=tag,
    )


def _in_utc(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC; ``InvalidInput`` for one that UTC cannot hold (year 1 at +14:00)."""
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{moment.isoformat()} is outside the years 1 to 9999 in UTC") from None
