"""The SQLite database under the embedded adapters: files, schema, sharing and errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from queued_jobs._sqlite.database import SqliteDatabase
from queued_jobs.errors import StorageError, StorageUnavailable
from queued_jobs.models import QueuedJob
from queued_jobs.queues.sqlite import SqliteQueueBroker
from queued_jobs.repositories.sqlite import SqliteJobRepository


def _count_jobs(connection: sqlite3.Connection) -> int:
    count: int = connection.execute("SELECT count(*) FROM jobs").fetchone()[0]
    return count


async def test_opening_creates_the_folders_the_file_and_the_schema_in_wal_mode(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deep" / "er" / "store.db"
    database = SqliteDatabase(path)

    await database.open()
    await database.close()

    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert raw.execute("PRAGMA user_version").fetchone() == (1,)
    raw.close()


async def test_a_repository_and_a_queue_can_share_one_database_that_they_leave_open(
    tmp_path: Path,
) -> None:
    database = SqliteDatabase(tmp_path / "store.db")
    repository = SqliteJobRepository(database)
    broker = SqliteQueueBroker(database)
    job = await repository.insert(QueuedJob.new(owner="o", job_type="t"))
    await broker.queue("jobs").send(job.id)

    await repository.close()
    await broker.close()

    assert await database.run(_count_jobs) == 1
    await database.close()


async def test_a_lock_held_past_the_busy_timeout_raises_storage_unavailable(
    tmp_path: Path,
) -> None:
    database = SqliteDatabase(tmp_path / "store.db", busy_timeout=0.05)
    await database.open()
    holder = sqlite3.connect(database.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")

    with pytest.raises(StorageUnavailable, match="stayed locked"):
        await database.write(_count_jobs)

    holder.execute("ROLLBACK")
    holder.close()
    assert await database.write(_count_jobs) == 0
    await database.close()


async def test_a_closed_database_refuses_work_with_a_storage_error(tmp_path: Path) -> None:
    database = SqliteDatabase(tmp_path / "store.db")
    await database.open()
    await database.close()
    await database.close()

    with pytest.raises(StorageError, match="closed"):
        await database.run(_count_jobs)
