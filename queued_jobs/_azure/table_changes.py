"""The change feed on Azure Table Storage: a row per change in its job's own partition,
written in the entity-group transaction that writes the job, so it costs no request.

Row key ``v|<14 hex digits>|<job id>``: the digits are the writer's wall clock in
microseconds since the epoch as it submits the transaction (``time.time_ns``, not the
application's clock: the order must follow real commit time), made strictly increasing
within a process. A change's position is the part after ``v|``; the feed partitions are
the job shards ``j0`` … ``jf``. The one property, ``Change``, is the change's document
(``repositories._changes``).

**What ``settled`` promises here.** Table Storage has no commit-ordered sequence: a change
stamped at *t* may become visible after one stamped later (its request was slower, or its
writer's clock is behind another's). A read at wall-clock time *T* therefore calls settled
only what is older than *T* less the repository's ``change_lateness`` (5 s by default):
a change is missed only if it became visible more than that after its stamp, which takes
a transaction slower than ``change_lateness`` (retries included) or writers' clocks further
apart than it. Readers read again from ``settled`` and pass over the positions they have
seen past it, so every change within the lateness window is read again by each poll.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from azure.core.async_paging import AsyncPageIterator
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient

from ..errors import InvalidInput
from ..models import JobChange, QueuedJob, owner_shard
from ..repositories._changes import (
    change_doc,
    change_from_doc,
    check_change_limit,
    check_partition,
)
from ..repositories.base import ChangeBatch
from . import table_keys as keys
from .errors import translated
from .table_batch import TableTransactions
from .table_queries import RANGE, query_rows

__all__ = [
    "DEFAULT_CHANGE_LATENESS",
    "ChangeStamps",
    "TableChanges",
    "change_operation",
    "record_operation",
    "stamped",
]

#: How long after its stamp a change may still become visible, by default.
DEFAULT_CHANGE_LATENESS: Final = timedelta(seconds=5)
_PREFIX: Final = "v|"
#: Sorts after every change row of a partition (``}`` follows ``|``).
_END: Final = "v}"
_DIGITS: Final = 14
#: A change's position, or a moment's (``<digits>|``: before every change stamped then).
_POSITION: Final = re.compile(rf"[0-9a-f]{{{_DIGITS}}}\|(?:[0-9a-f]{{29}})?")
_CHANGE: Final = re.compile(rf"[0-9a-f]{{{_DIGITS}}}\|[0-9a-f]{{29}}")
_SELECTED: Final = ["RowKey", "Change"]
_PARTITIONS: Final = tuple(keys.shard_partitions())
_MICROSECOND: Final = timedelta(microseconds=1)
#: Rows of the oldest changes read per request when purging them.
_PURGE_PAGE: Final = 1000


def _now_micros() -> int:
    return time.time_ns() // 1000


class ChangeStamps:
    """Wall-clock microseconds for change rows, strictly increasing in this process (so
    that two writes of one job never share a key, even on a coarse clock)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(_now_micros(), self._last + 1)
        return self._last


def _moment(micros: int) -> str:
    """The position every change stamped before ``micros`` sorts before."""
    return f"{max(micros, 0):0{_DIGITS}x}|"


def change_operation(job: QueuedJob, micros: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The transaction operation that records writing ``job``, stamped ``micros``."""
    return record_operation(job.id, change_doc(job), micros)


def record_operation(
    record_id: str, doc: str, micros: int
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The transaction operation that records a change of the record ``record_id`` (a
    job, or a sequence: ids of the same form, in the same partitions) whose document is
    ``doc``, stamped ``micros``."""
    row = {
        "PartitionKey": keys.job_partition(record_id),
        "RowKey": f"{_PREFIX}{micros:0{_DIGITS}x}|{record_id}",
        "Change": doc,
    }
    return "upsert", row, {"mode": UpdateMode.REPLACE}


def stamped(operation: tuple[Any, ...], micros: int) -> tuple[Any, ...]:
    """A change row's operation made by :func:`change_operation`, stamped ``micros``
    instead (an insert builds its rows early and stamps them as it submits them)."""
    kind, row, options = operation
    job_id = str(row["RowKey"]).rsplit("|", 1)[-1]
    return kind, {**row, "RowKey": f"{_PREFIX}{micros:0{_DIGITS}x}|{job_id}"}, options


def _after_key(after: str | None) -> str:
    """The row key the changes after position ``after`` sort after; ``InvalidInput`` for
    a position this store did not make."""
    if after is None:
        return _PREFIX
    if not isinstance(after, str) or not _POSITION.fullmatch(after):
        raise InvalidInput(f"{after!r:.80} is not a change feed position of this store")
    return _PREFIX + after


@dataclass(frozen=True, slots=True)
class _Read:
    """The rows one read returned, and whether more were there (cut at the limit)."""

    rows: Sequence[TableEntity]
    cut: bool


def _changes_of(partition: str, rows: Sequence[TableEntity]) -> list[JobChange]:
    """The changes ``rows`` hold; a row this code did not write (its key or its document
    not of the forms above) is passed over."""
    changes = []
    for row in rows:
        position = str(row["RowKey"])[len(_PREFIX) :]
        if not _CHANGE.fullmatch(position):
            continue
        change = change_from_doc(partition, position, row.get("Change"))
        if change is not None and position.endswith(change.job_id):
            changes.append(change)
    return changes


class TableChanges:
    """The change feed verbs of ``AzureTableJobRepository``, on its table."""

    def __init__(
        self, table: TableClient, transactions: TableTransactions, *, lateness: timedelta
    ) -> None:
        if lateness < timedelta(0):
            raise InvalidInput("change_lateness must not be negative")
        self._table = table
        self._transactions = transactions
        self._lateness = lateness // _MICROSECOND

    @staticmethod
    def partitions(owner: str | None) -> tuple[str, ...]:
        return _PARTITIONS if owner is None else (f"j{owner_shard(owner):x}",)

    def head(self, partition: str) -> str:
        """The moment a reader starts at that wants changes from now on: the wall clock
        less the lateness (no request; the changes of that window come once more)."""
        check_partition(partition, _PARTITIONS)
        return _moment(_now_micros() - self._lateness)

    async def _first_page(self, partition: str, low: str, limit: int) -> _Read:
        parameters = {"pk": partition, "low": low, "high": _END}
        pages = cast(
            AsyncPageIterator[TableEntity],
            self._table.query_entities(
                RANGE, parameters=parameters, results_per_page=limit, select=_SELECTED
            ).by_page(),
        )
        async for page in pages:
            rows = [entity async for entity in page]
            return _Read(rows, len(rows) >= limit or pages.continuation_token is not None)
        return _Read([], False)

    async def read(self, partition: str, *, after: str | None, limit: int) -> ChangeBatch:
        """One range query of the partition's change rows after ``after`` (one request)."""
        check_partition(partition, _PARTITIONS)
        check_change_limit(limit)
        low = _after_key(after)
        line = _moment(_now_micros() - self._lateness)
        with translated(f"reading the changes of partition {partition}"):
            read = await self._first_page(partition, low, limit)
        positions = [str(row["RowKey"])[len(_PREFIX) :] for row in read.rows]
        positions = [p for p in positions if _CHANGE.fullmatch(p)]
        changes = _changes_of(partition, read.rows)
        if not read.cut:
            return ChangeBatch(changes, line)
        last = positions[-1] if positions else after
        return ChangeBatch(changes, None if last is None else min(line, last))

    async def of_job(
        self, partition: str, job_id: str, *, written: datetime | None, lifetime: timedelta
    ) -> list[str]:
        """The row keys of job ``job_id``'s changes still kept: its partition's change rows
        stamped within its life, ``lifetime`` (as its record says) up to its last write
        (``written``, the service's time of its row), the lateness either side; one range
        query of their keys (a request per 1,000 rows in that window)."""
        if written is None:
            return []
        high = int(written.timestamp() * 1_000_000) + self._lateness
        low = high - lifetime // _MICROSECOND - 2 * self._lateness
        parameters = {
            "pk": partition,
            "low": _PREFIX + _moment(low),
            "high": _PREFIX + _moment(high),
        }
        rows = await query_rows(self._table, RANGE, parameters, limit=None, select=["RowKey"])
        mine = f"|{job_id}"
        return [str(row["RowKey"]) for row in rows if str(row["RowKey"]).endswith(mine)]

    async def _purge_partition(self, partition: str, before: str) -> int:
        parameters = {"pk": partition, "low": _PREFIX, "high": _PREFIX + before}
        pages = self._table.query_entities(
            RANGE, parameters=parameters, results_per_page=_PURGE_PAGE, select=["RowKey"]
        ).by_page()
        purged = 0
        async for page in pages:  # the next page is asked for by key: deleting is safe
            row_keys = [str(entity["RowKey"]) async for entity in page]
            await self._transactions.delete(partition, row_keys)
            purged += len(row_keys)
        return purged

    async def purge(self, *, older_than: timedelta) -> int:
        """Delete the changes stamped more than ``older_than`` ago by the wall clock: per
        partition, a range query (a request per 1,000 rows) and a transaction per 100."""
        before = _moment(_now_micros() - older_than // _MICROSECOND)
        with translated("purging old changes"):
            counts = await asyncio.gather(*(self._purge_partition(p, before) for p in _PARTITIONS))
        return sum(counts)
