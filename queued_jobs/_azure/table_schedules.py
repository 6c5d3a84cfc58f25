"""Schedules and slot markers in the jobs table: the ``schedules`` of
``AzureTableJobRepository`` (the rows: ``table_schedule_rows``; the costs:
``docs/design.md``).

Inserting or updating a schedule is one entity-group transaction of the partition
``schedule`` (its record, its owner copy, its due copy, its name's reservation); listing
the schedules due is one range query of the due copies; a slot's marker is one insert
that conflicts (HTTP 409) when the slot has one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient

from ..errors import (
    ConcurrencyConflict,
    CorruptScheduleRecord,
    DuplicateSchedule,
    InvalidInput,
    ScheduleNotFound,
    SlotAlreadyFired,
    StorageError,
)
from ..repositories._schedules import (
    check_limit,
    check_listing,
    check_marker,
    check_moment,
    check_purge_limit,
    check_schedule,
)
from ..repositories.base import DEFAULT_PAGE_SIZE, Page
from ..schedules.model import Schedule, SlotMarker, is_schedule_id
from ..schedules.store import DEFAULT_PURGE_LIMIT
from . import table_schedule_rows as rows
from .errors import error_code, translated
from .table_batch import TableTransactions, TransactionRejected
from .table_queries import RANGE, query_rows

__all__ = ["TableSchedules"]

_PK: Final = rows.SCHEDULES_PARTITION
_REPLACE: Final = {"mode": UpdateMode.REPLACE}
_TRIES: Final = 8
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: A schedule's markers fired (and of slots) before a cutoff.
_OLD_MARKERS: Final = "PartitionKey eq @pk and RowKey gt @low and FiredAt lt @cutoff"
#: Marker partitions a purge reads at once.
_PURGE_FAN_OUT: Final = 16
Operation = tuple[Any, ...]


class TableSchedules:
    """The :class:`~queued_jobs.schedules.store.ScheduleStore` of one Azure repository,
    on its table."""

    def __init__(self, table: TableClient, transactions: TableTransactions) -> None:
        self._table = table
        self._transactions = transactions

    # --- schedules ---------------------------------------------------------------------

    async def insert_schedule(self, schedule: Schedule) -> Schedule:
        check_schedule(schedule)
        written = rows.rows_of(schedule)
        operations: list[Operation] = [
            ("create", row)
            for row in (written.record, written.owner_copy, written.name, written.due_copy)
            if row is not None
        ]
        with translated(f"storing schedule {schedule.id}"):
            try:
                etags = await self._transactions.submit(operations)
            except TransactionRejected as exc:
                if error_code(exc) != "EntityAlreadyExists":
                    raise
                if await self._exists(schedule.id):
                    raise DuplicateSchedule(schedule.id) from None
                holder = await self._name_holder(written.name["RowKey"])
                raise DuplicateSchedule(
                    schedule.id, name=schedule.name, existing_schedule_id=holder
                ) from None
        return self._stored(schedule, etags[0])

    async def get_schedule(self, schedule_id: str) -> Schedule:
        if not is_schedule_id(schedule_id):
            raise ScheduleNotFound(schedule_id)
        with translated(f"reading schedule {schedule_id}"):
            try:
                row = await self._table.get_entity(_PK, rows.record_key(schedule_id))
            except ResourceNotFoundError:
                raise ScheduleNotFound(schedule_id) from None
        return rows.decode_schedule(row, _etag(row))

    async def update_schedule(self, schedule: Schedule) -> Schedule:
        check_schedule(schedule)
        read = rows.read_version(schedule)
        if rows.owner_digest(schedule.owner) != read.owner_digest:
            raise InvalidInput(f"schedule {schedule.id}: a schedule's owner never changes")
        written = rows.rows_of(schedule)
        operations, may_be_gone = _update_operations(written, read)
        with translated(f"updating schedule {schedule.id}"):
            etags = await self._submit_update(schedule, written, operations, may_be_gone)
        return self._stored(schedule, etags[0])

    async def _submit_update(
        self,
        schedule: Schedule,
        written: rows.ScheduleRows,
        operations: list[Operation],
        may_be_gone: frozenset[int],
    ) -> list[str]:
        """Submit an update's transaction; a delete of ``may_be_gone`` that finds nothing
        is dropped and the rest submitted again."""
        try:
            return await self._transactions.submit(operations)
        except TransactionRejected as exc:
            code = error_code(exc)
            if code == "ResourceNotFound" and exc.index in may_be_gone:
                gone = exc.index
                rest = operations[:gone] + operations[gone + 1 :]
                left = frozenset(i - (i > gone) for i in may_be_gone if i != gone)
                results = await self._submit_update(schedule, written, rest, left)
                return [*results[:gone], "", *results[gone:]]
            if code == "UpdateConditionNotSatisfied":
                raise ConcurrencyConflict(schedule.id, kind="schedule") from None
            if code == "ResourceNotFound":  # the copy read is gone: moved on, or deleted
                if await self._exists(schedule.id):
                    raise ConcurrencyConflict(schedule.id, kind="schedule") from None
                raise ScheduleNotFound(schedule.id) from None
            if code == "EntityAlreadyExists":  # the new name's reservation
                holder = await self._name_holder(written.name["RowKey"])
                raise DuplicateSchedule(
                    schedule.id, name=schedule.name, existing_schedule_id=holder
                ) from None
            raise

    def _stored(self, schedule: Schedule, record_etag: str) -> Schedule:
        version = rows.version_of(rows.record_key(schedule.id), record_etag, schedule)
        return schedule.model_copy(update={"version": version})

    async def _exists(self, schedule_id: str) -> bool:
        try:
            await self._table.get_entity(_PK, rows.record_key(schedule_id), select=["PartitionKey"])
        except ResourceNotFoundError:
            return False
        return True

    async def _name_holder(self, name_key: str) -> str | None:
        try:
            return rows.name_holder(await self._table.get_entity(_PK, name_key))
        except ResourceNotFoundError:
            return None

    async def delete_schedule(self, schedule_id: str) -> None:
        if not is_schedule_id(schedule_id):
            return
        partition = rows.marker_partition(schedule_id)
        with translated(f"deleting schedule {schedule_id}"):
            try:
                row = await self._table.get_entity(_PK, rows.record_key(schedule_id))
            except ResourceNotFoundError:
                row = None
            if row is not None:  # found from its keys and columns, whatever its Doc holds
                await self._transactions.delete(_PK, rows.stored_keys(row))
            markers = await query_rows(
                self._table, "PartitionKey eq @pk", {"pk": partition}, limit=None, select=["RowKey"]
            )
            await self._transactions.delete(partition, [m["RowKey"] for m in markers])

    async def list_schedules(
        self,
        *,
        owner: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Schedule]:
        owner, after = check_listing(owner, limit, continuation)
        low, high = rows.listing_range("r|" if owner is None else rows.owner_prefix(owner), after)
        parameters = {"pk": _PK, "low": low, "high": high}
        what = "listing schedules" if owner is None else f"listing the schedules of {owner!r}"
        with translated(what):
            found = await query_rows(self._table, RANGE, parameters, limit=limit + 1)
        items, skipped = _readable(found[:limit])
        more = len(found) > limit
        return Page(items, rows.id_of(found[limit - 1]["RowKey"]) if more else None, skipped)

    async def list_due_schedules(
        self, *, now: datetime, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[Schedule]:
        low, high = rows.due_range(check_moment(now, "now"))
        check_limit(limit)
        with translated("listing the schedules due"):
            found = await query_rows(
                self._table, RANGE, {"pk": _PK, "low": low, "high": high}, limit=limit
            )
        items, _ = _readable(found)
        return items

    # --- slot markers ------------------------------------------------------------------

    async def insert_slot_marker(self, marker: SlotMarker) -> None:
        check_marker(marker)
        row = rows.encode_marker(marker)
        with translated(f"recording slot {marker.slot.isoformat()} of {marker.schedule_id}"):
            for _ in range(_TRIES):
                try:
                    await self._table.create_entity(row)
                    return
                except ResourceExistsError:
                    pass
                try:
                    existing = await self._table.get_entity(row["PartitionKey"], row["RowKey"])
                except ResourceNotFoundError:
                    continue  # purged in between: insert it again
                raise SlotAlreadyFired(rows.decode_marker(existing))
        raise StorageError(
            f"slot {marker.slot.isoformat()} of schedule {marker.schedule_id} kept changing; "
            f"gave up after {_TRIES} tries"
        )

    async def get_slot_marker(self, schedule_id: str, slot: datetime) -> SlotMarker | None:
        check_moment(slot, "a slot")
        if not is_schedule_id(schedule_id) or slot < _EPOCH:
            return None
        partition = rows.marker_partition(schedule_id)
        with translated(f"reading slot {slot.isoformat()} of schedule {schedule_id}"):
            try:
                row = await self._table.get_entity(partition, rows.marker_key(slot))
            except ResourceNotFoundError:
                return None
        return rows.decode_marker(row)

    async def list_slot_markers(
        self, schedule_id: str, *, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[SlotMarker]:
        check_limit(limit)
        if not is_schedule_id(schedule_id):
            return []
        parameters = {"pk": rows.marker_partition(schedule_id)}
        with translated(f"listing the slots of schedule {schedule_id}"):
            found = await query_rows(self._table, "PartitionKey eq @pk", parameters, limit=limit)
        return [rows.decode_marker(row) for row in found]

    async def purge_slot_markers(
        self, *, fired_before: datetime, limit: int = DEFAULT_PURGE_LIMIT
    ) -> int:
        cutoff = check_moment(fired_before, "fired_before")
        check_purge_limit(limit)
        if cutoff <= _EPOCH:
            return 0
        purged = 0
        low, high = rows.listing_range("r|", None)
        with translated("purging slot markers"):
            records = await query_rows(
                self._table,
                RANGE,
                {"pk": _PK, "low": low, "high": high},
                limit=None,
                select=["RowKey"],
            )
            ids = [rows.id_of(row["RowKey"]) for row in records]
            for start in range(0, len(ids), _PURGE_FAN_OUT):
                group = ids[start : start + _PURGE_FAN_OUT]
                found = await asyncio.gather(
                    *(self._old_markers(i, cutoff, limit - purged) for i in group)
                )
                for schedule_id, keys in zip(group, found, strict=True):
                    keys = keys[: limit - purged]
                    await self._transactions.delete(rows.marker_partition(schedule_id), keys)
                    purged += len(keys)
                if purged >= limit:
                    break
        return purged

    async def _old_markers(self, schedule_id: str, cutoff: datetime, limit: int) -> list[str]:
        """The keys of up to ``limit`` markers of the schedule fired, and of slots, before
        ``cutoff``: the range of its slots before it, the service checking ``FiredAt``."""
        parameters = {
            "pk": rows.marker_partition(schedule_id),
            "low": rows.marker_key(cutoff),
            "cutoff": cutoff,
        }
        found = await query_rows(
            self._table, _OLD_MARKERS, parameters, limit=limit, select=["RowKey"]
        )
        return [str(row["RowKey"]) for row in found]


def _etag(row: TableEntity) -> str:
    return str(row.metadata["etag"])


def _readable(found: Sequence[TableEntity]) -> tuple[list[Schedule], list[str]]:
    """The schedules of copies ``found`` that read, and the ids of those that do not."""
    items: list[Schedule] = []
    skipped: list[str] = []
    for row in found:
        try:
            items.append(rows.decode_schedule(row, _etag(row)))
        except CorruptScheduleRecord as exc:
            skipped.append(exc.schedule_id)
    return items, skipped


def _update_operations(
    written: rows.ScheduleRows, read: rows.ReadVersion
) -> tuple[list[Operation], frozenset[int]]:
    """The operations that replace the schedule ``read`` with ``written``: the copy read
    is written (or, a due copy that moves, deleted) on the condition of its ETag, the
    others replaced; the due copy and the name's reservation moved if they changed. A
    delete that may find nothing (a row a foreign writer removed) is named in the set."""
    condition = {**_REPLACE, "etag": read.etag, "match_condition": MatchConditions.IfNotModified}

    def write(row: dict[str, Any], kind: str) -> Operation:
        return ("update", row, condition) if read.kind == kind else ("upsert", row, _REPLACE)

    operations = [write(written.record, rows.RECORD), write(written.owner_copy, rows.OWNER_COPY)]
    may_be_gone: set[int] = set()
    new_due = None if written.due_copy is None else written.due_copy["RowKey"]
    if written.due_copy is not None and new_due == read.due_key:
        operations.append(write(written.due_copy, rows.DUE_COPY))
    else:
        if read.due_key is not None:
            old = {"PartitionKey": _PK, "RowKey": read.due_key}
            if read.kind == rows.DUE_COPY:
                operations.append(("delete", old, condition))
            else:
                may_be_gone.add(len(operations))
                operations.append(("delete", old))
        if written.due_copy is not None:
            operations.append(("upsert", written.due_copy, _REPLACE))
    if written.name["RowKey"] != read.name_key:
        may_be_gone.add(len(operations))
        operations.append(("delete", {"PartitionKey": _PK, "RowKey": read.name_key}))
        operations.append(("create", written.name))
    return operations, frozenset(may_be_gone)
