"""Rows of the jobs table that one holder has at a time: unique keys and store-wide leases.

Each is taken by an insert that conflicts (HTTP 409) when the row exists, and changed or
freed only by a write conditional on the ETag read, so that two takers never both win.
A unique key's row is ``u``/``u|<escaped key>`` (see ``table_keys``); a lease's is
``lease|<name>`` in the partition of the store's secrets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Final

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient

from ..clock import Clock
from ..errors import ConcurrencyConflict, DuplicateJob, StorageError
from ..repositories.base import (
    UNIQUE_KEY_GRACE,
    Checkpoint,
    check_checkpoint,
    check_lease,
    check_lease_name,
)
from . import table_keys as keys
from .errors import translated
from .table_secrets import SECRETS_PARTITION

__all__ = ["TableReservations", "etag_of"]

_TRIES: Final = 8
_IF_UNCHANGED: Final = MatchConditions.IfNotModified


def etag_of(entity: TableEntity) -> str:
    return str(entity.metadata["etag"])


class TableReservations:
    """The unique-key and lease verbs of ``AzureTableJobRepository``, on its table."""

    def __init__(
        self, table: TableClient, clock: Clock, job_exists: Callable[[str], Awaitable[bool]]
    ) -> None:
        """``job_exists``: whether a job's row is stored (the repository's own check)."""
        self._table = table
        self._clock = clock
        self._job_exists = job_exists

    async def _holder_is_gone(self, reservation: TableEntity) -> bool:
        """Whether a reservation is past the grace period and its job was never stored."""
        reserved_at: datetime = reservation["ReservedAt"]
        if self._clock.now() - reserved_at < UNIQUE_KEY_GRACE:
            return False
        return not await self._job_exists(str(reservation["JobId"]))

    async def reserve_unique_key(
        self, key: str, job_id: str, *, replacing: str | None = None
    ) -> None:
        partition = keys.unique_partition(key)
        reservation = {
            "PartitionKey": partition,
            "RowKey": keys.UNIQUE_ROW,
            "JobId": job_id,
            "ReservedAt": self._clock.now(),
        }
        with translated(f"reserving unique key {key!r}"):
            for _ in range(_TRIES):
                try:
                    await self._table.create_entity(reservation)
                    return
                except ResourceExistsError:
                    pass
                try:
                    held = await self._table.get_entity(partition, keys.UNIQUE_ROW)
                except ResourceNotFoundError:
                    continue  # released in between: try to create it again
                holder = str(held["JobId"])
                if holder == job_id:
                    return
                if holder != replacing and not await self._holder_is_gone(held):
                    raise DuplicateJob(key, holder)
                try:
                    await self._table.update_entity(
                        reservation,
                        mode=UpdateMode.REPLACE,
                        etag=etag_of(held),
                        match_condition=_IF_UNCHANGED,
                    )
                    return
                except (ResourceModifiedError, ResourceNotFoundError):
                    continue  # someone else changed it first: look again
        raise StorageError(f"unique key {key!r} kept changing; gave up after {_TRIES} tries")

    async def release_unique_key(self, key: str, job_id: str) -> bool:
        partition = keys.unique_partition(key)
        with translated(f"releasing unique key {key!r}"):
            for _ in range(_TRIES):
                try:
                    held = await self._table.get_entity(partition, keys.UNIQUE_ROW)
                except ResourceNotFoundError:
                    return False
                if held["JobId"] != job_id:
                    return False
                try:
                    await self._table.delete_entity(
                        partition,
                        keys.UNIQUE_ROW,
                        etag=etag_of(held),
                        match_condition=_IF_UNCHANGED,
                    )
                    return True
                except ResourceModifiedError:
                    continue
                except ResourceNotFoundError:
                    return False
        raise StorageError(f"unique key {key!r} kept changing; gave up after {_TRIES} tries")

    async def take_lease(self, name: str, holder: str, *, now: datetime, until: datetime) -> bool:
        check_lease(name, holder)
        row_key = f"lease|{name}"
        row = {
            "PartitionKey": SECRETS_PARTITION,
            "RowKey": row_key,
            "Holder": holder,
            "Until": until,
        }
        with translated(f"taking the lease {name!r}"):
            try:
                held = await self._table.get_entity(SECRETS_PARTITION, row_key)
            except ResourceNotFoundError:
                try:
                    await self._table.create_entity(row)
                except ResourceExistsError:
                    return False  # another process took it first
                return True
            held_until = held.get("Until")
            if (
                held.get("Holder") != holder
                and isinstance(held_until, datetime)
                and held_until > now
            ):
                return False
            try:
                await self._table.update_entity(
                    row, mode=UpdateMode.REPLACE, etag=etag_of(held), match_condition=_IF_UNCHANGED
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return False  # another process took it first
            return True

    async def lease_holder(self, name: str, *, now: datetime) -> str | None:
        check_lease_name(name)
        with translated(f"reading the lease {name!r}"):
            try:
                held = await self._table.get_entity(SECRETS_PARTITION, f"lease|{name}")
            except ResourceNotFoundError:
                return None
        holder, until = held.get("Holder"), held.get("Until")
        if isinstance(holder, str) and isinstance(until, datetime) and until > now:
            return holder
        return None

    async def load_checkpoint(self, name: str) -> Checkpoint | None:
        check_checkpoint(name)
        with translated(f"reading the checkpoint {name!r}"):
            try:
                row = await self._table.get_entity(SECRETS_PARTITION, f"checkpoint|{name}")
            except ResourceNotFoundError:
                return None
        value = row.get("Value")
        return Checkpoint(value, etag_of(row)) if isinstance(value, str) else None

    async def save_checkpoint(self, name: str, value: str, *, version: str | None) -> str:
        check_checkpoint(name, value)
        row = {"PartitionKey": SECRETS_PARTITION, "RowKey": f"checkpoint|{name}", "Value": value}
        with translated(f"saving the checkpoint {name!r}"):
            try:
                if version is None:
                    saved = await self._table.create_entity(row)
                else:
                    saved = await self._table.update_entity(
                        row, mode=UpdateMode.REPLACE, etag=version, match_condition=_IF_UNCHANGED
                    )
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                raise ConcurrencyConflict(f"checkpoint {name}") from None
        return str(saved["etag"])
