"""The SQLite database under the embedded adapters: files, schema, sharing and errors."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from queued_jobs._sqlite.database import SqliteDatabase
from queued_jobs.errors import StorageError, StorageUnavailable
from queued_jobs.models import QueuedJob
from queued_jobs.queues.sqlite import SqliteQueueBroker
from queued_jobs.repositories.sqlite import SqliteJobRepository
from tests.integration.conftest import ROOT
from tests.support.waiting import PATIENCE, until


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
    assert raw.execute("PRAGMA user_version").fetchone() == (11,)
    raw.close()


async def test_a_database_of_the_first_schema_gains_the_secrets_table_and_keeps_its_jobs(
    tmp_path: Path,
) -> None:
    from queued_jobs._sqlite.database import _MIGRATIONS
    from queued_jobs.models import QueuedJob
    from queued_jobs.repositories.sqlite import SqliteJobRepository

    path = tmp_path / "old.db"
    job = QueuedJob.new(owner="ada", job_type="t")
    raw = sqlite3.connect(path)
    for statement in _MIGRATIONS[0]:  # the schema as the first version left it
        raw.execute(statement)
    raw.execute(
        """INSERT INTO jobs (id, owner, job_type, status, created_at, completed_at, version, doc)
        VALUES (?, ?, ?, ?, ?, NULL, 1, ?)""",
        (job.id, job.owner, job.job_type, job.status.value, 0, job.model_dump_json()),
    )
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()

    upgraded = SqliteJobRepository(path)
    try:
        assert len(await upgraded.message_key()) == 32
        assert (await upgraded.get(job.id)).id == job.id
    finally:
        await upgraded.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone() == (len(_MIGRATIONS),)
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


# --- group commit: calls waiting together run in one transaction, each on its own ---


def _insert(connection: sqlite3.Connection, key: str) -> str:
    connection.execute("INSERT INTO unique_keys VALUES (?, 'job', 0)", (key,))
    return key


def _insert_then_fail(connection: sqlite3.Connection, key: str) -> str:
    _insert(connection, key)
    raise ValueError(f"{key} changed its mind")


def _break_the_transaction(connection: sqlite3.Connection, key: str) -> str:
    connection.execute("ROLLBACK")
    return key


def _keys(connection: sqlite3.Connection) -> list[str]:
    return [key for (key,) in connection.execute("SELECT key FROM unique_keys ORDER BY key")]


class _Hold:
    """Keeps the database thread busy until released, so that calls wait behind it."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database
        self._busy = threading.Event()
        self._released = threading.Event()
        self.task: asyncio.Future[None] | None = None

    def _hold(self, connection: sqlite3.Connection) -> None:
        self._busy.set()
        self._released.wait(PATIENCE)

    async def start(self) -> None:
        self.task = asyncio.ensure_future(self._database.run(self._hold))
        await until(self._busy.is_set, "the database thread taking the holding call")

    async def release_once_waiting(self, calls: int) -> None:
        """Release the thread once ``calls`` calls wait for it."""
        await until(
            lambda: self._database._calls.qsize() >= calls, f"{calls} calls waiting in line"
        )
        self._released.set()
        assert self.task is not None
        await self.task


async def _queued_behind_a_busy_thread(database: SqliteDatabase, *calls: Any) -> list[Any]:
    """Run ``calls`` (``(fn, key)`` pairs) while the database thread is busy, so that they
    wait together and run as one group."""
    hold = _Hold(database)
    await hold.start()
    pending = asyncio.gather(
        *(database.write(fn, key) for fn, key in calls), return_exceptions=True
    )
    await hold.release_once_waiting(len(calls))
    return await pending


async def test_a_failing_call_in_a_group_is_rolled_back_alone(tmp_path: Path) -> None:
    database = SqliteDatabase(tmp_path / "store.db")
    await database.open()

    outcomes = await _queued_behind_a_busy_thread(
        database, (_insert, "a"), (_insert_then_fail, "b"), (_insert, "c")
    )

    assert (outcomes[0], outcomes[2]) == ("a", "c")
    assert isinstance(outcomes[1], ValueError)
    assert await database.run(_keys) == ["a", "c"]
    await database.close()


async def test_when_the_group_transaction_breaks_every_call_fails_and_nothing_is_kept(
    tmp_path: Path,
) -> None:
    database = SqliteDatabase(tmp_path / "store.db")
    await database.open()

    outcomes = await _queued_behind_a_busy_thread(
        database, (_insert, "a"), (_break_the_transaction, "b"), (_insert, "c")
    )

    assert all(isinstance(outcome, StorageError) for outcome in outcomes)
    assert len({id(outcome) for outcome in outcomes}) == 3  # each caller its own error
    assert await database.run(_keys) == []
    assert await database.write(_insert, "d") == "d"  # the database works on
    await database.close()


async def test_a_cancelled_caller_does_not_disturb_the_others(tmp_path: Path) -> None:
    database = SqliteDatabase(tmp_path / "store.db")
    await database.open()
    hold = _Hold(database)
    await hold.start()
    cancelled = asyncio.ensure_future(database.write(_insert, "a"))
    kept = asyncio.ensure_future(database.write(_insert, "b"))
    await until(lambda: database._calls.qsize() >= 2, "both calls waiting in line")
    cancelled.cancel()
    await hold.release_once_waiting(2)

    assert await kept == "b"
    # The cancelled call had already been handed over: it ran, nobody heard of it.
    assert await database.run(_keys) == ["a", "b"]
    await database.close()


async def test_calls_from_several_event_loops_are_answered_on_their_own_loop(
    tmp_path: Path,
) -> None:
    database = SqliteDatabase(tmp_path / "store.db")
    await database.open()

    def other_loop(key: str) -> str:
        return asyncio.run(database.write(_insert, key))

    here, there = await asyncio.gather(
        database.write(_insert, "here"), asyncio.to_thread(other_loop, "there")
    )

    assert (here, there) == ("here", "there")
    await database.close()


OPEN_AT = """
import asyncio, sys, time
from queued_jobs._sqlite.database import SqliteDatabase

async def main() -> None:
    while time.time() < float(sys.argv[2]):  # every process opens at the same moment
        await asyncio.sleep(0.001)
    # Long enough for four openers to migrate one after the other on a busy machine;
    # openers that waited each other out would still fail, after it.
    database = SqliteDatabase(sys.argv[1], busy_timeout=5.0)
    await database.open()
    await database.close()

asyncio.run(main())
"""


def test_processes_opening_a_new_file_at_once_all_get_in(tmp_path: Path) -> None:
    # A worker and an app starting together: each first open switches the file to WAL and
    # migrates it; openers holding a read lock while waiting for each other's write lock
    # used to wait out their busy timeout (about one opener in eight failed).
    # Each also creates the file if it is missing, with the owner-only mode: one wins.
    script = tmp_path / "open_at.py"
    script.write_text(OPEN_AT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    failed = []
    modes = set()
    previous_umask = os.umask(0o022)
    try:
        for round_ in range(16):
            path = tmp_path / f"new{round_}.db"
            start = time.time() + 0.8
            openers = [
                subprocess.Popen(
                    [sys.executable, str(script), str(path), str(start)],
                    env=env,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(4)
            ]
            for opener in openers:
                _, error = opener.communicate(timeout=60)
                if opener.returncode != 0:
                    failed.append(error.strip().splitlines()[-1])
            modes.add(path.stat().st_mode & 0o777)
    finally:
        os.umask(previous_umask)
    assert failed == []
    assert modes == {0o600}


async def test_a_database_of_the_second_schema_gains_the_due_index_and_keeps_its_jobs_found(
    tmp_path: Path,
) -> None:
    from queued_jobs._sqlite.database import _MIGRATIONS
    from queued_jobs.clock import ManualClock
    from queued_jobs.execution.sweep import Sweeper
    from queued_jobs.models import JobStatus
    from queued_jobs.queues.memory import MemoryQueueBroker

    clock = ManualClock()
    path = tmp_path / "old.db"
    job = QueuedJob.new(owner="ada", job_type="t", now=clock.now())
    raw = sqlite3.connect(path)
    for statement in (*_MIGRATIONS[0], *_MIGRATIONS[1]):  # as the second version left it
        raw.execute(statement)
    raw.execute(
        """INSERT INTO jobs (id, owner, job_type, status, created_at, completed_at, version, doc)
        VALUES (?, ?, ?, ?, ?, NULL, 1, ?)""",
        (job.id, job.owner, job.job_type, job.status.value, 0, job.model_dump_json()),
    )
    raw.execute("PRAGMA user_version = 2")
    raw.commit()
    raw.close()
    clock.advance(timedelta(hours=1))

    upgraded = SqliteJobRepository(path, clock=clock)
    broker = MemoryQueueBroker(clock=clock)
    try:
        due = await upgraded.list_due(frozenset({JobStatus.QUEUED}), due_by=clock.now())
        assert list(due.items) == []  # stored without the index
        report = await Sweeper(upgraded, broker, clock=clock).sweep()
        assert (report.full, report.resent) == (True, 1)
        clock.advance(timedelta(hours=1))
        due = await upgraded.list_due(frozenset({JobStatus.QUEUED}), due_by=clock.now())
        assert [j.id for j in due.items] == [job.id]  # its touch indexed it
    finally:
        await upgraded.close()


async def test_jobs_of_a_database_before_the_change_feed_record_a_change_at_their_next_write(
    tmp_path: Path,
) -> None:
    from queued_jobs._sqlite.database import _MIGRATIONS
    from queued_jobs.models import QueuedJob
    from queued_jobs.repositories.sqlite import SqliteJobRepository

    path = tmp_path / "old.db"
    job = QueuedJob.new(owner="ada", job_type="t")
    raw = sqlite3.connect(path)
    for statements in _MIGRATIONS[:3]:  # the schema as the third version left it
        for statement in statements:
            raw.execute(statement)
    raw.execute(
        """INSERT INTO jobs (id, owner, job_type, status, created_at, completed_at, version, doc)
        VALUES (?, ?, ?, ?, ?, NULL, 1, ?)""",
        (job.id, job.owner, job.job_type, job.status.value, 0, job.model_dump_json()),
    )
    raw.execute("PRAGMA user_version = 3")
    raw.commit()
    raw.close()

    upgraded = SqliteJobRepository(path)
    try:
        assert list((await upgraded.read_changes("all")).changes) == []
        # what a watcher sees of it is unknown: its next write records a change, the one
        # after that only if a watcher sees one
        touched = await upgraded.update(await upgraded.get(job.id))
        await upgraded.update(touched.model_copy(update={"tags": ("again",)}))
        [change] = (await upgraded.read_changes("all")).changes
        assert (change.job_id, change.status) == (job.id, job.status)
    finally:
        await upgraded.close()


async def test_an_update_leaves_the_owner_and_type_as_stored_and_refuses_another_type(
    tmp_path: Path,
) -> None:
    from queued_jobs.errors import InvalidInput
    from queued_jobs.models import JobStatus, QueuedJob
    from queued_jobs.repositories.sqlite import SqliteJobRepository

    repository = SqliteJobRepository(tmp_path / "jobs.db")
    try:
        job = await repository.insert(QueuedJob.new(owner="ada", job_type="t"))
        moved = await repository.update(job.model_copy(update={"status": JobStatus.RUNNING}))
        assert (await repository.get(job.id)).status is JobStatus.RUNNING

        with pytest.raises(InvalidInput, match="never changes"):
            await repository.update(moved.model_copy(update={"job_type": "other"}))
        stored = await repository.get(job.id)
        assert (stored.owner, stored.job_type, stored.version) == ("ada", "t", moved.version)
        raw = sqlite3.connect(tmp_path / "jobs.db")
        assert raw.execute("SELECT owner, job_type FROM jobs").fetchall() == [("ada", "t")]
        raw.close()
    finally:
        await repository.close()


async def test_jobs_of_a_database_before_the_tag_index_are_listed_by_their_tags_once_opened(
    tmp_path: Path,
) -> None:
    from queued_jobs._sqlite.database import _MIGRATIONS
    from queued_jobs.models import JobStatus, QueuedJob
    from queued_jobs.repositories.base import JobQuery
    from queued_jobs.repositories.sqlite import SqliteJobRepository

    path = tmp_path / "old.db"
    jobs = [
        QueuedJob.new(owner="ada", job_type="t", tags=("q4", "vip")),
        QueuedJob.new(owner="bob", job_type="t", tags=("q4", "q4"), status=JobStatus.FAILED),
        QueuedJob.new(owner="ada", job_type="t"),
    ]
    raw = sqlite3.connect(path)
    for statements in _MIGRATIONS[:5]:  # the schema as the fifth version left it
        for statement in statements:
            raw.execute(statement)
    rows = [(job.id, job.owner, job.status.value, job.model_dump_json()) for job in jobs]
    rows.append(("f" * 28 + "0", "cy", "queued", '{"tags": ["q4"'))  # not JSON: no tags
    raw.executemany(
        """INSERT INTO jobs (id, owner, job_type, status, created_at, completed_at, version, doc)
        VALUES (?, ?, 't', ?, 0, NULL, 1, ?)""",
        rows,
    )
    raw.execute("PRAGMA user_version = 5")
    raw.commit()
    raw.close()

    upgraded = SqliteJobRepository(path)
    try:
        q4 = await upgraded.list_jobs(JobQuery(tag="q4"))
        vip = await upgraded.list_jobs(JobQuery(tag="vip", owner="ada"))
        failed = JobQuery(tag="q4", statuses=frozenset({JobStatus.FAILED}))
        assert [job.id for job in q4.items] == sorted((jobs[0].id, jobs[1].id), reverse=True)
        assert [job.id for job in vip.items] == [jobs[0].id]
        assert [job.id for job in (await upgraded.list_jobs(failed)).items] == [jobs[1].id]
        assert await upgraded.count_jobs(JobQuery(tag="q4"), at_most=10) == 2
        await upgraded.delete(jobs[0].id)
    finally:
        await upgraded.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone() == (len(_MIGRATIONS),)
    assert raw.execute("SELECT tag, job_id FROM job_tags").fetchall() == [("q4", jobs[1].id)]
    raw.close()


async def test_a_database_of_the_sixth_schema_gains_the_presences_and_keeps_its_jobs(
    tmp_path: Path,
) -> None:
    from queued_jobs._sqlite.database import _MIGRATIONS
    from queued_jobs.models import Presence, PresenceKind, QueuedJob
    from queued_jobs.repositories.sqlite import SqliteJobRepository

    path = tmp_path / "old.db"
    job = QueuedJob.new(owner="ada", job_type="t")
    raw = sqlite3.connect(path)
    for statements in _MIGRATIONS[:6]:  # the schema as the sixth version left it
        for statement in statements:
            raw.execute(statement)
    raw.execute(
        """INSERT INTO jobs (id, owner, job_type, status, created_at, completed_at, version, doc)
        VALUES (?, ?, ?, ?, 0, NULL, 1, ?)""",
        (job.id, job.owner, job.job_type, job.status.value, job.model_dump_json()),
    )
    raw.execute("PRAGMA user_version = 6")
    raw.commit()
    raw.close()

    upgraded = SqliteJobRepository(path)
    try:
        seen = job.created_at
        presence = Presence("box:1", PresenceKind.WORKER, seen, seen, "1", {"running": 0})
        await upgraded.save_presence(presence)
        assert await upgraded.list_presences(seen_since=seen) == [presence]
        assert (await upgraded.get(job.id)).id == job.id
    finally:
        await upgraded.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone() == (len(_MIGRATIONS),)
    raw.close()


async def test_a_database_of_the_seventh_schema_gains_the_schedules_and_keeps_its_jobs(
    tmp_path: Path,
) -> None:
    from queued_jobs._sqlite.database import _MIGRATIONS
    from queued_jobs.models import QueuedJob, new_job_id
    from queued_jobs.repositories.sqlite import SqliteJobRepository
    from queued_jobs.schedules.model import Schedule, SlotMarker

    path = tmp_path / "old.db"
    job = QueuedJob.new(owner="ada", job_type="t")
    raw = sqlite3.connect(path)
    for statements in _MIGRATIONS[:7]:  # the schema as the seventh version left it
        for statement in statements:
            raw.execute(statement)
    raw.execute(
        """INSERT INTO jobs (id, owner, job_type, status, created_at, completed_at, version, doc)
        VALUES (?, ?, ?, ?, 0, NULL, 1, ?)""",
        (job.id, job.owner, job.job_type, job.status.value, job.model_dump_json()),
    )
    raw.execute("PRAGMA user_version = 7")
    raw.commit()
    raw.close()

    upgraded = SqliteJobRepository(path)
    try:
        now = job.created_at
        made = Schedule.new(
            owner="ada", name="n", job_type="t", rule="every:PT1M", now=now, next_slot=now
        )
        stored = await upgraded.schedules.insert_schedule(made)
        assert await upgraded.schedules.list_due_schedules(now=now) == [stored]
        fired = SlotMarker.of(made.id, now, job_id=new_job_id("ada"), fired_by="h:1")
        await upgraded.schedules.insert_slot_marker(fired)
        assert await upgraded.schedules.get_slot_marker(made.id, now) == fired
        assert (await upgraded.get(job.id)).id == job.id
    finally:
        await upgraded.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone() == (len(_MIGRATIONS),) == (11,)
    raw.close()


async def test_the_due_listing_and_the_purge_read_their_indexes(tmp_path: Path) -> None:
    from queued_jobs._sqlite.schedules import _DUE, _MARKERS, _PURGE

    repository = SqliteJobRepository(tmp_path / "plans.db")
    await repository.create()
    await repository.close()
    raw = sqlite3.connect(tmp_path / "plans.db")
    plans = {
        "due": (_DUE, (0, 10)),
        "markers": (_MARKERS, ("x", 10)),
        "purge": (_PURGE, (0, 0, 10)),
    }
    for what, (sql, params) in plans.items():
        plan = " ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), (what, plan)
    raw.close()


async def test_a_database_of_the_eighth_schema_gains_the_sequences_and_keeps_its_schedules(
    tmp_path: Path,
) -> None:
    from queued_jobs._sqlite.database import _MIGRATIONS
    from queued_jobs.schedules.model import Schedule
    from queued_jobs.sequences import Sequence

    path = tmp_path / "old.db"
    older = SqliteJobRepository(path)
    made = Schedule.new(owner="ada", name="n", job_type="t", rule="every:PT1M")
    await older.create()
    await older.schedules.insert_schedule(made)
    await older.close()
    raw = sqlite3.connect(path)
    raw.execute("DROP TABLE sequences")
    raw.execute("PRAGMA user_version = 8")
    raw.commit()
    raw.close()

    upgraded = SqliteJobRepository(path)
    try:
        started = Sequence.new(owner="ada", name="s", steps=[{"jobs": [{"job_type": "t"}]}])
        stored = await upgraded.sequences.insert_sequence(started)
        assert (await upgraded.sequences.list_active_sequences()).items == [stored]
        assert (await upgraded.schedules.get_schedule(made.id)).name == "n"
    finally:
        await upgraded.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone() == (len(_MIGRATIONS),)
    plan = " ".join(
        row[3]
        for row in raw.execute(
            "EXPLAIN QUERY PLAN SELECT id, version, doc FROM sequences INDEXED BY "
            "sequences_active WHERE active IS NOT NULL ORDER BY id DESC LIMIT 10"
        )
    )
    assert "sequences_active" in plan
    raw.close()


async def test_a_database_of_the_ninth_schema_learns_when_its_sequences_ended_and_purges_them(
    tmp_path: Path,
) -> None:
    from queued_jobs._sqlite.database import _MIGRATIONS
    from queued_jobs._sqlite.sequences import _PURGE
    from queued_jobs.sequences import Sequence, SequenceStatus

    path = tmp_path / "old.db"
    raw = sqlite3.connect(path)
    for statements in _MIGRATIONS[:9]:  # the schema as the ninth version left it
        for statement in statements:
            raw.execute(statement)
    steps = [{"jobs": [{"job_type": "t"}]}]
    old = datetime(2026, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    done = Sequence.new(owner="ada", name="done", steps=steps, now=old).with_changes(
        now=old, status=SequenceStatus.SUCCEEDED, step=None, completed_at=old
    )
    running = Sequence.new(owner="ada", name="running", steps=steps, now=old)
    for made, active in ((done, None), (running, 1)):
        raw.execute(
            "INSERT INTO sequences (id, owner, active, version, doc) VALUES (?, ?, ?, 1, ?)",
            (made.id, made.owner, active, made.model_dump_json(exclude={"version"})),
        )
    raw.execute("PRAGMA user_version = 9")
    raw.commit()
    raw.close()

    upgraded = SqliteJobRepository(path)
    try:
        store = upgraded.sequences
        assert await store.purge_sequences(ended_before=old) == 0
        assert await store.purge_sequences(ended_before=old + timedelta(milliseconds=1)) == 1
        assert [s.id for s in (await store.list_sequences()).items] == [running.id]
    finally:
        await upgraded.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone() == (len(_MIGRATIONS),)
    plan = " ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {_PURGE}", (0, 10)))
    assert "sequences_ended" in plan
    assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), plan
    raw.close()


async def test_a_database_of_the_tenth_schema_gains_the_limits_and_keeps_its_jobs(
    tmp_path: Path,
) -> None:
    from queued_jobs._sqlite.database import _MIGRATIONS
    from queued_jobs._sqlite.limits import _WAITERS
    from queued_jobs.limits.model import Gate, LimitSettings, Waiter
    from queued_jobs.models import new_job_id

    path = tmp_path / "old.db"
    job = QueuedJob.new(owner="ada", job_type="t")
    raw = sqlite3.connect(path)
    for statements in _MIGRATIONS[:10]:  # the schema as the tenth version left it
        for statement in statements:
            raw.execute(statement)
    raw.execute(
        """INSERT INTO jobs (id, owner, job_type, status, created_at, completed_at, version, doc)
        VALUES (?, ?, ?, ?, 0, NULL, 1, ?)""",
        (job.id, job.owner, job.job_type, job.status.value, job.model_dump_json()),
    )
    raw.execute("PRAGMA user_version = 10")
    raw.commit()
    raw.close()

    for _ in range(2):  # the second opening finds the schema up to date
        upgraded = SqliteJobRepository(path)
        try:
            limits = upgraded.limits
            parked = Waiter(job_id=new_job_id("ada"), queue="jobs", since=job.created_at)
            made = Gate(limit="exports", has_waiters=True, updated_at=job.created_at)
            stored = await limits.save_gate(made, add_waiter=parked)
            assert await limits.load_gate("exports", "") == stored
            assert await limits.first_waiters("exports", "", count=5) == [parked]
            saved = await limits.save_limit_settings(
                LimitSettings(limit="exports", capacity=1, updated_at=job.created_at)
            )
            assert await limits.list_limit_settings() == [saved]
            await limits.delete_limit_settings("exports")
            emptied = await limits.save_gate(stored, remove_waiters=[parked.job_id])
            assert await limits.delete_gate(emptied)
            assert (await upgraded.get(job.id)).id == job.id
        finally:
            await upgraded.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone() == (len(_MIGRATIONS),) == (11,)
    plans = {
        "waiters": (_WAITERS, ("exports", "", 10)),
        "waiting gates": (
            "SELECT limit_name, key FROM gates INDEXED BY gates_waiting WHERE has_waiters = 1 "
            "AND (limit_name, key) > (?, ?) ORDER BY limit_name, key LIMIT 10",
            ("a", ""),
        ),
    }
    for what, (sql, params) in plans.items():
        plan = " ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), (what, plan)
        assert "TEMP B-TREE" not in plan, (what, plan)
    raw.close()
