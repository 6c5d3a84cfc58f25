"""Reading the jobs a listing names from the jobs table: a page of job rows or owner
copies, the jobs a page of pointers points at (a point read each), and the walk of a tag's
pointers by status (the ranges: ``table_queries``; the keys: ``table_keys``).

A tag's pointers do not say their job's status: a status change would have to rewrite
every pointer of the job's tags. So a tag's jobs of some statuses are read by walking the
tag's pointers, newest first, a page (``limit``) at a time: a point read of each job, its
``Status`` compared before the job is decoded, until ``limit`` jobs match or the pointers
end. A call reads at most :data:`POINTER_PAGES` pages of pointers; a page cut there is
short (even empty) and its continuation is the last pointer read, so the listing stays
complete and in order. It reads in proportion to the tag's jobs, never to the table: 16
ranges (1 for an owner's) of ``limit + 1`` pointers, one point read per pointer read, and
one more range request for each shard whose first pointers run out (it then reads up to
the rest of the call's ten pages, at most 1,000, at once).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from typing import Final

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableEntity
from azure.data.tables.aio import TableClient

from ..errors import CorruptJobRecord
from ..models import QueuedJob
from ..repositories.base import JobQuery, Page
from . import table_keys as keys
from .errors import translated
from .payloads import BlobPayloads
from .table_entities import blob_names, decode_job
from .table_queries import Listing, count_listed, listing_of, matching, newest_first, query_rows
from .table_reservations import etag_of
from .table_versions import version_of

__all__ = ["POINTER_PAGES", "PointerWalk", "TableReader"]

#: Most pages of pointers (``limit`` each) one page of a tag's jobs by status reads.
POINTER_PAGES: Final = 10
#: Point reads made at once while counting a tag's jobs by status.
_COUNT_BATCH: Final = 100
#: Most rows one range query returns (Table Storage's page).
_QUERY_PAGE: Final = 1000
_KEYS: Final = ["PartitionKey", "RowKey"]


class _Range:
    """One key range of a walk: its query's parameters (``low`` moves on as it is read),
    the rows read but not taken yet, how many it has given, and whether it has no more."""

    __slots__ = ("ended", "parameters", "read", "rows")

    def __init__(self, parameters: dict[str, object]) -> None:
        self.parameters = parameters
        self.rows: deque[TableEntity] = deque()
        self.read = 0
        self.ended = False


class PointerWalk:
    """The rows (keys only) of a listing's ranges, merged newest first, each range read a
    page at a time when the walk has taken every row read of it: ``first`` rows, then
    ``then`` rows a request (at most 1,000 come back per request anyway)."""

    def __init__(self, table: TableClient, listing: Listing, *, first: int, then: int) -> None:
        self._table = table
        self._filter = listing.query_filter
        self._first, self._then = first, then
        self._ranges = [_Range(dict(parameters)) for parameters in listing.ranges]

    async def _fill(self) -> None:
        """Read the next page of every range that has more but none left to take (all at
        once): until then, no row can be known to come next."""
        empty = [r for r in self._ranges if not r.rows and not r.ended]
        if not empty:
            return
        sizes = [self._then if r.read else self._first for r in empty]
        found = await asyncio.gather(
            *(
                query_rows(self._table, self._filter, r.parameters, limit=size, select=_KEYS)
                for r, size in zip(empty, sizes, strict=True)
            )
        )
        for walked, size, rows in zip(empty, sizes, found, strict=True):
            walked.rows.extend(rows)
            walked.read += len(rows)
            walked.ended = len(rows) < size
            if rows:
                walked.parameters["low"] = rows[-1]["RowKey"]

    async def take(self, count: int) -> list[TableEntity]:
        """The next ``count`` rows, newest first (fewer only where the ranges end)."""
        taken: list[TableEntity] = []
        while len(taken) < count:
            await self._fill()
            ahead = [r for r in self._ranges if r.rows]
            if not ahead:
                break
            first = min(ahead, key=lambda r: newest_first(r.rows[0]))
            taken.append(first.rows.popleft())
        return taken

    async def ended(self) -> bool:
        """Whether every row has been taken (reading on where that is not known yet)."""
        await self._fill()
        return not any(r.rows for r in self._ranges)


class TableReader:
    """The listings of one jobs table (and its payload blobs): what ``list_jobs`` and
    ``count_jobs`` read, and the job reads every listing shares."""

    def __init__(self, table: TableClient, payloads: BlobPayloads) -> None:
        self._table = table
        self._payloads = payloads

    async def job(self, entity: TableEntity) -> QueuedJob:
        """The job a job row or owner copy holds (its payload blobs downloaded)."""
        blobs = await self._payloads.download(blob_names(entity))
        return decode_job(entity, version_of(entity, etag_of(entity)), blobs)

    async def readable(self, entity: TableEntity) -> QueuedJob | CorruptJobRecord:
        try:
            return await self.job(entity)
        except CorruptJobRecord as exc:
            return exc

    async def page(self, rows: Sequence[TableEntity], limit: int) -> Page[QueuedJob]:
        """The page of the first ``limit`` rows (one more tells that there are more); rows
        that cannot be read are skipped and named."""
        read = await asyncio.gather(*(self.readable(e) for e in rows[:limit]))
        jobs = [job for job in read if isinstance(job, QueuedJob)]
        skipped = [exc.job_id for exc in read if isinstance(exc, CorruptJobRecord)]
        more = len(rows) > limit
        return Page(jobs, keys.job_id_of(rows[limit - 1]["RowKey"]) if more else None, skipped)

    async def pointed_page(self, pointers: Sequence[TableEntity], limit: int) -> Page[QueuedJob]:
        """The page of the jobs the first ``limit`` of ``pointers`` (any rows naming a job
        by their key) point at; one more pointer tells that there are more."""
        read = await self.pointed(pointers[:limit])
        page = await self.page(read, len(read))
        if len(pointers) <= limit:
            return page
        return Page(page.items, keys.job_id_of(pointers[limit - 1]["RowKey"]), page.skipped)

    async def pointed(self, pointers: Sequence[TableEntity]) -> list[TableEntity]:
        """The job rows ``pointers`` point at (those still stored), in their order: a point
        read each, all at once (the one read Table Storage serves by its key alone; a
        filter naming several row keys would scan the partition)."""
        found = await asyncio.gather(*(self._job_row(pointer) for pointer in pointers))
        return [row for row in found if row is not None]

    async def _job_row(
        self, pointer: TableEntity, select: list[str] | None = None
    ) -> TableEntity | None:
        """The job row ``pointer`` points at (``select``: those properties only), or
        ``None`` if the job was deleted since it was listed."""
        job_id = keys.job_id_of(pointer["RowKey"])
        with suppress(ResourceNotFoundError):
            return await self._table.get_entity(
                pointer["PartitionKey"], keys.job_key(job_id), select=select
            )
        return None

    async def list_jobs(
        self, query: JobQuery, *, limit: int, continuation: str | None
    ) -> Page[QueuedJob]:
        """A page of the jobs ``query`` names, after ``continuation``."""
        listing = listing_of(query, continuation)
        with translated(listing.what):
            if listing.statuses_on_jobs:
                return await self._walked_page(listing, query, limit)
            found = await asyncio.gather(
                *(
                    query_rows(self._table, listing.query_filter, parameters, limit=limit + 1)
                    for parameters in listing.ranges
                )
            )
            rows = sorted((e for page in found for e in page), key=newest_first)
            if listing.pointers:
                return matching(await self.pointed_page(rows, limit), query)
            return matching(await self.page(rows, limit), query)

    async def count_jobs(self, query: JobQuery, *, at_most: int) -> int:
        """How many jobs ``query`` names, counting no further than ``at_most + 1``."""
        listing = listing_of(query, None)
        with translated(f"counting ({listing.what})"):
            if listing.statuses_on_jobs:
                return await self._walked_count(listing, query, at_most)
            return await count_listed(self._table, listing, at_most=at_most)

    async def _walked_page(self, listing: Listing, query: JobQuery, limit: int) -> Page[QueuedJob]:
        """A page of the jobs of ``listing``'s pointers that ``query`` matches (its statuses
        checked on the jobs): a page of pointers at a time, at most :data:`POINTER_PAGES`."""
        # The first page of each range as a listing without statuses reads it; a range
        # read to its end reads the rest of what the call may read at once.
        further = min(POINTER_PAGES * limit, _QUERY_PAGE)
        walk = PointerWalk(self._table, listing, first=limit + 1, then=further)
        statuses = {status.value for status in query.statuses}
        items: list[QueuedJob] = []
        skipped: list[str] = []
        for _ in range(POINTER_PAGES):
            pointers = await walk.take(limit)
            if not pointers:
                return Page(items, None, skipped)
            rows = await asyncio.gather(*(self._job_row(pointer) for pointer in pointers))
            kept = deque(row for row in rows if row is not None and row.get("Status") in statuses)
            while kept and len(items) < limit:  # read only as many as the page may still take
                chunk = [kept.popleft() for _ in range(min(limit - len(items), len(kept)))]
                for job in await asyncio.gather(*(self.readable(row) for row in chunk)):
                    if isinstance(job, CorruptJobRecord):
                        skipped.append(job.job_id)
                    elif query.matches(job):
                        items.append(job)
            if len(items) == limit:  # full at the last job read: more after it?
                last = items[-1].id
                more = last != keys.job_id_of(pointers[-1]["RowKey"]) or not await walk.ended()
                return Page(items, last if more else None, skipped)
        last_read = keys.job_id_of(pointers[-1]["RowKey"])
        return Page(items, None if await walk.ended() else last_read, skipped)

    async def _walked_count(self, listing: Listing, query: JobQuery, at_most: int) -> int:
        """How many jobs of ``listing``'s pointers have the statuses of ``query``, reading
        each one's ``Status`` alone, up to ``at_most + 1`` of them."""
        walk = PointerWalk(self._table, listing, first=_QUERY_PAGE, then=_QUERY_PAGE)
        statuses = {status.value for status in query.statuses}
        found = 0
        while found <= at_most:
            pointers = await walk.take(_COUNT_BATCH)
            if not pointers:
                break
            rows = await asyncio.gather(*(self._job_row(p, ["Status"]) for p in pointers))
            found += sum(1 for row in rows if row is not None and row.get("Status") in statuses)
        return min(found, at_most + 1)
