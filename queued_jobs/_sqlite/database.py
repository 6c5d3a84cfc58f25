"""One SQLite file shared by the embedded adapters: its connection, thread and schema.

Every adapter verb is one synchronous function run on the database's own thread. Writes
run inside ``BEGIN IMMEDIATE`` so that several processes can share the file (WAL journal,
busy timeout). SQLite errors become :class:`StorageError`.

**Group commit**: the thread takes every call waiting for it at once and runs them in one
transaction, each inside its own savepoint (a call that raises is rolled back alone), then
commits once and wakes each waiting event loop once. Under load (a worker's jobs claiming,
completing and acknowledging together) this turns many commits and thread hand-offs into
few; a call alone runs as before. No call is told it succeeded before its commit.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar, TypeVarTuple

from .._private import PRIVATE_FILE, make_directories
from ..errors import ConfigurationError, QueuedJobsError, StorageError, StorageUnavailable

__all__ = ["SqliteDatabase", "execute", "from_micros", "to_micros"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_PRAGMAS: Final = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
)
#: The busy timeout of one try at opening a file (see ``SqliteDatabase._open_connection``).
_OPEN_TRY: Final = 0.2
#: Most calls run in one transaction (bounds how long the write lock is held).
_GROUP_LIMIT: Final = 64
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)

#: The schema, one tuple of statements per version; ``PRAGMA user_version`` records how
#: many have been applied. Add a tuple to migrate; never edit an applied one.
#: Times are integer microseconds since the epoch; records are stored as JSON documents.
_MIGRATIONS: Final[Sequence[tuple[str, ...]]] = (
    (
        """CREATE TABLE IF NOT EXISTS jobs (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            job_type TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            completed_at INTEGER,
            version INTEGER NOT NULL,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, id DESC)",
        "CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, id)",
        "CREATE INDEX IF NOT EXISTS jobs_by_type ON jobs (job_type, id)",
        "CREATE INDEX IF NOT EXISTS jobs_to_purge ON jobs (status, completed_at)",
        """CREATE TABLE IF NOT EXISTS attempts (
            job_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (job_id, number)
        )""",
        """CREATE TABLE IF NOT EXISTS unique_keys (
            key TEXT PRIMARY KEY,
            job_id TEXT NOT NULL,
            reserved_at INTEGER NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS messages (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            queue TEXT NOT NULL,
            body TEXT NOT NULL,
            inserted_at INTEGER NOT NULL,
            visible_at INTEGER NOT NULL,
            expires_at INTEGER,
            dequeue_count INTEGER NOT NULL DEFAULT 0,
            receipt TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS messages_visible ON messages (queue, visible_at, seq)",
        """CREATE INDEX IF NOT EXISTS messages_expiring ON messages (queue, expires_at)
            WHERE expires_at IS NOT NULL""",
    ),
    (
        # The store's secrets by name (the key that signs queue messages' snapshots).
        "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    ),
    (
        # When the sweep needs a job (repositories._due.due_at); NULL: never, or a row
        # stored before this column (the sweep's occasional full pass finds those).
        "ALTER TABLE jobs ADD COLUMN due_at INTEGER",
        """CREATE INDEX IF NOT EXISTS jobs_due ON jobs (status, due_at, id)
            WHERE due_at IS NOT NULL""",
        # Listings: every filter (owner, status, type, and a creation window as a range
        # of the time-ordered ids) is an index range.
        "CREATE INDEX IF NOT EXISTS jobs_by_owner_status ON jobs (owner, status, id)",
        "CREATE INDEX IF NOT EXISTS jobs_by_status_type ON jobs (status, job_type, id)",
        "CREATE INDEX IF NOT EXISTS jobs_by_owner_type ON jobs (owner, job_type, id)",
        # Store-wide leases by name (one sweeper at a time).
        """CREATE TABLE IF NOT EXISTS leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            until INTEGER NOT NULL
        )""",
    ),
    (
        # The change feed: a row per change, numbered in commit order (AUTOINCREMENT never
        # reuses a number, even the last one's once it is deleted), written in the job's
        # own transaction. ``watched``: the digest of what a watcher sees of the job as
        # its last write left it; NULL for rows written before it (their next write
        # records a change).
        "ALTER TABLE jobs ADD COLUMN watched TEXT",
        """CREATE TABLE IF NOT EXISTS changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL,
            recorded_at INTEGER NOT NULL,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS changes_by_job ON changes (job_id)",
        "CREATE INDEX IF NOT EXISTS changes_by_time ON changes (recorded_at)",
    ),
    (
        # Where each feed consumer (webhooks, Web PubSub) is in the change feed.
        """CREATE TABLE IF NOT EXISTS checkpoints (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            version INTEGER NOT NULL
        )""",
    ),
    (
        # Listings by tag: a row per tag of each job, written with the job and deleted
        # with it, so that a tag's jobs are one range of the key, newest first by id; by
        # job for the deletes. The jobs stored before it get theirs from their records.
        """CREATE TABLE IF NOT EXISTS job_tags (
            tag TEXT NOT NULL,
            job_id TEXT NOT NULL,
            PRIMARY KEY (tag, job_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS job_tags_by_job ON job_tags (job_id)",
        """INSERT OR IGNORE INTO job_tags (tag, job_id)
            SELECT tag.value, jobs.id FROM jobs,
                json_each(CASE WHEN json_valid(jobs.doc) THEN jobs.doc END, '$.tags') AS tag
            WHERE tag.type = 'text'""",
    ),
    (
        # Hosts' presences: a row per host (worker, Functions instance, API server), saved
        # by the host every so often; the sweep's full pass purges those not seen for a day.
        """CREATE TABLE IF NOT EXISTS presences (
            host TEXT PRIMARY KEY,
            seen_at INTEGER NOT NULL,
            doc TEXT NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS presences_by_time ON presences (seen_at, host)",
    ),
    (
        # Recurring schedules (``_sqlite/schedules.py``): the record as JSON, a name unique
        # per owner, and ``due_at`` (its next slot unless paused; NULL: not due) indexed for
        # the firing loop. A row per fired slot, keyed (schedule, slot): the exactly-once
        # guarantee; by firing time for the purge.
        """CREATE TABLE IF NOT EXISTS schedules (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            name TEXT NOT NULL,
            due_at INTEGER,
            version INTEGER NOT NULL,
            doc TEXT NOT NULL,
            UNIQUE (owner, name)
        )""",
        "CREATE INDEX IF NOT EXISTS schedules_by_owner ON schedules (owner, id)",
        """CREATE INDEX IF NOT EXISTS schedules_due ON schedules (due_at, id)
            WHERE due_at IS NOT NULL""",
        """CREATE TABLE IF NOT EXISTS slot_markers (
            schedule_id TEXT NOT NULL,
            slot INTEGER NOT NULL,
            job_id TEXT NOT NULL,
            fired_at INTEGER NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (schedule_id, slot)
        ) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS slot_markers_by_time ON slot_markers (fired_at)",
    ),
    (
        # Sequences (``_sqlite/sequences.py``): the record as JSON under a version, and
        # ``active`` (1 while the sweep has something to look at; NULL once not) under a
        # partial index, so that the sweep reads only the active ones.
        """CREATE TABLE IF NOT EXISTS sequences (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            active INTEGER,
            version INTEGER NOT NULL,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS sequences_by_owner ON sequences (owner, id)",
        """CREATE INDEX IF NOT EXISTS sequences_active ON sequences (id)
            WHERE active IS NOT NULL""",
    ),
    (
        # When each ended sequence ended (its ``completed_at``, in microseconds; NULL while
        # active) under a partial index, so that a purge reads only what it deletes.
        "ALTER TABLE sequences ADD COLUMN ended_at INTEGER",
        """UPDATE sequences SET ended_at = CAST(round((julianday(coalesce(
                json_extract(doc, '$.completed_at'), json_extract(doc, '$.created_at')))
                - 2440587.5) * 86400000000.0) AS INTEGER)
            WHERE active IS NULL AND json_valid(doc)""",
        """CREATE INDEX IF NOT EXISTS sequences_ended ON sequences (ended_at, id)
            WHERE ended_at IS NOT NULL""",
    ),
    (
        # Limits (``_sqlite/limits.py``): a row per gate (its document, whether jobs are
        # parked, under a partial index for the listing of those), a row per parked job
        # by gate and job id (oldest first), a row per limit's run-time settings, and the
        # one counter every gate's and settings' version is drawn from (never reused, so
        # a version read before a delete never matches the row stored again).
        """CREATE TABLE IF NOT EXISTS gates (
            limit_name TEXT NOT NULL,
            key TEXT NOT NULL,
            version INTEGER NOT NULL,
            has_waiters INTEGER NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (limit_name, key)
        ) WITHOUT ROWID""",
        """CREATE INDEX IF NOT EXISTS gates_waiting ON gates (limit_name, key)
            WHERE has_waiters = 1""",
        """CREATE TABLE IF NOT EXISTS gate_waiters (
            limit_name TEXT NOT NULL,
            key TEXT NOT NULL,
            job_id TEXT NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (limit_name, key, job_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS limit_settings (
            limit_name TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            doc TEXT NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS limit_versions (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            last INTEGER NOT NULL
        )""",
    ),
)


def execute(connection: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> int:
    """Run one statement; returns how many rows it changed (for ``SqliteDatabase.run``)."""
    return connection.execute(sql, params).rowcount


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch: how times are stored."""
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """The UTC time ``micros`` microseconds after the epoch."""
    return _EPOCH + micros * _MICROSECOND


@dataclass(slots=True)
class _Call:
    """One verb waiting for the database thread, and where its outcome goes."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    write: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = field(default=None)


class SqliteDatabase:
    """A SQLite file opened once: one connection, used from one thread of its own.

    The file (and its folder) is created on first use, with the schema. Several processes
    may open the same file; a write waits up to ``busy_timeout`` seconds for another
    connection's write to finish.

    A file it creates gets ``file_mode`` (less the umask; by default 0600, its owner's
    alone), and so do the write-ahead log and shared-memory files SQLite makes next to it;
    the folders it creates get 0700. A file or folder that exists keeps its mode.
    """

    def __init__(
        self, path: str | Path, *, busy_timeout: float = 10.0, file_mode: int = PRIVATE_FILE
    ) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.file_mode = file_mode
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    async def open(self) -> None:
        """Open the file and bring its schema up to date, if not done already."""
        await self.run(_nothing)

    async def run(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """``fn(connection, *args)`` on the database thread, atomically.

        For single statements and reads (alone it runs in autocommit mode).
        """
        result: T = await self._submit(fn, args, write=False)
        return result

    async def write(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """``fn(connection, *args)`` on the database thread inside ``BEGIN IMMEDIATE``.

        Its changes are committed if ``fn`` returns, rolled back if it raises.
        """
        result: T = await self._submit(fn, args, write=True)
        return result

    async def close(self) -> None:
        """Close the connection and stop the thread. The database is unusable afterwards."""
        if self._closed:
            return
        self._closed = True
        thread = self._thread
        if thread is not None:
            self._calls.put(None)
            await asyncio.to_thread(thread.join)

    async def _submit(self, fn: Callable[..., Any], args: tuple[Any, ...], *, write: bool) -> Any:
        if self._closed:
            raise StorageError(f"SQLite database {self.path} is closed")
        self._ensure_thread()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._calls.put(_Call(fn, args, write, loop, future))
        return await future

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._start:
                if self._thread is None:
                    thread = threading.Thread(
                        target=self._serve, name="queued-jobs-sqlite", daemon=True
                    )
                    thread.start()
                    self._thread = thread

    # --- on the database thread -----------------------------------------------------

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            first = self._calls.get()
            if first is None:
                break
            group = [first]
            while len(group) < _GROUP_LIMIT:
                try:
                    call = self._calls.get_nowait()
                except queue.Empty:
                    break
                if call is None:
                    stopping = True
                    break
                group.append(call)
            try:
                self._run_group(group)
            except BaseException as exc:  # never leave a caller waiting
                _fail(group, partial(self._translated, exc))
            _settle(group)
        self._disconnect()
        # Calls that raced with close() behind the stop signal: they must not wait forever.
        late: list[_Call] = []
        with suppress(queue.Empty):
            while True:
                if (call := self._calls.get_nowait()) is not None:
                    late.append(call)
        _fail(late, lambda: StorageError(f"SQLite database {self.path} is closed"))
        _settle(late)

    def _run_group(self, group: list[_Call]) -> None:
        try:
            connection = self._connect()
        except BaseException as exc:
            _fail(group, partial(self._translated, exc))
            return
        if len(group) == 1 and not group[0].write:
            self._run_one(connection, group[0])
            return
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            _fail(group, partial(self._translated, exc))
            return
        alone = len(group) == 1
        try:
            for call in group:
                if alone:
                    self._run_one(connection, call)
                    continue
                connection.execute("SAVEPOINT call")
                self._run_one(connection, call)
                if call.error is not None:
                    connection.execute("ROLLBACK TO call")
                connection.execute("RELEASE call")
            failed = alone and group[0].error is not None
            connection.execute("ROLLBACK" if failed else "COMMIT")
        except sqlite3.Error as exc:  # the transaction itself failed: nothing was kept
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            _fail(group, partial(self._translated, exc))

    def _run_one(self, connection: sqlite3.Connection, call: _Call) -> None:
        try:
            call.result = call.fn(connection, *call.args)
        except BaseException as exc:
            call.error = self._translated(exc)

    def _translated(self, exc: BaseException) -> BaseException:
        if isinstance(exc, sqlite3.Error) and not isinstance(exc, QueuedJobsError):
            translated = self._translate(exc)
            translated.__cause__ = exc
            return translated
        return exc

    def _translate(self, exc: sqlite3.Error) -> StorageError:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return StorageUnavailable(
                f"SQLite database {self.path} stayed locked by another connection for "
                f"{self.busy_timeout:g} s ({exc}); retry later"
            )
        if code == sqlite3.SQLITE_IOERR:
            return StorageUnavailable(f"SQLite database {self.path}: {exc}; retry later")
        return StorageError(f"SQLite database {self.path}: {exc}")

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            if sqlite3.sqlite_version_info < (3, 38):
                raise ConfigurationError(
                    f"SQLite {sqlite3.sqlite_version} is too old: queued-jobs needs 3.38 or "
                    "newer (for RETURNING and the JSON functions)"
                )
            try:
                make_directories(self.path.parent)
                self._create_file()
            except OSError as exc:  # a read-only folder, a file where a folder belongs...
                reason = exc.strerror or type(exc).__name__
                raise StorageError(
                    f"SQLite database {self.path}: cannot create it: {reason}"
                ) from exc
            self._connection = self._open_connection()
        return self._connection

    def _create_file(self) -> None:
        """Create the file, empty, with ``file_mode``, unless it exists: SQLite would give
        a file it creates (and its write-ahead log) the umask's mode, readable by all.
        Processes creating it at once race safely: one creates it, the others find it."""
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
        try:
            descriptor = os.open(self.path, flags, self.file_mode)
        except FileExistsError:
            return  # made before, or by another process just now: its mode stays
        os.close(descriptor)

    def _open_connection(self) -> sqlite3.Connection:
        """A connection with the file in WAL mode and its schema up to date.

        Several processes opening a new file at once each hold a read lock while waiting
        for the write lock that switching to WAL (or migrating) takes: left to the busy
        timeout, they can wait each other out. So an opener that finds the file busy closes
        its connection (letting the lock go), waits a moment at random and tries again,
        until ``busy_timeout`` has passed.
        """
        deadline = time.monotonic() + self.busy_timeout
        while True:
            connection = sqlite3.connect(
                self.path,
                timeout=min(self.busy_timeout, _OPEN_TRY),
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                for pragma in _PRAGMAS:
                    connection.execute(pragma)
                _migrate(connection)
                connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                return connection
            except sqlite3.OperationalError as exc:
                connection.close()
                busy = exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
                if not busy or time.monotonic() >= deadline:
                    raise
            except BaseException:
                connection.close()
                raise
            time.sleep(random.uniform(0.005, 0.05))

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _fail(group: list[_Call], error: Callable[[], BaseException]) -> None:
    """Every call of ``group`` not failed already fails with its own ``error()``."""
    for call in group:
        if call.error is None:
            call.error, call.result = error(), None


def _settle(group: list[_Call]) -> None:
    """Hand each call's outcome to its event loop: one wake-up per loop for the group."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Call]] = {}
    for call in group:
        by_loop.setdefault(call.loop, []).append(call)
    for loop, calls in by_loop.items():
        with suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_resolve, calls)


def _resolve(calls: list[_Call]) -> None:
    for call in calls:
        if call.future.done():  # the caller was cancelled
            continue
        if call.error is not None:
            call.future.set_exception(call.error)
        else:
            call.future.set_result(call.result)


def _nothing(connection: sqlite3.Connection) -> None:
    return None


def _in_transaction(
    connection: sqlite3.Connection, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts
) -> T:
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = fn(connection, *args)
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return result


def _migrate(connection: sqlite3.Connection) -> None:
    def current() -> int:
        version: int = connection.execute("PRAGMA user_version").fetchone()[0]
        return version

    def apply(connection: sqlite3.Connection) -> None:
        applied = current()
        for number, statements in enumerate(_MIGRATIONS[applied:], start=applied + 1):
            for statement in statements:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number}")

    if current() < len(_MIGRATIONS):
        _in_transaction(connection, apply)
