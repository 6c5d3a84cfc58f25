"""How a job listing is put to the jobs table: which key ranges to read, with which
server-side filter, and how their rows come back together newest first.

Every listing is served by key ranges (``table_keys`` draws the rows): an owner's listing
reads the owner's shard only, any other listing every shard; with statuses, one range per
status; with a tag, the tag's pointers. The ranges are bounded by the creation window and
merged newest first. A range of pointers is followed by a point read of each job row of
the page (``table_listings``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from azure.data.tables import TableEntity
from azure.data.tables.aio import TableClient

from ..errors import InvalidInput, InvalidKey
from ..models import JobStatus, QueuedJob, owner_shard
from ..repositories.base import JobQuery, Page
from . import table_keys as keys

__all__ = [
    "RANGE",
    "Listing",
    "continuation_id",
    "count_listed",
    "every_due_row",
    "job_rows_of",
    "listing_of",
    "matching",
    "newest_first",
    "query_rows",
    "rows_of_ranges",
]

#: The rows of one partition strictly between two row keys.
RANGE: Final = "PartitionKey eq @pk and RowKey gt @low and RowKey lt @high"


def continuation_id(continuation: str | None) -> str | None:
    """The job id a listing's continuation token names; ``InvalidInput`` for another."""
    if continuation is None:
        return None
    try:
        keys.job_partition(continuation)
    except InvalidKey:
        raise InvalidInput(
            f"{continuation!r} is not a continuation token of this listing"
        ) from None
    return continuation


def newest_first(entity: Mapping[str, Any]) -> str:
    """Sorts the rows of job copies (of any kind) newest first: by complement of id."""
    row_key: str = entity["RowKey"]
    return row_key.rsplit("|", 1)[-1]


def matching(page: Page[QueuedJob], query: JobQuery) -> Page[QueuedJob]:
    """``page`` without the jobs ``query`` refuses: Azurite compares times to the
    millisecond only, so a window bound inside a millisecond lets its neighbours through
    (the page may come out shorter; its continuation stands)."""
    items = [job for job in page.items if query.matches(job)]
    return page if len(items) == len(page.items) else Page(items, page.continuation, page.skipped)


@dataclass(frozen=True, slots=True)
class Listing:
    """The queries of one listing page: one filter, one set of parameters per range."""

    query_filter: str
    ranges: Sequence[dict[str, Any]]
    #: What the listing is, for errors: "listing the jobs of 'ada'".
    what: str
    #: The ranges hold pointers: the page is read from the job rows they point at.
    pointers: bool
    #: The statuses asked for are not in the keys of the ranges (a tag's pointers): they
    #: are checked on the jobs the pointers point at.
    statuses_on_jobs: bool = False


def listing_of(query: JobQuery, continuation: str | None) -> Listing:
    """The ranges and filter that serve ``query`` from ``continuation`` on.

    Every filter is a key range: of the job rows, of the owner's copies, or of the
    pointers by type, by status, by type and status, by owner and status or by tag. The
    filters the service applies inside a range are a type within an owner's jobs (over the
    owner's copies, or with statuses over the owner's pointers of those statuses) and an
    owner or a type within a tag's jobs.
    """
    if query.tag is not None:
        return _tag_listing(query, query.tag, continuation)
    window = (continuation_id(continuation), query.created_from, query.created_before)
    statuses: list[str | None] = [*sorted(s.value for s in query.statuses)] or [None]
    owner, job_type = query.owner, query.job_type
    pointers = bool(query.statuses) or (owner is None and job_type is not None)
    clauses = [RANGE]
    parameters: dict[str, Any] = {}
    if owner is not None and job_type is not None:
        parameters["type"] = job_type
        clauses.append("JobType eq @type")
    if not pointers:  # copies carry the job's creation time; the key range is to the ms
        if query.created_from is not None:
            parameters["from"] = query.created_from
            clauses.append("CreatedAt ge @from")
        if query.created_before is not None:
            parameters["before"] = query.created_before
            clauses.append("CreatedAt lt @before")
    if owner is not None:
        partitions = [f"j{owner_shard(owner):x}"]
        prefixes = [keys.listing_prefix(owner=owner, status=status) for status in statuses]
    else:
        partitions = keys.shard_partitions()
        prefixes = [keys.listing_prefix(status=s, job_type=job_type) for s in statuses]
    ranges = [keys.time_range(*window, prefix=prefix) for prefix in prefixes]
    return Listing(
        " and ".join(clauses),
        [
            {**parameters, "pk": pk, "low": low, "high": high}
            for pk in partitions
            for low, high in ranges
        ],
        "listing jobs" if owner is None else f"listing the jobs of {owner!r}",
        pointers,
    )


def _tag_listing(query: JobQuery, tag: str, continuation: str | None) -> Listing:
    """The pointers of ``tag``: one range per shard (an owner's: the owner's shard alone),
    bounded by the creation window, the service keeping those of the owner and type
    asked for (the pointers carry both). Statuses are checked on the jobs."""
    clauses = [RANGE]
    parameters: dict[str, Any] = {}
    if query.owner is not None:
        parameters["owner"] = query.owner
        clauses.append("Owner eq @owner")
    if query.job_type is not None:
        parameters["type"] = query.job_type
        clauses.append("JobType eq @type")
    if query.owner is None:
        partitions = keys.shard_partitions()
    else:
        partitions = [f"j{owner_shard(query.owner):x}"]
    window = (continuation_id(continuation), query.created_from, query.created_before)
    low, high = keys.time_range(*window, prefix=keys.tag_prefix(tag))
    return Listing(
        " and ".join(clauses),
        [{**parameters, "pk": pk, "low": low, "high": high} for pk in partitions],
        f"listing the jobs tagged {tag!r}",
        pointers=True,
        statuses_on_jobs=bool(query.statuses),
    )


def job_rows_of(
    statuses: Iterable[JobStatus],
    *,
    after: str | None = None,
    before: datetime | None = None,
    completed: bool = False,
) -> Listing:
    """The job rows (every shard's; not the pointers, which rows an older version wrote
    lack) of ``statuses``, the service filtering them: older than job ``after``, created
    before ``before`` (with ``completed``: also completed before it)."""
    low, high = keys.time_range(after, None, before)
    chosen = sorted(status.value for status in statuses)
    names = [f"s{i}" for i in range(len(chosen))]
    parameters: dict[str, Any] = {"low": low, "high": high, **dict(zip(names, chosen, strict=True))}
    clauses = [RANGE, "( " + " or ".join(f"Status eq @{n}" for n in names) + " )"]
    if completed and before is not None:
        parameters["cutoff"] = before
        clauses.append("CompletedAt lt @cutoff")
    return Listing(
        " and ".join(clauses),
        [{**parameters, "pk": pk} for pk in keys.shard_partitions()],
        "listing jobs by status",
        pointers=False,
    )


#: Later than any due moment (16 hex digits of microseconds).
_LAST_MOMENT: Final = 16**16 - 1


def every_due_row() -> list[dict[str, Any]]:
    """The ranges (one per shard and kind) that hold every due row of the table."""
    everything = keys.due_ranges(queued=True, running=True, due_by=_LAST_MOMENT, after=None)
    return [
        {"pk": pk, "low": low, "high": high}
        for pk in keys.shard_partitions()
        for low, high in everything
    ]


async def query_rows(
    table: TableClient,
    query_filter: str,
    parameters: dict[str, Any],
    *,
    limit: int | None,
    select: list[str] | None = None,
) -> list[TableEntity]:
    """Up to ``limit`` entities (all with ``None``), in key order; with ``select``, those
    properties only."""
    pages = table.query_entities(
        query_filter,
        parameters=parameters,
        results_per_page=min(limit, 1000) if limit else None,
        select=select,
    )
    found: list[TableEntity] = []
    async for entity in pages:
        found.append(entity)
        if limit is not None and len(found) >= limit:
            break
    return found


async def rows_of_ranges(
    table: TableClient, query_filter: str, ranges: Sequence[dict[str, Any]], select: list[str]
) -> list[TableEntity]:
    """Every row of every range (all at once), with the properties ``select`` names."""
    found = await asyncio.gather(
        *(query_rows(table, query_filter, p, limit=None, select=select) for p in ranges)
    )
    return [entity for rows in found for entity in rows]


async def count_listed(table: TableClient, listing: Listing, *, at_most: int) -> int:
    """How many rows the ranges of ``listing`` hold, reading their keys alone and no more
    than ``at_most + 1`` of each range (a request per 1,000)."""
    counts = await asyncio.gather(
        *(
            query_rows(
                table, listing.query_filter, parameters, limit=at_most + 1, select=["RowKey"]
            )
            for parameters in listing.ranges
        )
    )
    return min(sum(len(rows) for rows in counts), at_most + 1)
