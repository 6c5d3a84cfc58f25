"""Azure Table Storage :class:`JobRepository` (``azure-data-tables`` async client).

Key layout and request costs: ``docs/design.md``. In short: a job's rows share its owner's
shard partition, so inserting or updating a job (with its owner copy, its listing pointers,
its due row, the change feed's row and, on completion, its attempt) is one entity-group
transaction: one storage request. Listings: ``_azure/table_listings.py``; the change feed:
``_azure/table_changes.py``; hosts' presences: ``_azure/table_presences.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any, Self

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient
from azure.storage.blob.aio import ContainerClient

from .._azure import table_keys as keys
from .._azure.connection import StorageConnection
from .._azure.errors import error_code, translated
from .._azure.payloads import BlobPayloads
from .._azure.table_batch import (
    ROW_FRAMING,
    NewJob,
    TableTransactions,
    TransactionRejected,
    transactions_of,
)
from .._azure.table_changes import (
    DEFAULT_CHANGE_LATENESS,
    ChangeStamps,
    TableChanges,
    change_operation,
    stamped,
)
from .._azure.table_entities import (
    blob_names,
    decode_attempt,
    encode_attempt,
    encode_job,
)
from .._azure.table_limits import TableLimits
from .._azure.table_listings import TableReader
from .._azure.table_presences import TablePresences
from .._azure.table_queries import (
    RANGE,
    continuation_id,
    every_due_row,
    job_rows_of,
    newest_first,
    query_rows,
    rows_of_ranges,
)
from .._azure.table_reservations import TableReservations, etag_of
from .._azure.table_rows import (
    copies_and_pointers,
    lifetime_of,
    loose_doc,
    rows_of,
    update_operations,
)
from .._azure.table_schedules import TableSchedules
from .._azure.table_secrets import MESSAGE_KEY_ROW, stored_secret
from .._azure.table_sequences import TableSequences
from .._azure.table_versions import (
    due_row_of,
    read_version,
    version_of,
)
from .._once import LoadedOnce
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import (
    ConcurrencyConflict,
    ConfigurationError,
    CorruptJobRecord,
    InvalidInput,
    InvalidKey,
    JobAlreadyExists,
    JobNotFound,
)
from ..files.base import CONTAINER_NAME
from ..models import TERMINAL_STATUSES, Attempt, JobStatus, Presence, QueuedJob
from ._due import due_micros, due_token, parse_due_token
from ._limits import check_attempt, check_job
from ._presence import DEFAULT_PRESENCE_LIMIT
from ._records import reservation_in
from .base import (
    CHANGE_PAGE_SIZE,
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_PAGE_SIZE,
    ChangeBatch,
    Checkpoint,
    JobQuery,
    Page,
    check_new_jobs,
    check_page_size,
)

__all__ = ["AzureTableJobRepository"]

_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_IF_UNCHANGED = MatchConditions.IfNotModified
_REPLACE = {"mode": UpdateMode.REPLACE}
#: What the full pass reads of each active job row: enough to tell whether it is indexed.
_INDEXED = ["PartitionKey", "RowKey", "Due"]


class AzureTableJobRepository:
    """Jobs in one Azure table, large payloads in one blob container."""

    def __init__(
        self,
        table: TableClient,
        container: ContainerClient,
        *,
        clock: Clock = SYSTEM_CLOCK,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        owned_credential: AsyncTokenCredential | None = None,
        change_lateness: timedelta = DEFAULT_CHANGE_LATENESS,
    ) -> None:
        """``owned_credential``: the clients' token credential, if this repository is to
        close it after them. ``change_lateness``: how long after its writer's clock
        stamped it a change may still become visible (slow requests, clocks apart); the
        change feed calls settled only what is older (``_azure/table_changes.py``)."""
        self._table = table
        self._transactions = TableTransactions(table)
        self._changes = TableChanges(table, self._transactions, lateness=change_lateness)
        self._stamps = ChangeStamps()
        self._reservations = TableReservations(table, clock, self._exists)
        self._payloads = BlobPayloads(container)
        self._reader = TableReader(table, self._payloads)
        self._presences = TablePresences(table)
        self._schedules = TableSchedules(table, self._transactions)
        self._sequences = TableSequences(table, self._transactions, self._stamps.next)
        self._limits = TableLimits(table, self._transactions)
        self._clock = clock
        self._max_payload_bytes = max_payload_bytes
        self._credential = owned_credential
        self._message_key = LoadedOnce(lambda: stored_secret(table, MESSAGE_KEY_ROW))

    @classmethod
    def from_connection(
        cls,
        connection: StorageConnection | str,
        *,
        table: str = "jobs",
        container: str = "job-payloads",
        clock: Clock = SYSTEM_CLOCK,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        client_options: Mapping[str, Any] | None = None,
        change_lateness: timedelta = DEFAULT_CHANGE_LATENESS,
    ) -> Self:
        """The repository on a connection string (``UseDevelopmentStorage=true`` for
        Azurite) or a :class:`StorageConnection`. ``client_options`` go to the SDK clients
        (``retry_total``, ``raw_request_hook``, ``connection_timeout``...)."""
        if not _TABLE_NAME.match(table):
            raise ConfigurationError(
                f"table name {table!r} is not valid: 3-63 letters and digits, starting with a "
                "letter"
            )
        if not CONTAINER_NAME.match(container):
            raise ConfigurationError(
                f"container name {container!r} is not valid: 3-63 lowercase letters, digits "
                "and single hyphens"
            )
        clients = StorageConnection.of(connection).clients(client_options)
        return cls(
            clients.table(table),
            clients.container(container),
            clock=clock,
            max_payload_bytes=max_payload_bytes,
            owned_credential=clients.owned_credential,
            change_lateness=change_lateness,
        )

    async def create(self) -> None:
        with translated("creating the jobs table"), suppress(ResourceExistsError):
            await self._table.create_table()
        await self._payloads.create()

    # --- jobs --------------------------------------------------------------------------

    async def _transact(
        self,
        job_ids: Sequence[str],
        operations: list[Any],
        *,
        may_be_gone: frozenset[int] = frozenset(),
    ) -> list[str]:
        """Submit one entity-group transaction (returns each row's new ETag);
        ``job_ids[i]`` is the job that operation ``i`` writes (one id alone: every
        operation writes that job). An operation of ``may_be_gone`` (deletes) is dropped
        and the rest submitted again if it finds nothing to delete.

        A failure names the job of the failed operation, whose index the service reports.
        """
        first, last = job_ids[0], job_ids[-1]
        with translated(f"writing job {first}" if first == last else f"writing jobs {first}…"):
            try:
                return await self._transactions.submit(operations)
            except TransactionRejected as exc:
                code = error_code(exc)
                if code == "ResourceNotFound" and exc.index in may_be_gone:
                    gone = exc.index
                    rest = operations[:gone] + operations[gone + 1 :]
                    left = frozenset(i - (i > gone) for i in may_be_gone if i != gone)
                    results = await self._transact(job_ids, rest, may_be_gone=left)
                    return [*results[:gone], "", *results[gone:]]
                job_id = job_ids[exc.index] if 0 < exc.index < len(job_ids) else first
                if code == "EntityAlreadyExists":
                    raise JobAlreadyExists(job_id) from None
                if code == "UpdateConditionNotSatisfied":
                    raise ConcurrencyConflict(job_id) from None
                if code == "ResourceNotFound":
                    raise JobNotFound(job_id) from None
                raise

    def _new_job(self, job: QueuedJob) -> NewJob:
        """Encode a job to insert; raises ``InvalidInput`` for what the table can't hold.
        Its change row comes last, stamped as it is submitted."""
        encoded = encode_job(job)
        operations = [*rows_of(job, encoded.properties).created(), change_operation(job, 0)]
        size = sum(len(json.dumps(op[1], default=str)) + ROW_FRAMING for op in operations)
        return NewJob(job, operations, encoded.blobs, size)

    async def _insert_together(self, chunk: list[NewJob]) -> list[QueuedJob]:
        """Insert jobs of one partition in one transaction; returns them with versions."""
        operations: list[Any] = []
        for new in chunk:  # each job's change row, last of its rows, is stamped as it goes
            operations += [*new.operations[:-1], stamped(new.operations[-1], self._stamps.next())]
        job_ids = [new.job.id for new in chunk for _ in new.operations]
        results = await self._transact(job_ids, operations)
        # A job's rows are adjacent, its own first: its version is that row's ETag.
        stored, at = [], 0
        for new in chunk:
            version = version_of(new.operations[0][1], results[at])
            stored.append(new.job.model_copy(update={"version": version}))
            at += len(new.operations)
        return stored

    async def insert(self, job: QueuedJob) -> QueuedJob:
        [stored] = await self.insert_many([job])
        return stored

    async def insert_many(self, jobs: Sequence[QueuedJob]) -> list[QueuedJob]:
        check_new_jobs(jobs, self._max_payload_bytes)
        new_jobs = [self._new_job(job) for job in jobs]
        if not new_jobs:
            return []
        await self._payloads.upload({k: v for new in new_jobs for k, v in new.blobs.items()})
        # Let every transaction finish before raising, so the caller sees a settled store.
        outcomes = await asyncio.gather(
            *(self._insert_together(chunk) for chunk in transactions_of(new_jobs)),
            return_exceptions=True,
        )
        stored: dict[str, QueuedJob] = {}
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            stored.update((job.id, job) for job in outcome)
        return [stored[job.id] for job in jobs]

    async def get(self, job_id: str) -> QueuedJob:
        try:
            partition = keys.job_partition(job_id)
        except InvalidKey:
            raise JobNotFound(job_id) from None
        with translated(f"reading job {job_id}"):
            try:
                entity = await self._table.get_entity(partition, keys.job_key(job_id))
            except ResourceNotFoundError:
                raise JobNotFound(job_id) from None
            try:
                return await self._reader.job(entity)
            except CorruptJobRecord:
                if not blob_names(entity):
                    raise
            # It has payload blobs: one may be missing because the job was deleted meanwhile.
            try:
                entity = await self._table.get_entity(partition, keys.job_key(job_id))
            except ResourceNotFoundError:
                raise JobNotFound(job_id) from None
            return await self._reader.job(entity)

    async def update(self, job: QueuedJob, *, attempt: Attempt | None = None) -> QueuedJob:
        check_job(job, self._max_payload_bytes)
        read = read_version(job.id, job.version)
        if attempt is not None and attempt.job_id != job.id:
            raise InvalidInput(f"attempt of job {attempt.job_id} given with job {job.id}")
        encoded = encode_job(job)
        rows = rows_of(job, encoded.properties)
        planned = update_operations(job, rows, read)
        operations = planned.operations
        if attempt is not None:
            operations.append(("upsert", self._attempt_row(attempt), _REPLACE))
        await self._payloads.upload(encoded.blobs)
        if read.watched is None or read.watched != rows.job["Watched"]:  # a watcher sees it
            operations.append(change_operation(job, self._stamps.next()))
        results = await self._transact([job.id], operations, may_be_gone=planned.may_be_gone)
        # Both copies changed: the job row's new ETag names the new state.
        return job.model_copy(update={"version": version_of(rows.job, results[0])})

    async def _exists(self, job_id: str) -> bool:
        with translated(f"reading job {job_id}"):
            try:
                await self._table.get_entity(
                    keys.job_partition(job_id), keys.job_key(job_id), select=["PartitionKey"]
                )
            except ResourceNotFoundError:
                return False
            return True

    # --- attempts ----------------------------------------------------------------------

    def _attempt_row(self, attempt: Attempt) -> dict[str, Any]:
        check_attempt(attempt)
        return {
            "PartitionKey": keys.job_partition(attempt.job_id),
            "RowKey": keys.attempt_key(attempt.job_id, attempt.number),
            **encode_attempt(attempt),
        }

    async def append_attempt(self, attempt: Attempt) -> None:
        with translated(f"recording attempt {attempt.number} of job {attempt.job_id}"):
            await self._table.upsert_entity(self._attempt_row(attempt), mode=UpdateMode.REPLACE)

    async def _attempt_rows(self, job_id: str) -> list[TableEntity]:
        low, high = keys.attempts_range(job_id)
        parameters = {"pk": keys.job_partition(job_id), "low": low, "high": high}
        return await self._query(RANGE, parameters, limit=None)

    async def list_attempts(self, job_id: str) -> list[Attempt]:
        with translated(f"listing attempts of job {job_id}"):
            return [decode_attempt(e) for e in await self._attempt_rows(job_id)]

    # --- unique keys and leases (``_azure/table_reservations.py``) ---------------------

    async def reserve_unique_key(
        self, key: str, job_id: str, *, replacing: str | None = None
    ) -> None:
        await self._reservations.reserve_unique_key(key, job_id, replacing=replacing)

    async def release_unique_key(self, key: str, job_id: str) -> bool:
        return await self._reservations.release_unique_key(key, job_id)

    async def take_lease(self, name: str, holder: str, *, now: datetime, until: datetime) -> bool:
        return await self._reservations.take_lease(name, holder, now=now, until=until)

    async def lease_holder(self, name: str, *, now: datetime) -> str | None:
        return await self._reservations.lease_holder(name, now=now)

    # --- listings (``_azure/table_listings.py``, the queries: ``table_queries.py``) -----

    async def _query(
        self, query_filter: str, parameters: dict[str, Any], *, limit: int | None
    ) -> list[TableEntity]:
        return await query_rows(self._table, query_filter, parameters, limit=limit)

    async def message_key(self) -> bytes:
        return await self._message_key.get()

    async def list_by_owner(
        self, owner: str, *, limit: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[QueuedJob]:
        return await self.list_jobs(JobQuery(owner=owner), limit=limit, continuation=continuation)

    async def list_jobs(
        self,
        query: JobQuery | None = None,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        check_page_size(limit)
        query = query or JobQuery()
        return await self._reader.list_jobs(query, limit=limit, continuation=continuation)

    async def count_jobs(self, query: JobQuery | None = None, *, at_most: int) -> int:
        return await self._reader.count_jobs(query or JobQuery(), at_most=max(at_most, 0))

    # --- the due index and leases ------------------------------------------------------

    async def _due_job(self, pointer: TableEntity) -> QueuedJob | CorruptJobRecord | None:
        """The job a due row points at, if it still names that row; a stale due row (its
        job gone or moved on) is deleted, unless it changed meanwhile, and gives ``None``."""
        job_id = keys.job_id_of(pointer["RowKey"])
        partition = keys.job_partition(job_id)
        try:
            entity = await self._table.get_entity(partition, keys.job_key(job_id))
        except ResourceNotFoundError:
            entity = None
        if entity is not None and entity.get("Due") == pointer["RowKey"]:
            return await self._reader.readable(entity)
        with suppress(ResourceModifiedError, ResourceNotFoundError):
            await self._table.delete_entity(
                partition, pointer["RowKey"], etag=etag_of(pointer), match_condition=_IF_UNCHANGED
            )
        return None

    async def list_due(
        self,
        statuses: frozenset[JobStatus],
        *,
        due_by: datetime,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        check_page_size(limit)
        after = None if continuation is None else parse_due_token(continuation)
        ranges = keys.due_ranges(
            queued=bool(statuses & {JobStatus.SCHEDULED, JobStatus.QUEUED}),
            running=JobStatus.RUNNING in statuses,
            due_by=due_micros(due_by),
            after=after,
        )
        if not ranges:
            return Page([])
        with translated("listing the jobs due"):
            found = await asyncio.gather(
                *(
                    self._query(RANGE, {"pk": pk, "low": low, "high": high}, limit=limit + 1)
                    for pk in keys.shard_partitions()
                    for low, high in ranges
                )
            )
            pointers = sorted(
                ((due, e) for rows in found for e in rows if (due := keys.due_of(e["RowKey"]))),
                key=lambda pair: pair[0],
            )
            read = await asyncio.gather(*(self._due_job(e) for _, e in pointers[:limit]))
        items = [j for j in read if isinstance(j, QueuedJob) and j.status in statuses]
        skipped = [exc.job_id for exc in read if isinstance(exc, CorruptJobRecord)]
        more = len(pointers) > limit
        return Page(items, due_token(*pointers[limit - 1][0]) if more else None, skipped)

    async def list_unindexed(
        self,
        statuses: frozenset[JobStatus],
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        # The job rows, not the pointers: a record written before the index has neither.
        # The service reads every job row of each shard; only those of ``statuses`` come
        # back, and only their keys and index columns.
        check_page_size(limit)
        if not statuses:
            return Page([])
        listing = job_rows_of(statuses, after=continuation_id(continuation))
        with translated("listing the jobs the due index does not hold"):
            found, due = await asyncio.gather(  # and the due rows: a foreign writer's deletes
                rows_of_ranges(self._table, listing.query_filter, listing.ranges, _INDEXED),
                rows_of_ranges(self._table, RANGE, every_due_row(), ["RowKey"]),
            )
            indexed = {e["RowKey"] for e in due}
            rows = sorted((e for e in found if e.get("Due") not in indexed), key=newest_first)
            return await self._reader.pointed_page(rows, limit)

    # --- deleting ----------------------------------------------------------------------

    async def _delete_rows(self, job_row: TableEntity) -> None:
        """Delete a job's rows (one transaction per 100), its unique key and its blobs;
        ``job_row`` is its row or any full copy.

        The job is named by its row's key, so a row whose document cannot be read is
        deleted too (its copies and pointers found from the ``Owner`` and ``JobType``
        columns)."""
        job_id = keys.job_id_of(job_row["RowKey"])
        doc = loose_doc(job_row)
        partition = keys.job_partition(job_id)
        row_keys = copies_and_pointers(job_id, job_row, doc)
        row_keys += [e["RowKey"] for e in await self._attempt_rows(job_id)]
        if (due := due_row_of(job_id, job_row.get("Due"))) is not None:
            row_keys.append(due)
        row_keys += await self._changes.of_job(
            partition, job_id, written=job_row.metadata.get("timestamp"), lifetime=lifetime_of(doc)
        )
        row_keys.append(keys.job_key(job_id))  # last: a crash midway leaves the job findable
        await self._transactions.delete(partition, row_keys)
        held = reservation_in(doc.get("unique_key"), doc.get("owner"), doc.get("unique_scope"))
        if held is not None:
            await self.release_unique_key(held, job_id)
        if blob_names(job_row):
            await self._payloads.delete_job(job_id)

    async def delete(self, job_id: str) -> None:
        try:
            partition = keys.job_partition(job_id)
        except InvalidKey:
            return
        with translated(f"deleting job {job_id}"):
            try:
                row = await self._table.get_entity(partition, keys.job_key(job_id))
            except ResourceNotFoundError:
                return
            await self._delete_rows(row)

    async def purge(self, *, completed_before: datetime) -> int:
        # The job rows (not the pointers: a row an older writer left without them is purged
        # too) of jobs created before the cutoff, as a job completed before it was,
        # that finished before it.
        listing = job_rows_of(TERMINAL_STATUSES, before=completed_before, completed=True)

        async def purge_shard(parameters: dict[str, Any]) -> int:
            rows = await self._query(listing.query_filter, parameters, limit=None)
            for row in rows:
                await self._delete_rows(row)
            return len(rows)

        with translated("purging jobs"):
            counts = await asyncio.gather(*(purge_shard(p) for p in listing.ranges))
        return sum(counts)

    # --- the change feed (``_azure/table_changes.py``) -----------------------------------

    def change_partitions(self, owner: str | None = None) -> tuple[str, ...]:
        return self._changes.partitions(owner)

    async def change_head(self, partition: str) -> str | None:
        return self._changes.head(partition)

    async def load_checkpoint(self, name: str) -> Checkpoint | None:
        return await self._reservations.load_checkpoint(name)

    async def save_checkpoint(self, name: str, value: str, *, version: str | None) -> str:
        return await self._reservations.save_checkpoint(name, value, version=version)

    async def read_changes(
        self, partition: str, *, after: str | None = None, limit: int = CHANGE_PAGE_SIZE
    ) -> ChangeBatch:
        return await self._changes.read(partition, after=after, limit=limit)

    async def purge_changes(self, *, older_than: timedelta) -> int:
        return await self._changes.purge(older_than=older_than)

    async def await_change(self, job_id: str, seconds: float) -> None:
        await asyncio.sleep(seconds)  # the table tells of no write

    # --- hosts' presences (``_azure/table_presences.py``) --------------------------------

    async def save_presence(self, presence: Presence) -> None:
        await self._presences.save(presence)

    async def list_presences(
        self, *, seen_since: datetime, limit: int = DEFAULT_PRESENCE_LIMIT
    ) -> list[Presence]:
        return await self._presences.list(seen_since=seen_since, limit=limit)

    async def purge_presences(self, *, seen_before: datetime) -> int:
        return await self._presences.purge(seen_before=seen_before)

    @property
    def schedules(self) -> TableSchedules:
        """Schedules and slot markers (``_azure/table_schedules.py``)."""
        return self._schedules

    @property
    def sequences(self) -> TableSequences:
        """Sequences (``_azure/table_sequences.py``)."""
        return self._sequences

    @property
    def limits(self) -> TableLimits:
        """Limits' gates, parked jobs and settings (``_azure/table_limits.py``)."""
        return self._limits

    async def close(self) -> None:
        await self._table.close()
        await self._payloads.close()
        if self._credential is not None:
            await self._credential.close()
