"""One SQLite file shared by the embedded adapters: its connection, thread and schema.

Every adapter verb is one synchronous function run on the database's own thread (one
thread hop per verb); writes run inside ``BEGIN IMMEDIATE`` so that several processes can
share the file (WAL journal, busy timeout). SQLite errors become :class:`StorageError`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, TypeVar, TypeVarTuple

from ..errors import ConfigurationError, QueuedJobsError, StorageError, StorageUnavailable

__all__ = ["SqliteDatabase", "execute", "from_micros", "to_micros"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_PRAGMAS: Final = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
)
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


class SqliteDatabase:
    """A SQLite file opened once: one connection, used from one worker thread.

    The file (and its folder) is created on first use, with the schema. Several processes
    may open the same file; a write waits up to ``busy_timeout`` seconds for another
    connection's write to finish.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queued-jobs-sqlite")
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    async def open(self) -> None:
        """Open the file and bring its schema up to date, if not done already."""
        await self.run(_nothing)

    async def run(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """``fn(connection, *args)`` on the database thread, in autocommit mode.

        For single statements (each is atomic on its own) and reads.
        """
        return await self._submit(lambda: fn(self._connect(), *args))

    async def write(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """``fn(connection, *args)`` on the database thread inside ``BEGIN IMMEDIATE``.

        Commits if ``fn`` returns, rolls back if it raises.
        """
        return await self._submit(lambda: _in_transaction(self._connect(), fn, *args))

    async def close(self) -> None:
        """Close the connection and stop the thread. The database is unusable afterwards."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._disconnect)
        self._executor.shutdown()

    async def _submit(self, call: Callable[[], T]) -> T:
        if self._closed:
            raise StorageError(f"SQLite database {self.path} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._guard, call)

    def _guard(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except QueuedJobsError:
            raise
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc

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
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,  # sets SQLite's busy_timeout
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                for pragma in _PRAGMAS:
                    connection.execute(pragma)
                _migrate(connection)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


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
