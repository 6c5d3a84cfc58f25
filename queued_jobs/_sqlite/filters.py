"""The conditions of a listing on SQLite: each filter of a :class:`JobQuery` as SQL and its
parameters, statuses and tags as index ranges of their own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..repositories.base import JobQuery
from .database import to_micros

__all__ = ["among", "filters", "tag_filters"]


def among(statuses: Sequence[str]) -> list[str]:
    """The condition that the status is one of ``statuses`` (none if there are none)."""
    return [f"status IN ({', '.join('?' * len(statuses))})"] if statuses else []


def tag_filters(query: JobQuery) -> tuple[list[str], list[Any]]:
    """The conditions (and their parameters) of a listing by tag (``_TAGGED``): the tag's
    range of ``job_tags``, bounded by the creation window, then every other filter
    checked on the jobs of that range (in proportion to the tag's jobs)."""
    where, params, statuses = filters(query, ids="job_tags.job_id")
    return (
        ["job_tags.tag = ?", *where, *among(statuses)],
        [query.tag, *params, *statuses],
    )


def filters(query: JobQuery, *, ids: str = "id") -> tuple[list[str], list[Any], list[str]]:
    """The conditions (and their parameters) of a listing's filters but its statuses and
    its tag, and its statuses (each an index range of its own); ``ids``: the column of
    the ids the creation window bounds."""
    where: list[str] = []
    params: list[Any] = []
    if query.owner is not None:
        where.append("owner = ?")
        params.append(query.owner)
    if query.job_type is not None:
        where.append("job_type = ?")
        params.append(query.job_type)
    # Ids begin with the creation millisecond: a window is a range of ids (the exact
    # bound is checked on the rows of its edge milliseconds only).
    if query.created_from is not None:
        where += [f"{ids} >= ?", "created_at >= ?"]
        params += [_id_of_millisecond(query.created_from), to_micros(query.created_from)]
    if query.created_before is not None:
        after = _id_of_millisecond(query.created_before, plus=1)
        where += [f"{ids} < ?", "created_at < ?"]
        params += [after, to_micros(query.created_before)]
    return where, params, sorted(status.value for status in query.statuses)


def _id_of_millisecond(moment: datetime, *, plus: int = 0) -> str:
    """The least id of a job created in ``moment``'s millisecond (``plus`` later)."""
    millis = int(moment.timestamp() * 1000) + plus
    return f"{max(millis, 0):012x}"
