"""The rows of one job in the jobs table, and the operations of the one transaction that
inserts, updates or deletes them all (the layout: ``table_keys``).

A job's row and its owner copy carry the whole job; its pointers (by status, by type, by
type and status, by owner and status, by tag) and its due row carry only their keys (a
pointer by owner and status also the job's type, a pointer by tag its owner and type,
which the service can filter on). A status change moves the status pointers; a write that
keeps the status (progress, a heartbeat) rewrites the job's row and owner copy alone. The
tag pointers are written by the insert alone and deleted with the job: tags never change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final

from azure.core import MatchConditions
from azure.data.tables import UpdateMode
from pydantic_core import from_json

from ..errors import InvalidKey
from ..models import JobStatus, QueuedJob
from ..repositories._changes import watched_digest
from ..repositories._due import due_at, due_micros
from . import table_keys as keys
from .table_versions import FROM_JOB_ROW, FROM_OWNER_ROW, STATUSES, ReadVersion

__all__ = [
    "JobRows",
    "Operations",
    "copies_and_pointers",
    "deleted_keys",
    "lifetime_of",
    "loose_doc",
    "rows_of",
    "update_operations",
]

_REPLACE: Final = {"mode": UpdateMode.REPLACE}
Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class JobRows:
    """Every row of one job as a write leaves it."""

    job: Row
    owner: Row
    #: Pointers filed under the job's status: alone, with its type, with its owner.
    status_pointers: tuple[Row, Row, Row]
    #: The pointer by type (it never moves).
    type_pointer: Row
    #: The due row (``None``: the job is not due).
    due: Row | None
    #: A pointer per tag (they never move).
    tag_pointers: tuple[Row, ...] = ()

    def created(self) -> list[tuple[str, Row]]:
        """The operations that insert the job: its own row first."""
        rows = [self.job, self.owner, *self.status_pointers, self.type_pointer]
        rows += self.tag_pointers
        return [("create", row) for row in (*rows, *([self.due] if self.due else []))]


def _status_pointers(job: QueuedJob, partition: str, status: str) -> tuple[Row, Row, Row]:
    by_owner = keys.owner_status_key(job.owner, status, job.id)
    return (
        {"PartitionKey": partition, "RowKey": keys.status_key(status, job.id)},
        {"PartitionKey": partition, "RowKey": keys.type_status_key(job.job_type, status, job.id)},
        {"PartitionKey": partition, "RowKey": by_owner, "JobType": job.job_type},
    )


def rows_of(job: QueuedJob, properties: Mapping[str, Any]) -> JobRows:
    """The rows of ``job``, whose encoded properties are ``properties``."""
    partition = keys.job_partition(job.id)
    row = {"PartitionKey": partition, "RowKey": keys.job_key(job.id), **properties}
    row["Listed"] = job.status.value
    row["Watched"] = watched_digest(job)
    due_row = None
    if (due := due_at(job)) is not None:
        running = job.status is JobStatus.RUNNING
        due_key = keys.due_key(job.id, running=running, micros=due_micros(due))
        row["Due"] = due_key
        due_row = {"PartitionKey": partition, "RowKey": due_key}
    return JobRows(
        job=row,
        owner={**row, "RowKey": keys.owner_key(job.owner, job.id)},
        status_pointers=_status_pointers(job, partition, job.status.value),
        type_pointer={"PartitionKey": partition, "RowKey": keys.type_key(job.job_type, job.id)},
        due=due_row,
        tag_pointers=tuple(
            {
                "PartitionKey": partition,
                "RowKey": keys.tag_key(tag, job.id),
                "Owner": job.owner,
                "JobType": job.job_type,
            }
            for tag in sorted(set(job.tags))
        ),
    )


@dataclass(frozen=True, slots=True)
class Operations:
    """One update's transaction: its operations, its job row's first."""

    operations: list[Any]
    #: Deletes of rows that may already be gone (dropped if they find nothing).
    may_be_gone: frozenset[int]


def update_operations(job: QueuedJob, rows: JobRows, read: ReadVersion) -> Operations:
    """The operations that replace the job ``read`` with ``rows``, guarded by the ETag of
    the row it was read from (a pointer that should be there but is not is no conflict:
    its delete is dropped)."""
    partition = rows.job["PartitionKey"]
    condition = {**_REPLACE, "etag": read.etag, "match_condition": MatchConditions.IfNotModified}
    operations: list[Any] = [
        ("update", row, condition) if read.kind == kind else ("upsert", row, _REPLACE)
        for row, kind in ((rows.job, FROM_JOB_ROW), (rows.owner, FROM_OWNER_ROW))
    ]
    may_be_gone: set[int] = set()

    def delete(row_key: str) -> None:
        may_be_gone.add(len(operations))
        operations.append(("delete", {"PartitionKey": partition, "RowKey": row_key}))

    def upsert(*changed: Row) -> None:
        operations.extend(("upsert", row, _REPLACE) for row in changed)

    if read.listed is None:  # filed under no status (not a version this store wrote)
        upsert(*rows.status_pointers, rows.type_pointer)
    elif read.listed != job.status.value:
        for old in _status_pointers(job, partition, read.listed):
            delete(old["RowKey"])
        upsert(*rows.status_pointers)
    new_due = None if rows.due is None else rows.due["RowKey"]
    if read.due_row is not None and read.due_row != new_due:
        delete(read.due_row)
    if rows.due is not None and new_due != read.due_row:
        upsert(rows.due)
    return Operations(operations, frozenset(may_be_gone))


def deleted_keys(
    job_id: str,
    *,
    owners: set[str],
    job_types: set[str],
    listed: str | None,
    tags: Iterable[str] = (),
) -> list[str]:
    """The row keys of a job's copies and pointers, as rows naming these owners, types,
    status and tags were filed (a name no key could hold is left out)."""
    makers: list[Callable[[], str]] = []
    statuses = [] if listed is None else [listed]
    for owner in sorted(owners):
        makers.append(partial(keys.owner_key, owner, job_id))
        makers += [partial(keys.owner_status_key, owner, s, job_id) for s in statuses]
    for job_type in sorted(job_types):
        makers.append(partial(keys.type_key, job_type, job_id))
        makers += [partial(keys.type_status_key, job_type, s, job_id) for s in statuses]
    makers += [partial(keys.status_key, s, job_id) for s in statuses]
    makers += [partial(keys.tag_key, tag, job_id) for tag in sorted(set(tags))]
    row_keys = []
    for make in makers:
        with suppress(InvalidKey):  # not a name any row could have been written for
            row_keys.append(make())
    return row_keys


def loose_doc(job_row: Mapping[str, Any]) -> dict[str, Any]:
    """The document of a job row as far as it reads (``{}`` if it does not)."""
    try:
        doc = from_json(job_row.get("Doc") or "{}")
    except (TypeError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def lifetime_of(doc: Mapping[str, Any]) -> timedelta:
    """How long the job of document ``doc`` has lived by its record (creation to last
    write); none if the document does not say."""
    try:
        created = datetime.fromisoformat(str(doc["created_at"]))
        updated = datetime.fromisoformat(str(doc["updated_at"]))
    except (KeyError, ValueError):
        return timedelta(0)
    return max(updated - created, timedelta(0))


def copies_and_pointers(
    job_id: str, job_row: Mapping[str, Any], doc: Mapping[str, Any]
) -> list[str]:
    """The row keys of the copies and pointers of the job ``job_row`` is a full copy of,
    found from its ``Owner``, ``JobType`` and ``Listed`` columns and from its document
    (``doc``), so that a row whose document cannot be read is deleted whole too (but for
    its tag pointers, which only the document names: they are left, pointing at no job,
    and listings pass over them)."""
    listed = job_row.get("Listed")
    tags = doc.get("tags")
    return deleted_keys(
        job_id,
        owners={o for o in (job_row.get("Owner"), doc.get("owner")) if isinstance(o, str)},
        job_types={t for t in (job_row.get("JobType"), doc.get("job_type")) if isinstance(t, str)},
        listed=listed if listed in STATUSES else None,
        tags={t for t in tags if isinstance(t, str)} if isinstance(tags, list) else set(),
    )
