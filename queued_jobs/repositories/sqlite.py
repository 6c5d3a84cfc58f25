"""SQLite :class:`JobRepository`: the embedded default, safe for several processes on one file.

A job is one row: the record as JSON plus the few columns that listings filter and sort
on. Its version is an integer bumped by every update, which is conditional on it. Its tags
are rows of ``job_tags`` (a tag's jobs are a range of its key), written with the job and
deleted with it.

The change feed is the table ``changes``, one partition (``"all"``): a row per change,
numbered by an ``AUTOINCREMENT`` key in the job's own write transaction. Writers hold the
file's write lock from the number to the commit, so numbers are committed in their order
and a read sees every change up to the last one there is: that one is settled. A job's
``watched`` column (the digest of what a watcher sees of it) tells an update, inside its
transaction, whether to record one.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .._once import LoadedOnce
from .._private import PRIVATE_FILE
from .._sqlite.changes import ChangeBell
from .._sqlite.database import SqliteDatabase, execute, to_micros
from .._sqlite.filters import among, filters, tag_filters
from .._sqlite.limits import SqliteLimitStore
from .._sqlite.presences import SqlitePresences
from .._sqlite.schedules import SqliteScheduleStore
from .._sqlite.sequences import SqliteSequenceStore
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import (
    ConcurrencyConflict,
    CorruptJobRecord,
    DuplicateJob,
    InvalidInput,
    JobAlreadyExists,
    JobNotFound,
    StorageError,
)
from ..models import TERMINAL_STATUSES, Attempt, JobStatus, Presence, QueuedJob
from ._changes import (
    ALL,
    ONE_PARTITION,
    change_doc,
    change_from_doc,
    check_change_limit,
    check_partition,
    parse_sequence,
    sequence_position,
    watched_digest,
)
from ._due import due_at, due_micros, due_token, parse_due_token
from ._limits import check_attempt, check_job
from ._presence import DEFAULT_PRESENCE_LIMIT
from ._records import attempt_from_json, job_from_json, reservation_in
from .base import (
    CHANGE_PAGE_SIZE,
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_PAGE_SIZE,
    UNIQUE_KEY_GRACE,
    ChangeBatch,
    Checkpoint,
    JobQuery,
    Page,
    check_checkpoint,
    check_lease,
    check_lease_name,
    check_new_jobs,
    check_page_size,
)

__all__ = ["SqliteJobRepository"]

_COLUMNS = "id, owner, job_type, status, created_at, completed_at, doc, due_at, watched, version"
_INSERT = f"INSERT INTO jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
_RECORD = "INSERT INTO changes (job_id, recorded_at, doc) VALUES (?, ?, ?)"
_TAG = "INSERT OR IGNORE INTO job_tags (tag, job_id) VALUES (?, ?)"
#: A tag's jobs: the range of its rows in ``job_tags`` (newest first by id), each job read
#: by its key and checked against the other filters (``CROSS JOIN`` keeps that order).
_TAGGED = "job_tags CROSS JOIN jobs ON jobs.id = job_tags.job_id"
#: Records the change before the update replaces the row, if the update changes what a
#: watcher sees (a row without a digest: always) and will go through (its version holds;
#: if it fails for another reason, the transaction takes the change back with it).
_RECORD_IF_WATCHED = """INSERT INTO changes (job_id, recorded_at, doc)
    SELECT id, ?, ? FROM jobs WHERE id = ? AND version = ? AND watched IS NOT ?"""
_READ_CHANGES = "SELECT seq, doc FROM changes WHERE seq > ? ORDER BY seq LIMIT ?"
#: Sets only the columns a job's changes can move, so that the indexes on the others are
#: left alone (rewriting them all on every update cost about 12 % of an embedded drain):
#: its owner is fixed by its id (the model refuses another), its creation time never
#: changes, and its type guards the row (a change of type is refused).
_UPDATE = """UPDATE jobs SET status = ?, completed_at = ?, doc = ?, due_at = ?, watched = ?,
    version = version + 1
    WHERE id = ? AND version = ? AND job_type = ?
    RETURNING version"""
_TAKE_LEASE = """INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
    WHERE leases.holder = excluded.holder OR leases.until <= ?"""
_GRACE_MICROS = UNIQUE_KEY_GRACE // timedelta(microseconds=1)
_TERMINAL = tuple(status.value for status in TERMINAL_STATUSES)
_MESSAGE_KEY = "message-key"


class SqliteJobRepository:
    """Job records in a SQLite file (or a :class:`SqliteDatabase` shared with a queue).

    A repository opened on a path owns its database and closes it; one given a database
    leaves closing it to the caller. ``file_mode``: see :class:`SqliteDatabase`.
    """

    def __init__(
        self,
        path_or_db: str | Path | SqliteDatabase,
        *,
        clock: Clock = SYSTEM_CLOCK,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        file_mode: int = PRIVATE_FILE,
    ) -> None:
        if isinstance(path_or_db, SqliteDatabase):
            self._db, self._owns_db = path_or_db, False
        else:
            self._db, self._owns_db = SqliteDatabase(path_or_db, file_mode=file_mode), True
        self._clock = clock
        self._max_payload_bytes = max_payload_bytes
        self._message_key = LoadedOnce(self._stored_message_key)
        self._changes = ChangeBell(self._db.path)
        self._presences = SqlitePresences(self._db)
        self._schedules = SqliteScheduleStore(self._db)
        self._sequences = SqliteSequenceStore(
            self._db, now=clock.now, changed=self._changes.changed
        )
        self._limits = SqliteLimitStore(self._db)

    @property
    def schedules(self) -> SqliteScheduleStore:
        """Schedules and slot markers (``_sqlite/schedules.py``)."""
        return self._schedules

    @property
    def sequences(self) -> SqliteSequenceStore:
        """Sequences (``_sqlite/sequences.py``)."""
        return self._sequences

    @property
    def limits(self) -> SqliteLimitStore:
        """Limits' gates, parked jobs and settings (``_sqlite/limits.py``)."""
        return self._limits

    async def create(self) -> None:
        await self._db.open()

    async def insert(self, job: QueuedJob) -> QueuedJob:
        check_job(job, self._max_payload_bytes)
        await self._db.write(_insert, job.id, _values(job), self._change(job), _tags(job))
        return job.model_copy(update={"version": "1"})

    async def insert_many(self, jobs: Sequence[QueuedJob]) -> list[QueuedJob]:
        check_new_jobs(jobs, self._max_payload_bytes)
        if not jobs:
            return []
        rows = [(job.id, _values(job), self._change(job), _tags(job)) for job in jobs]
        await self._db.write(_insert_all, rows)
        return [job.model_copy(update={"version": "1"}) for job in jobs]

    def _change(self, job: QueuedJob) -> tuple[int, str]:
        """When (by the repository's clock) and what writing ``job`` records."""
        return to_micros(self._clock.now()), change_doc(job)

    async def get(self, job_id: str) -> QueuedJob:
        row = await self._db.run(
            _fetch_one, "SELECT version, doc FROM jobs WHERE id = ?", (job_id,)
        )
        if row is None:
            raise JobNotFound(job_id)
        return _job(job_id, *row)

    async def update(self, job: QueuedJob, *, attempt: Attempt | None = None) -> QueuedJob:
        check_job(job, self._max_payload_bytes)
        attempt_row = None if attempt is None else _attempt_row(attempt)
        version = await self._db.write(
            _update, job.id, job.version, _values(job), attempt_row, self._change(job)
        )
        self._changes.changed(job.id)
        return job.model_copy(update={"version": str(version)})

    async def await_change(self, job_id: str, seconds: float) -> None:
        await self._changes.pause(job_id, seconds)

    async def append_attempt(self, attempt: Attempt) -> None:
        await self._db.run(_save_attempt, _attempt_row(attempt))

    async def list_attempts(self, job_id: str) -> list[Attempt]:
        rows = await self._db.run(
            _fetch_all, "SELECT doc FROM attempts WHERE job_id = ? ORDER BY number", (job_id,)
        )
        return [attempt_from_json(job_id, doc) for (doc,) in rows]

    async def reserve_unique_key(
        self, key: str, job_id: str, *, replacing: str | None = None
    ) -> None:
        now = to_micros(self._clock.now())
        await self._db.write(_reserve, key, job_id, replacing, now)

    async def release_unique_key(self, key: str, job_id: str) -> bool:
        changed = await self._db.run(
            execute, "DELETE FROM unique_keys WHERE key = ? AND job_id = ?", (key, job_id)
        )
        return changed > 0

    async def message_key(self) -> bytes:
        return await self._message_key.get()

    async def _stored_message_key(self) -> bytes:
        return await self._db.write(_message_key, secrets.token_bytes(32))

    async def list_by_owner(
        self, owner: str, *, limit: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[QueuedJob]:
        return await self._page(["owner = ?"], [owner], limit, continuation)

    async def list_jobs(
        self,
        query: JobQuery | None = None,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        query = query or JobQuery()
        if query.tag is not None:
            where, params = tag_filters(query)
            return await self._page(where, params, limit, continuation, source=_TAGGED)
        where, params, statuses = filters(query)
        return await self._page(where, params, limit, continuation, statuses)

    async def count_jobs(self, query: JobQuery | None = None, *, at_most: int) -> int:
        query = query or JobQuery()
        source = "jobs"
        if query.tag is not None:
            (where, params), source = tag_filters(query), _TAGGED
        else:
            where, params, statuses = filters(query)
            where, params = [*among(statuses), *where], [*statuses, *params]
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {source}{condition} LIMIT ?)"
        [(found,)] = await self._db.run(_fetch_all, sql, (*params, max(at_most, 0) + 1))
        return int(found)

    async def _page(
        self,
        where: list[str],
        params: list[Any],
        limit: int,
        continuation: str | None,
        statuses: Sequence[str] = (),
        *,
        source: str = "jobs",
    ) -> Page[QueuedJob]:
        """A page of the rows of ``source`` matching ``where``: with ``statuses``, one
        index range per status (each reading at most a page), merged newest first; of a
        tag's (``source`` is ``_TAGGED``), the range of its rows."""
        check_page_size(limit)
        ids = "id" if source == "jobs" else "job_tags.job_id"
        if continuation is not None:
            where = [*where, f"{ids} < ?"]
            params = [*params, continuation]
        if not statuses:
            condition = f" WHERE {' AND '.join(where)}" if where else ""
            sql = f"""SELECT {ids}, version, doc FROM {source}{condition}
                ORDER BY {ids} DESC LIMIT ?"""
            rows = await self._db.run(_fetch_all, sql, (*params, limit + 1))
        else:
            condition = " AND ".join(["status = ?", *where])
            one = f"SELECT id, version, doc FROM jobs WHERE {condition} ORDER BY id DESC LIMIT ?"
            sql = " UNION ALL ".join(f"SELECT * FROM ({one})" for _ in statuses)
            every: list[Any] = []
            for status in statuses:
                every += [status, *params, limit + 1]
            sql += " ORDER BY id DESC LIMIT ?"
            rows = await self._db.run(_fetch_all, sql, (*every, limit + 1))
        items: list[QueuedJob] = []
        skipped: list[str] = []
        for job_id, version, doc in rows[:limit]:
            try:
                items.append(_job(job_id, version, doc))
            except CorruptJobRecord:
                skipped.append(job_id)
        return Page(items, rows[limit - 1][0] if len(rows) > limit else None, skipped)

    async def list_due(
        self,
        statuses: frozenset[JobStatus],
        *,
        due_by: datetime,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        check_page_size(limit)
        if not statuses:
            return Page([])
        where = [
            f"status IN ({', '.join('?' * len(statuses))})",
            "due_at IS NOT NULL",
            "due_at <= ?",
        ]
        params: list[Any] = [*sorted(s.value for s in statuses), due_micros(due_by)]
        if continuation is not None:
            where.append("(due_at, id) > (?, ?)")
            params.extend(parse_due_token(continuation))
        sql = f"""SELECT id, version, doc, due_at FROM jobs WHERE {" AND ".join(where)}
            ORDER BY due_at, id LIMIT ?"""
        rows = await self._db.run(_fetch_all, sql, (*params, limit + 1))
        items: list[QueuedJob] = []
        skipped: list[str] = []
        for job_id, version, doc, _ in rows[:limit]:
            try:
                items.append(_job(job_id, version, doc))
            except CorruptJobRecord:
                skipped.append(job_id)
        last = rows[limit - 1] if len(rows) > limit else None
        return Page(items, None if last is None else due_token(last[3], last[0]), skipped)

    async def list_unindexed(
        self,
        statuses: frozenset[JobStatus],
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[QueuedJob]:
        if not statuses:
            return Page([])
        chosen = sorted(status.value for status in statuses)
        return await self._page(["due_at IS NULL"], [], limit, continuation, chosen)

    async def take_lease(self, name: str, holder: str, *, now: datetime, until: datetime) -> bool:
        check_lease(name, holder)
        params = (name, holder, to_micros(until), to_micros(now))
        return await self._db.write(execute, _TAKE_LEASE, params) > 0

    async def lease_holder(self, name: str, *, now: datetime) -> str | None:
        check_lease_name(name)
        sql = "SELECT holder FROM leases WHERE name = ? AND until > ?"
        rows = await self._db.run(_fetch_all, sql, (name, to_micros(now)))
        return str(rows[0][0]) if rows else None

    async def delete(self, job_id: str) -> None:
        await self._db.write(_forget, "id = ?", (job_id,))
        self._changes.changed(job_id)

    async def purge(self, *, completed_before: datetime) -> int:
        where = f"status IN ({', '.join('?' * len(_TERMINAL))}) AND completed_at < ?"
        return await self._db.write(_forget, where, (*_TERMINAL, to_micros(completed_before)))

    # --- the change feed ---------------------------------------------------------------

    def change_partitions(self, owner: str | None = None) -> tuple[str, ...]:
        return ONE_PARTITION

    async def change_head(self, partition: str) -> str | None:
        check_partition(partition, ONE_PARTITION)
        [(last,)] = await self._db.run(_fetch_all, "SELECT max(seq) FROM changes", ())
        return None if last is None else sequence_position(last)

    async def read_changes(
        self, partition: str, *, after: str | None = None, limit: int = CHANGE_PAGE_SIZE
    ) -> ChangeBatch:
        check_partition(partition, ONE_PARTITION)
        check_change_limit(limit)
        start = 0 if after is None else parse_sequence(after)
        rows = await self._db.run(_fetch_all, _READ_CHANGES, (start, limit))
        positions = [sequence_position(seq) for seq, _ in rows]
        found = (change_from_doc(ALL, p, doc) for p, (_, doc) in zip(positions, rows, strict=True))
        # One statement, one snapshot: every change committed before it is in it, so the
        # last one read (or ``after``) is settled.
        return ChangeBatch(
            [change for change in found if change is not None],
            positions[-1] if positions else after,
        )

    async def purge_changes(self, *, older_than: timedelta) -> int:
        cutoff = to_micros(self._clock.now() - older_than)
        return await self._db.write(execute, "DELETE FROM changes WHERE recorded_at < ?", (cutoff,))

    # --- checkpoints -------------------------------------------------------------------

    async def load_checkpoint(self, name: str) -> Checkpoint | None:
        check_checkpoint(name)
        sql = "SELECT value, version FROM checkpoints WHERE name = ?"
        rows = await self._db.run(_fetch_all, sql, (name,))
        return Checkpoint(rows[0][0], str(rows[0][1])) if rows else None

    async def save_checkpoint(self, name: str, value: str, *, version: str | None) -> str:
        check_checkpoint(name, value)
        if version is None:
            sql = """INSERT INTO checkpoints (name, value, version) VALUES (?, ?, 1)
                ON CONFLICT (name) DO NOTHING"""
            params: tuple[object, ...] = (name, value)
            saved = "1"
        else:
            if not version.isdigit() or len(version) > 18:
                raise ConcurrencyConflict(f"checkpoint {name}")
            sql = """UPDATE checkpoints SET value = ?, version = version + 1
                WHERE name = ? AND version = ?"""
            params = (value, name, int(version))
            saved = str(int(version) + 1)
        if await self._db.write(execute, sql, params) == 0:
            raise ConcurrencyConflict(f"checkpoint {name}")
        return saved

    # --- hosts' presences (``_sqlite/presences.py``) -------------------------------------

    async def save_presence(self, presence: Presence) -> None:
        await self._presences.save(presence)

    async def list_presences(
        self, *, seen_since: datetime, limit: int = DEFAULT_PRESENCE_LIMIT
    ) -> list[Presence]:
        return await self._presences.list(seen_since=seen_since, limit=limit)

    async def purge_presences(self, *, seen_before: datetime) -> int:
        return await self._presences.purge(seen_before=seen_before)

    async def close(self) -> None:
        self._changes.close()
        if self._owns_db:
            await self._db.close()


def _values(job: QueuedJob) -> tuple[Any, ...]:
    """The job's columns after ``id`` and before ``version``."""
    completed_at = None if job.completed_at is None else to_micros(job.completed_at)
    doc = job.model_dump_json(exclude={"version"})
    due = due_at(job)
    return (
        job.owner,
        job.job_type,
        job.status.value,
        to_micros(job.created_at),
        completed_at,
        doc,
        None if due is None else due_micros(due),
        watched_digest(job),
    )


def _tags(job: QueuedJob) -> list[tuple[str, str]]:
    """The rows of ``job_tags`` of ``job``: one per tag (a tag given twice, once)."""
    return [(tag, job.id) for tag in sorted(set(job.tags))]


def _job(job_id: str, version: int, doc: str | None) -> QueuedJob:
    return job_from_json(job_id, doc, str(version))


def _attempt_row(attempt: Attempt) -> tuple[str, int, str]:
    check_attempt(attempt)
    return (attempt.job_id, attempt.number, attempt.model_dump_json())


def _fetch_one(connection: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> Any:
    return connection.execute(sql, params).fetchone()


def _fetch_all(connection: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    return connection.execute(sql, params).fetchall()


def _insert(
    connection: sqlite3.Connection,
    job_id: str,
    values: tuple[Any, ...],
    change: tuple[int, str],
    tags: list[tuple[str, str]],
) -> None:
    try:
        connection.execute(_INSERT, (job_id, *values))
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorcode == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
            raise JobAlreadyExists(job_id) from None
        raise
    connection.execute(_RECORD, (job_id, *change))
    if tags:
        connection.executemany(_TAG, tags)


def _insert_all(
    connection: sqlite3.Connection,
    rows: list[tuple[str, tuple[Any, ...], tuple[int, str], list[tuple[str, str]]]],
) -> None:
    for job_id, values, change, tags in rows:
        _insert(connection, job_id, values, change, tags)


def _save_attempt(connection: sqlite3.Connection, row: tuple[str, int, str]) -> None:
    connection.execute(
        "INSERT OR REPLACE INTO attempts (job_id, number, doc) VALUES (?, ?, ?)", row
    )


def _update(
    connection: sqlite3.Connection,
    job_id: str,
    version: str | None,
    values: tuple[Any, ...],
    attempt: tuple[str, int, str] | None,
    change: tuple[int, str],
) -> int:
    _owner, job_type, status, _created_at, *changed = values
    connection.execute(_RECORD_IF_WATCHED, (*change, job_id, version, changed[-1]))
    row = connection.execute(_UPDATE, (status, *changed, job_id, version, job_type)).fetchone()
    if row is None:
        stored = connection.execute("SELECT job_type FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if stored is None:
            raise JobNotFound(job_id)
        if stored[0] != job_type:
            raise InvalidInput(f"job {job_id}: a job's type never changes once it is stored")
        raise ConcurrencyConflict(job_id)
    if attempt is not None:
        _save_attempt(connection, attempt)
    new_version: int = row[0]
    return new_version


def _reserve(
    connection: sqlite3.Connection, key: str, job_id: str, replacing: str | None, now: int
) -> None:
    held = connection.execute(
        """SELECT job_id, reserved_at, EXISTS (SELECT 1 FROM jobs WHERE id = unique_keys.job_id)
        FROM unique_keys WHERE key = ?""",
        (key,),
    ).fetchone()
    if held is not None:
        holder, reserved_at, stored = held
        abandoned = not stored and now - reserved_at >= _GRACE_MICROS
        if holder not in (job_id, replacing) and not abandoned:
            raise DuplicateJob(key, holder)
    connection.execute(
        "INSERT OR REPLACE INTO unique_keys (key, job_id, reserved_at) VALUES (?, ?, ?)",
        (key, job_id, now),
    )


def _forget(connection: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> int:
    """Delete the jobs matching ``where``, their attempts, their changes, their tags and
    the unique keys they hold.

    A row whose document is not JSON is deleted too; a key it may hold is taken over once
    the reservation's grace has passed, its holder being gone."""
    gone: list[tuple[str, Any, Any, Any]] = connection.execute(
        f"""DELETE FROM jobs WHERE {where} RETURNING id,
        CASE WHEN json_valid(doc) THEN json_extract(doc, '$.unique_key') END,
        CASE WHEN json_valid(doc) THEN json_extract(doc, '$.owner') END,
        CASE WHEN json_valid(doc) THEN json_extract(doc, '$.unique_scope') END""",
        params,
    ).fetchall()
    connection.executemany("DELETE FROM attempts WHERE job_id = ?", [(row[0],) for row in gone])
    connection.executemany("DELETE FROM changes WHERE job_id = ?", [(row[0],) for row in gone])
    connection.executemany("DELETE FROM job_tags WHERE job_id = ?", [(row[0],) for row in gone])
    held = [(reservation_in(*row[1:]), row[0]) for row in gone]
    connection.executemany(
        "DELETE FROM unique_keys WHERE key = ? AND job_id = ?",
        [(key, i) for key, i in held if key is not None],
    )
    return len(gone)


def _message_key(connection: sqlite3.Connection, new: bytes) -> bytes:
    """The stored key, or ``new`` once stored: the first process to ask makes it."""
    connection.execute(
        "INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)", (_MESSAGE_KEY, new)
    )
    row = connection.execute("SELECT value FROM secrets WHERE name = ?", (_MESSAGE_KEY,))
    key = row.fetchone()[0]
    if not isinstance(key, bytes) or len(key) < len(new):
        raise StorageError(
            f"the store's {_MESSAGE_KEY} (row {_MESSAGE_KEY!r} of the table secrets) is "
            "damaged; delete that row and the next process to start makes a new one"
        )
    return key
