"""How a job listing is put to the jobs table: which key ranges to read, with which
server-side filter, and how their rows come back together newest first.

An owner's listing is one range of the owner's copies in the owner's shard, with status,
type and window filtered by the service inside it. Any other listing reads each status's
copies (or the job rows, with no status given) of every shard: one range per shard and
status, bounded by the creation window, merged newest first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..errors import InvalidInput, InvalidKey
from ..models import QueuedJob, owner_shard
from ..repositories.base import JobQuery, Page
from . import table_keys as keys

__all__ = ["RANGE", "Listing", "continuation_id", "listing_of", "matching", "newest_first"]

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


def listing_of(query: JobQuery, continuation: str | None) -> Listing:
    """The ranges and filter that serve ``query`` from ``continuation`` on."""
    after = continuation_id(continuation)
    clauses = [RANGE]
    parameters: dict[str, Any] = {}
    if query.job_type is not None:
        parameters["type"] = query.job_type
        clauses.append("JobType eq @type")
    if query.created_from is not None:
        parameters["from"] = query.created_from
        clauses.append("CreatedAt ge @from")
    if query.created_before is not None:
        parameters["before"] = query.created_before
        clauses.append("CreatedAt lt @before")
    window = (after, query.created_from, query.created_before)
    if query.owner is not None:  # the owner's copies, in the owner's partition only
        low, high = keys.time_range(*window, owner=query.owner)
        if query.statuses:
            names = [f"s{i}" for i in range(len(query.statuses))]
            statuses = sorted(s.value for s in query.statuses)
            parameters.update(zip(names, statuses, strict=True))
            clauses.append("( " + " or ".join(f"Status eq @{n}" for n in names) + " )")
        pk = f"j{owner_shard(query.owner):x}"
        return Listing(
            " and ".join(clauses),
            [{**parameters, "pk": pk, "low": low, "high": high}],
            f"listing the jobs of {query.owner!r}",
        )
    filed: list[str | None] = [*sorted(s.value for s in query.statuses)] or [None]
    ranges = [keys.time_range(*window, status=status) for status in filed]
    return Listing(
        " and ".join(clauses),
        [
            {**parameters, "pk": pk, "low": low, "high": high}
            for pk in keys.shard_partitions()
            for low, high in ranges
        ],
        "listing jobs",
    )
