"""Sequences in the jobs table: the ``sequences`` of ``AzureTableJobRepository`` (the
rows: ``table_sequence_rows``; the costs: ``docs/design.md``).

Inserting or updating a sequence is one entity-group transaction of its shard partition
(its record, its pointers as they change, and its change row for the change feed);
reading one is a point read; listing one owner's is one range query of their pointers,
every owner's a range query of the records per shard, the active ones a range query of
the active pointers per shard (16, at once), merged newest first; a page of pointers
then reads each record it names, at once. A purge reads the ended pointers of every shard
that ended before its cutoff (a range query per shard, at once) and deletes each
sequence's rows, a transaction per partition (of up to 100 rows).
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from collections.abc import Sequence as Rows
from datetime import UTC, datetime
from typing import Any, Final

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient

from ..errors import (
    ConcurrencyConflict,
    CorruptSequenceRecord,
    DuplicateSequence,
    InvalidInput,
    SequenceNotFound,
)
from ..models import owner_shard
from ..repositories._sequences import (
    check_listing,
    check_purge,
    check_sequence,
    sequence_change_doc,
)
from ..repositories.base import DEFAULT_PAGE_SIZE, Page
from ..sequences.model import Sequence, is_sequence_id
from ..sequences.store import DEFAULT_PURGE_LIMIT
from . import table_keys as keys
from . import table_sequence_rows as rows
from .errors import error_code, translated
from .table_batch import TableTransactions, TransactionRejected
from .table_changes import record_operation
from .table_queries import RANGE, query_rows

__all__ = ["TableSequences"]

_REPLACE: Final = {"mode": UpdateMode.REPLACE}
_SHARDS: Final = tuple(keys.shard_partitions())
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
Operation = tuple[Any, ...]


class TableSequences:
    """The :class:`~queued_jobs.sequences.store.SequenceStore` of one Azure repository,
    on its table; ``stamp`` gives each change row its wall-clock key."""

    def __init__(
        self, table: TableClient, transactions: TableTransactions, stamp: Callable[[], int]
    ) -> None:
        self._table = table
        self._transactions = transactions
        self._stamp = stamp

    def _change(self, sequence: Sequence) -> Operation:
        return record_operation(sequence.id, sequence_change_doc(sequence), self._stamp())

    async def insert_sequence(self, sequence: Sequence) -> Sequence:
        check_sequence(sequence)
        written = rows.rows_of(sequence)
        operations: list[Operation] = [
            ("create", row)
            for row in (
                written.record,
                written.owner_pointer,
                written.active_pointer,
                written.ended_pointer,
            )
            if row is not None
        ]
        operations.append(self._change(sequence))
        with translated(f"storing sequence {sequence.id}"):
            try:
                etags = await self._transactions.submit(operations)
            except TransactionRejected as exc:
                if error_code(exc) == "EntityAlreadyExists":
                    raise DuplicateSequence(sequence.id) from None
                raise
        return self._stored(sequence, etags[0])

    async def get_sequence(self, sequence_id: str) -> Sequence:
        if not is_sequence_id(sequence_id):
            raise SequenceNotFound(sequence_id)
        partition = keys.job_partition(sequence_id)
        with translated(f"reading sequence {sequence_id}"):
            try:
                row = await self._table.get_entity(partition, rows.record_key(sequence_id))
            except ResourceNotFoundError:
                raise SequenceNotFound(sequence_id) from None
        return rows.decode_sequence(row, _etag(row))

    async def update_sequence(self, sequence: Sequence) -> Sequence:
        check_sequence(sequence)
        read = rows.read_version(sequence)
        if rows.owner_digest(sequence.owner) != read.owner_digest:
            raise InvalidInput(f"sequence {sequence.id}: a sequence's owner never changes")
        written = rows.rows_of(sequence)
        condition = {
            **_REPLACE,
            "etag": read.etag,
            "match_condition": MatchConditions.IfNotModified,
        }
        operations: list[Operation] = [("update", written.record, condition)]
        if read.active and written.ended_pointer is not None:
            gone = {"PartitionKey": written.record["PartitionKey"]}
            operations.append(("delete", {**gone, "RowKey": rows.active_key(sequence.id)}))
            operations.append(("upsert", written.ended_pointer, _REPLACE))
        operations.append(self._change(sequence))
        with translated(f"updating sequence {sequence.id}"):
            try:
                etags = await self._transactions.submit(operations)
            except TransactionRejected as exc:
                code = error_code(exc)
                if code == "UpdateConditionNotSatisfied":
                    raise ConcurrencyConflict(sequence.id, kind="sequence") from None
                if code == "ResourceNotFound":  # the record, or its active pointer: moved on
                    if await self._exists(sequence.id):
                        raise ConcurrencyConflict(sequence.id, kind="sequence") from None
                    raise SequenceNotFound(sequence.id) from None
                raise
        return self._stored(sequence, etags[0])

    def _stored(self, sequence: Sequence, record_etag: str) -> Sequence:
        return sequence.model_copy(update={"version": rows.version_of(record_etag, sequence)})

    async def _exists(self, sequence_id: str) -> bool:
        partition = keys.job_partition(sequence_id)
        try:
            await self._table.get_entity(
                partition, rows.record_key(sequence_id), select=["PartitionKey"]
            )
        except ResourceNotFoundError:
            return False
        return True

    async def delete_sequence(self, sequence_id: str) -> None:
        if not is_sequence_id(sequence_id):
            return
        partition = keys.job_partition(sequence_id)
        with translated(f"deleting sequence {sequence_id}"):
            try:
                row = await self._table.get_entity(partition, rows.record_key(sequence_id))
            except ResourceNotFoundError:
                return
            await self._transactions.delete(partition, rows.stored_keys(row))

    async def purge_sequences(
        self, *, ended_before: datetime, limit: int = DEFAULT_PURGE_LIMIT
    ) -> int:
        cutoff = check_purge(ended_before, limit)
        if cutoff <= _EPOCH:
            return 0
        low, high = rows.ended_range(cutoff)
        with translated("purging ended sequences"):
            found = await asyncio.gather(
                *(
                    query_rows(
                        self._table,
                        RANGE,
                        {"pk": pk, "low": low, "high": high},
                        limit=limit,
                        select=["PartitionKey", "RowKey", "Owner"],
                    )
                    for pk in _SHARDS
                )
            )
            oldest = list(heapq.merge(*found, key=lambda row: str(row["RowKey"])))[:limit]
            doomed: dict[str, list[str]] = {}
            for pointer in oldest:
                doomed.setdefault(str(pointer["PartitionKey"]), []).extend(
                    rows.purged_keys(pointer)
                )
            await asyncio.gather(
                *(self._transactions.delete(pk, found_keys) for pk, found_keys in doomed.items())
            )
        return len(oldest)

    async def list_sequences(
        self,
        *,
        owner: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Sequence]:
        owner, after = check_listing(owner, limit, continuation)
        if owner is None:
            with translated("listing sequences"):
                found = await self._merged("q|", limit, after)
            return _page(found, limit)
        low, high = rows.listing_range(rows.owner_prefix(owner), after)
        parameters = {"pk": f"j{owner_shard(owner):x}", "low": low, "high": high}
        with translated(f"listing the sequences of {owner!r}"):
            found = await query_rows(
                self._table, RANGE, parameters, limit=limit + 1, select=["RowKey"]
            )
            return await self._pointed(found, limit)

    async def list_active_sequences(
        self, *, limit: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[Sequence]:
        _, after = check_listing(None, limit, continuation)
        with translated("listing the active sequences"):
            found = await self._merged("x|", limit, after, select=["PartitionKey", "RowKey"])
            return await self._pointed(found, limit)

    async def _merged(
        self, prefix: str, limit: int, after: str | None, *, select: list[str] | None = None
    ) -> list[TableEntity]:
        """Up to ``limit + 1`` rows under ``prefix`` of every shard, newest first: a range
        query per shard, at once, merged."""
        low, high = rows.listing_range(prefix, after)
        found = await asyncio.gather(
            *(
                query_rows(
                    self._table,
                    RANGE,
                    {"pk": pk, "low": low, "high": high},
                    limit=limit + 1,
                    select=select,
                )
                for pk in _SHARDS
            )
        )
        return list(heapq.merge(*found, key=lambda row: str(row["RowKey"])))[: limit + 1]

    async def _pointed(self, pointers: Rows[TableEntity], limit: int) -> Page[Sequence]:
        """The page of the records ``pointers`` name (a point read each, at once): those
        gone since are left out, those that do not read are named as skipped."""
        ids = [rows.id_of(str(p["RowKey"])) for p in pointers[:limit]]
        found = await asyncio.gather(*(self._record(i) for i in ids))
        items: list[Sequence] = []
        skipped: list[str] = []
        for sequence_id, row in zip(ids, found, strict=True):
            if row is None:
                continue
            try:
                items.append(rows.decode_sequence(row, _etag(row)))
            except CorruptSequenceRecord:
                skipped.append(sequence_id)
        more = len(pointers) > limit
        return Page(items, ids[-1] if more else None, skipped)

    async def _record(self, sequence_id: str) -> TableEntity | None:
        try:
            return await self._table.get_entity(
                keys.job_partition(sequence_id), rows.record_key(sequence_id)
            )
        except ResourceNotFoundError:
            return None


def _etag(row: TableEntity) -> str:
    return str(row.metadata["etag"])


def _page(found: Rows[TableEntity], limit: int) -> Page[Sequence]:
    items: list[Sequence] = []
    skipped: list[str] = []
    for row in found[:limit]:
        try:
            items.append(rows.decode_sequence(row, _etag(row)))
        except CorruptSequenceRecord as exc:
            skipped.append(exc.sequence_id)
    more = len(found) > limit
    return Page(items, rows.id_of(str(found[limit - 1]["RowKey"])) if more else None, skipped)
