"""Limits in the jobs table: the ``limits`` of ``AzureTableJobRepository`` (the rows:
``table_gate_rows``).

Requests per verb: ``load_gate`` 1 (a point read); ``save_gate`` 1 (one entity-group
transaction of the gate's partition: the gate's row, conditional on its ETag, or inserted;
the added job's row; the removed jobs' deletes), + 2 if a job it removes has no row (the
transaction is refused; a range query of the rows from the first job removed to the last,
a request per 1,000, then the transaction again without the removals of rows not there);
``delete_gate`` 2 (a query for a parked job, then the delete conditional on the ETag);
``first_waiters`` 1; ``count_waiters`` 1 per 1,000 rows counted; ``list_gates`` 1 per
page (a range of gate partitions, the service keeping the gate rows, and with
``waiting_only`` those with jobs parked); a settings verb 1, ``list_limit_settings`` 1
per 1,000 limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient

from ..errors import StorageError
from ..limits.model import Gate, LimitSettings, Waiter
from ..repositories._gates import (
    check_at_most,
    check_gate,
    check_gate_id,
    check_limit_name,
    check_removals,
    check_settings,
    check_waiter,
    check_waiter_count,
    gate_conflict,
    gate_name,
    settings_conflict,
)
from ..repositories.base import DEFAULT_PAGE_SIZE, Page, check_page_size
from ..telemetry.logs import library_logger
from . import table_gate_rows as rows
from .errors import error_code, translated
from .table_batch import TableTransactions, TransactionRejected
from .table_queries import RANGE, query_rows

__all__ = ["TableLimits"]

log = library_logger("queued_jobs.limits")

_REPLACE: Final = {"mode": UpdateMode.REPLACE}
_IF_UNCHANGED: Final = MatchConditions.IfNotModified
#: The gate rows of a range of partitions (``and HasWaiters eq true``: with jobs parked).
_GATES: Final = "PartitionKey gt @low and PartitionKey lt @high and RowKey eq @row"
#: The rows of one partition from one row key to another.
_BETWEEN: Final = "PartitionKey eq @pk and RowKey ge @low and RowKey le @high"
#: What refuses a gate's write because it moved: its ETag changed, it was stored meanwhile,
#: or it is gone.
_MOVED: Final = frozenset(
    {"UpdateConditionNotSatisfied", "EntityAlreadyExists", "ResourceNotFound"}
)
Operation = tuple[Any, ...]


class TableLimits:
    """The :class:`~queued_jobs.limits.store.LimitStore` of one Azure repository, on its
    table."""

    def __init__(self, table: TableClient, transactions: TableTransactions) -> None:
        self._table = table
        self._transactions = transactions

    # --- gates -------------------------------------------------------------------------

    async def load_gate(self, limit: str, key: str) -> Gate | None:
        limit, key = check_gate_id(limit, key)
        with translated(f"reading gate {gate_name(limit, key)!r:.300}"):
            try:
                row = await self._table.get_entity(rows.gate_partition(limit, key), rows.GATE_ROW)
            except ResourceNotFoundError:
                return None
        return rows.decode_gate(row, _etag(row))

    async def save_gate(
        self,
        gate: Gate,
        *,
        add_waiter: Waiter | None = None,
        remove_waiters: Sequence[str] = (),
    ) -> Gate:
        check_gate(gate)
        if add_waiter is not None:
            check_waiter(add_waiter)
        removed = check_removals(remove_waiters, add_waiter)
        if gate.version is not None and not rows.is_etag(gate.version):
            raise gate_conflict(gate)
        row = rows.gate_row(gate)
        partition = row["PartitionKey"]
        operations: list[Operation] = [
            ("create", row)
            if gate.version is None
            else (
                "update",
                row,
                {**_REPLACE, "etag": gate.version, "match_condition": _IF_UNCHANGED},
            )
        ]
        if add_waiter is not None:
            operations.append(("upsert", rows.waiter_row(partition, add_waiter), _REPLACE))
        first_removal = len(operations)
        operations += [
            ("delete", {"PartitionKey": partition, "RowKey": rows.waiter_key(job_id)})
            for job_id in removed
        ]
        with translated(f"saving gate {gate_name(gate.limit, gate.key)!r:.300}"):
            etag = await self._submit(gate, operations, first_removal)
        return gate.model_copy(update={"version": etag})

    async def _submit(self, gate: Gate, operations: list[Operation], first_removal: int) -> str:
        """Submit a save's transaction; its gate row's new ETag. A removal that finds no
        row fails the transaction: the removals' rows are then looked up (one range
        query) and the transaction sent again without those not there. The gate's row
        comes first, so a gate that moved is refused before any removal is looked at."""
        looked_up = False
        while True:
            try:
                etags = await self._transactions.submit(operations)
            except TransactionRejected as exc:
                code = error_code(exc)
                if code == "ResourceNotFound" and exc.index >= first_removal:
                    if looked_up:  # gone since the look-up: another writer's doing
                        operations = operations[: exc.index] + operations[exc.index + 1 :]
                    else:
                        operations = await self._without_missing(operations, first_removal)
                        looked_up = True
                    continue
                if code in _MOVED:
                    raise gate_conflict(gate) from None
                raise
            return etags[0]

    async def _without_missing(
        self, operations: list[Operation], first_removal: int
    ) -> list[Operation]:
        """``operations`` without the removals of rows that are not there: the rows
        between the first and the last removed, their keys alone."""
        removals = operations[first_removal:]
        names = sorted(str(operation[1]["RowKey"]) for operation in removals)
        parameters = {"pk": removals[0][1]["PartitionKey"], "low": names[0], "high": names[-1]}
        found = await query_rows(self._table, _BETWEEN, parameters, limit=None, select=["RowKey"])
        there = {str(row["RowKey"]) for row in found}
        kept = [operation for operation in removals if operation[1]["RowKey"] in there]
        return [*operations[:first_removal], *kept]

    async def delete_gate(self, gate: Gate) -> bool:
        check_gate(gate)
        if gate.version is None or not rows.is_etag(gate.version):
            return False
        partition = rows.gate_partition(gate.limit, gate.key)
        condition = {"etag": gate.version, "match_condition": _IF_UNCHANGED}
        with translated(f"deleting gate {gate_name(gate.limit, gate.key)!r:.300}"):
            if await self._waiters(partition, limit=1, select=["RowKey"]):
                return False
            # A job parked since the query changed the gate's ETag: the delete is refused.
            gone = ("delete", {"PartitionKey": partition, "RowKey": rows.GATE_ROW}, condition)
            try:
                await self._transactions.submit([gone])
            except TransactionRejected as exc:
                if error_code(exc) in _MOVED:
                    return False
                raise
        return True

    async def _waiters(
        self, partition: str, *, limit: int, select: list[str] | None = None
    ) -> list[TableEntity]:
        parameters = {"pk": partition, "low": rows.WAITERS_LOW, "high": rows.WAITERS_HIGH}
        return await query_rows(self._table, RANGE, parameters, limit=limit, select=select)

    async def first_waiters(self, limit: str, key: str, *, count: int) -> list[Waiter]:
        limit, key = check_gate_id(limit, key)
        check_waiter_count(count)
        with translated(f"reading the jobs parked at gate {gate_name(limit, key)!r:.300}"):
            found = await self._waiters(rows.gate_partition(limit, key), limit=count)
        return [rows.decode_waiter(row) for row in found]

    async def count_waiters(self, limit: str, key: str, *, at_most: int) -> int:
        limit, key = check_gate_id(limit, key)
        wanted = check_at_most(at_most) + 1
        with translated(f"counting the jobs parked at gate {gate_name(limit, key)!r:.300}"):
            found = await self._waiters(
                rows.gate_partition(limit, key), limit=wanted, select=["RowKey"]
            )
        return len(found)

    async def list_gates(
        self,
        *,
        limit: str | None = None,
        waiting_only: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Gate]:
        if limit is not None:
            check_limit_name(limit)
        check_page_size(page_size)
        after = rows.after_token(continuation)
        low, high = rows.gate_range(limit)
        if after is not None:
            low = max(low, after)
        query = _GATES + (" and HasWaiters eq true" if waiting_only else "")
        parameters = {"low": low, "high": high, "row": rows.GATE_ROW}
        with translated("listing gates" if limit is None else f"listing the gates of {limit!r}"):
            found = await query_rows(self._table, query, parameters, limit=page_size + 1)
        items: list[Gate] = []
        skipped: list[str] = []
        for row in found[:page_size]:
            try:
                items.append(rows.decode_gate(row, _etag(row)))
            except StorageError:
                skipped.append(rows.row_name(row))
        more = len(found) > page_size
        last = rows.token_of(str(found[page_size - 1]["PartitionKey"])) if more else None
        return Page(items, last, skipped)

    # --- settings ----------------------------------------------------------------------

    async def load_limit_settings(self, limit: str) -> LimitSettings | None:
        check_limit_name(limit)
        with translated(f"reading the settings of limit {limit!r}"):
            try:
                row = await self._table.get_entity(rows.SETTINGS_PARTITION, limit)
            except ResourceNotFoundError:
                return None
        return rows.decode_settings(row, _etag(row))

    async def save_limit_settings(self, settings: LimitSettings) -> LimitSettings:
        check_settings(settings)
        version = settings.version
        if version is not None and not rows.is_etag(version):
            raise settings_conflict(settings.limit)
        row = rows.settings_row(settings)
        with translated(f"saving the settings of limit {settings.limit!r}"):
            try:
                if version is None:
                    saved = await self._table.create_entity(row)
                else:
                    saved = await self._table.update_entity(
                        row, mode=UpdateMode.REPLACE, etag=version, match_condition=_IF_UNCHANGED
                    )
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                raise settings_conflict(settings.limit) from None
        return settings.model_copy(update={"version": str(saved["etag"])})

    async def delete_limit_settings(self, limit: str) -> None:
        check_limit_name(limit)
        with translated(f"deleting the settings of limit {limit!r}"):
            await self._table.delete_entity(rows.SETTINGS_PARTITION, limit)

    async def list_limit_settings(self) -> list[LimitSettings]:
        with translated("listing limits' settings"):
            found = await query_rows(
                self._table, "PartitionKey eq @pk", {"pk": rows.SETTINGS_PARTITION}, limit=None
            )
        settings: list[LimitSettings] = []
        for row in found:
            try:
                settings.append(rows.decode_settings(row, _etag(row)))
            except StorageError as exc:
                log.warning("the settings of limit %r are left out: %s", row.get("RowKey"), exc)
        return settings


def _etag(row: TableEntity) -> str:
    return str(row.metadata["etag"])
