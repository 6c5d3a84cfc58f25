"""Write job rows that cannot be read back, straight into each store (past its write
gate), as a foreign writer, an older version or a damaged disk would leave them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from queued_jobs import StorageConnection
from queued_jobs._azure import table_keys as keys
from queued_jobs._azure.table_entities import encode_job
from queued_jobs._sqlite.database import to_micros
from queued_jobs.models import QueuedJob
from queued_jobs.repositories.memory import MemoryJobRepository, _Row

__all__ = [
    "INLINE_DAMAGES",
    "READ_BACK",
    "UNREADABLE",
    "Damage",
    "nested",
    "plant_in_azure",
    "plant_in_memory",
    "plant_in_sqlite",
]


class Damage(StrEnum):
    """What is wrong with a planted row."""

    NOT_JSON = "not-json"  # the document cut in half
    INVALID = "invalid"  # JSON, but max_attempts 1003 (what `retry --attempts 1000` wrote)
    NO_DOCUMENT = "no-document"  # the document is empty (Azure: the property is missing)
    TOO_DEEP = "too-deep"  # a request nested 230 levels, past the reader's 200
    BLOB_GONE = "blob-gone"  # Azure: a large request's blob was never there
    #: Not unreadable: a request nested 100 levels reads back (the reader takes 200) but the
    #: write gate refuses it, as an older version could have stored it.
    REFUSED_ON_WRITE = "refused-on-write"
    #: Not unreadable: the document has no ``unique_scope``, as versions before unique-key
    #: scopes stored it.
    NO_UNIQUE_SCOPE = "no-unique-scope"


#: What every store can hold; ``BLOB_GONE`` needs payload blobs (Azure only).
INLINE_DAMAGES = [Damage.NOT_JSON, Damage.INVALID, Damage.NO_DOCUMENT, Damage.TOO_DEEP]
#: The damages that make a row unreadable.
UNREADABLE = [*INLINE_DAMAGES, Damage.BLOB_GONE]
#: What every store can hold that still reads back: rows as older versions wrote them.
READ_BACK = [Damage.REFUSED_ON_WRITE, Damage.NO_UNIQUE_SCOPE]


def nested(levels: int, leaf: Any = 1) -> Any:
    """``leaf`` inside ``levels`` lists."""
    for _ in range(levels):
        leaf = [leaf]
    return leaf


def _damaged(job: QueuedJob, damage: Damage) -> QueuedJob:
    if damage is Damage.INVALID:
        return job.model_copy(update={"max_attempts": 1003})
    if damage is Damage.TOO_DEEP:
        return job.model_copy(update={"request": nested(230)})
    if damage is Damage.REFUSED_ON_WRITE:
        return job.model_copy(update={"request": nested(100)})
    if damage is Damage.BLOB_GONE:
        return job.model_copy(update={"request": {"big": "x" * 40_000}})
    return job


def _without_scope(doc: str) -> str:
    fields = json.loads(doc)
    del fields["unique_scope"]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def _document(job: QueuedJob, damage: Damage) -> str:
    doc = _damaged(job, damage).model_dump_json(exclude={"version"})
    if damage is Damage.NO_UNIQUE_SCOPE:
        return _without_scope(doc)
    if damage is Damage.NOT_JSON:
        return doc[: len(doc) // 2]
    if damage is Damage.NO_DOCUMENT:
        return ""
    return doc


def plant_in_memory(repository: MemoryJobRepository, job: QueuedJob, damage: Damage) -> None:
    repository._put(
        job.id,
        _Row(
            job.owner,
            job.job_type,
            job.status,
            job.created_at,
            job.completed_at,
            job.unique_reservation,
            "1",
            _document(job, damage),
        ),
    )


def plant_in_sqlite(path: Path, job: QueuedJob, damage: Damage) -> None:
    completed = None if job.completed_at is None else to_micros(job.completed_at)
    with sqlite3.connect(path) as connection:
        connection.execute(
            """INSERT OR REPLACE INTO jobs
            (id, owner, job_type, status, created_at, completed_at, version, doc)
            VALUES (?, ?, ?, ?, ?, ?, 1, ?)""",
            (
                job.id,
                job.owner,
                job.job_type,
                job.status.value,
                to_micros(job.created_at),
                completed,
                _document(job, damage),
            ),
        )
    connection.close()


async def plant_in_azure(
    connection: StorageConnection,
    client_options: Mapping[str, Any],
    table: str,
    job: QueuedJob,
    damage: Damage,
) -> None:
    """The job's row and its owner copy, damaged alike (without uploading any blob)."""
    properties = encode_job(_damaged(job, damage)).properties
    if damage is Damage.NOT_JSON:
        properties["Doc"] = properties["Doc"][: len(properties["Doc"]) // 2]
    if damage is Damage.NO_DOCUMENT:
        del properties["Doc"]
    if damage is Damage.NO_UNIQUE_SCOPE:
        properties["Doc"] = _without_scope(properties["Doc"])
    properties = {k: v for k, v in properties.items() if v is not None}
    partition = keys.job_partition(job.id)
    rows = [keys.job_key(job.id), keys.owner_key(job.owner, job.id)]
    async with StorageConnection.of(connection).clients(client_options).table(table) as client:
        for row_key in rows:
            await client.upsert_entity({"PartitionKey": partition, "RowKey": row_key, **properties})
