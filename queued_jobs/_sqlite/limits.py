"""Limits in a SQLite file: the ``limits`` of ``SqliteJobRepository``.

The table ``gates`` holds a row per gate, keyed ``(limit_name, key)``: its document, an
integer version and ``has_waiters`` (1 while jobs are parked) under a partial index, so
that the listing of the gates with jobs parked reads only those. ``gate_waiters`` holds a
row per parked job, keyed ``(limit_name, key, job_id)``: a gate's jobs are one range of
the key, oldest job id first. ``limit_settings`` holds a row per limit's settings.

A save of a gate and its waiters' changes is one write transaction, conditional on the
version. Versions are drawn from one counter (the table ``limit_versions``), so that a
gate deleted and stored again never takes a version it had: a save from a read before
the delete is refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

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
    gate_doc,
    gate_name,
    gate_token,
    parse_gate_token,
    settings_conflict,
    settings_doc,
    settings_from_doc,
    stored_gate,
    waiter_doc,
    waiter_from_doc,
)
from ..repositories.base import DEFAULT_PAGE_SIZE, Page, check_page_size
from ..telemetry.logs import library_logger
from .database import SqliteDatabase

__all__ = ["SqliteLimitStore"]

log = library_logger("queued_jobs.limits")

#: The next version: the counter's row, made by the first write that needs it.
_NEXT_VERSION: Final = """INSERT INTO limit_versions (id, last) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET last = last + 1 RETURNING last"""
_INSERT_GATE: Final = """INSERT INTO gates (limit_name, key, version, has_waiters, doc)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"""
_UPDATE_GATE: Final = """UPDATE gates SET version = ?, has_waiters = ?, doc = ?
    WHERE limit_name = ? AND key = ? AND version = ?"""
_PARK: Final = """INSERT OR REPLACE INTO gate_waiters (limit_name, key, job_id, doc)
    VALUES (?, ?, ?, ?)"""
_UNPARK: Final = "DELETE FROM gate_waiters WHERE limit_name = ? AND key = ? AND job_id = ?"
_DELETE_GATE: Final = """DELETE FROM gates WHERE limit_name = ? AND key = ? AND version = ?
    AND NOT EXISTS (SELECT 1 FROM gate_waiters
        WHERE gate_waiters.limit_name = gates.limit_name AND gate_waiters.key = gates.key)"""
_WAITERS: Final = """SELECT job_id, doc FROM gate_waiters WHERE limit_name = ? AND key = ?
    ORDER BY job_id LIMIT ?"""
_COUNT_WAITERS: Final = """SELECT count(*) FROM (
    SELECT 1 FROM gate_waiters WHERE limit_name = ? AND key = ? LIMIT ?)"""
_INSERT_SETTINGS: Final = """INSERT INTO limit_settings (limit_name, version, doc)
    VALUES (?, ?, ?) ON CONFLICT DO NOTHING"""
_UPDATE_SETTINGS: Final = """UPDATE limit_settings SET version = ?, doc = ?
    WHERE limit_name = ? AND version = ?"""
#: The largest version an integer column holds (a longer token is no version of ours).
_VERSION_DIGITS: Final = 18
#: What a version no write of this store made is read as (the counter starts at 1).
_FOREIGN: Final = -1
#: A gate's row: its name and key, what it holds and the version that guards the write.
GateRow = tuple[str, str, int, str, int | None]


class SqliteLimitStore:
    """The :class:`~queued_jobs.limits.store.LimitStore` of one SQLite repository, on its
    database."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def load_gate(self, limit: str, key: str) -> Gate | None:
        limit, key = check_gate_id(limit, key)
        sql = "SELECT version, doc FROM gates WHERE limit_name = ? AND key = ?"
        rows = await self._db.run(_fetch_all, sql, (limit, key))
        return stored_gate(limit, key, rows[0][1], str(rows[0][0])) if rows else None

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
        read = _version(gate.version)
        if read == _FOREIGN:
            raise gate_conflict(gate)
        row: GateRow = (gate.limit, gate.key, int(gate.has_waiters), gate_doc(gate), read)
        parked = None if add_waiter is None else (add_waiter.job_id, waiter_doc(add_waiter))
        version = await self._db.write(_save_gate, gate, row, parked, removed)
        return gate.model_copy(update={"version": str(version)})

    async def delete_gate(self, gate: Gate) -> bool:
        check_gate(gate)
        read = _version(gate.version)
        if read is None or read == _FOREIGN:
            return False
        params = (gate.limit, gate.key, read)
        return await self._db.write(_execute, _DELETE_GATE, params) > 0

    async def first_waiters(self, limit: str, key: str, *, count: int) -> list[Waiter]:
        limit, key = check_gate_id(limit, key)
        rows = await self._db.run(_fetch_all, _WAITERS, (limit, key, check_waiter_count(count)))
        return [waiter_from_doc(job_id, doc) for job_id, doc in rows]

    async def count_waiters(self, limit: str, key: str, *, at_most: int) -> int:
        limit, key = check_gate_id(limit, key)
        params = (limit, key, check_at_most(at_most) + 1)
        [(found,)] = await self._db.run(_fetch_all, _COUNT_WAITERS, params)
        return int(found)

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
        after = parse_gate_token(continuation)
        where: list[str] = []
        params: list[Any] = []
        if limit is not None:
            where.append("limit_name = ?")
            params.append(limit)
        if waiting_only:
            where.append("has_waiters = 1")
        if after is not None:
            where.append("(limit_name, key) > (?, ?)")
            params.extend(after)
        index = "INDEXED BY gates_waiting " if waiting_only else ""
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"""SELECT limit_name, key, version, doc FROM gates {index}{condition}
            ORDER BY limit_name, key LIMIT ?"""
        rows = await self._db.run(_fetch_all, sql, (*params, page_size + 1))
        items: list[Gate] = []
        skipped: list[str] = []
        for name, key, version, doc in rows[:page_size]:
            try:
                items.append(stored_gate(name, key, doc, str(version)))
            except StorageError:
                skipped.append(gate_name(name, key))
        more = len(rows) > page_size
        last = rows[page_size - 1] if more else None
        return Page(items, None if last is None else gate_token(last[0], last[1]), skipped)

    async def load_limit_settings(self, limit: str) -> LimitSettings | None:
        sql = "SELECT version, doc FROM limit_settings WHERE limit_name = ?"
        rows = await self._db.run(_fetch_all, sql, (check_limit_name(limit),))
        return settings_from_doc(rows[0][1], str(rows[0][0])) if rows else None

    async def save_limit_settings(self, settings: LimitSettings) -> LimitSettings:
        check_settings(settings)
        read = _version(settings.version)
        if read == _FOREIGN:
            raise settings_conflict(settings.limit)
        row = (settings.limit, settings_doc(settings), read)
        version = await self._db.write(_save_settings, row)
        return settings.model_copy(update={"version": str(version)})

    async def delete_limit_settings(self, limit: str) -> None:
        sql = "DELETE FROM limit_settings WHERE limit_name = ?"
        await self._db.write(_execute, sql, (check_limit_name(limit),))

    async def list_limit_settings(self) -> list[LimitSettings]:
        sql = "SELECT limit_name, version, doc FROM limit_settings ORDER BY limit_name"
        found: list[LimitSettings] = []
        for name, version, doc in await self._db.run(_fetch_all, sql, ()):
            try:
                found.append(settings_from_doc(doc, str(version)))
            except StorageError as exc:
                log.warning("the settings of limit %r are left out: %s", name, exc)
        return found


def _version(version: str | None) -> int | None:
    """The stored version ``version`` names (``None``: none yet); :data:`_FOREIGN` for
    what is no version of this store's."""
    if version is None:
        return None
    if not (version.isascii() and version.isdigit()) or len(version) > _VERSION_DIGITS:
        return _FOREIGN
    return int(version)


def _fetch_all(connection: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    return connection.execute(sql, params).fetchall()


def _execute(connection: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> int:
    return connection.execute(sql, params).rowcount


def _next_version(connection: sqlite3.Connection) -> int:
    version: int = connection.execute(_NEXT_VERSION).fetchone()[0]
    return version


def _save_gate(
    connection: sqlite3.Connection,
    gate: Gate,
    row: GateRow,
    parked: tuple[str, str] | None,
    removed: list[str],
) -> int:
    """Write the gate if it is still at the version read, and its waiters' changes; its
    new version. ``ConcurrencyConflict`` (the transaction then keeps nothing) if it moved."""
    limit, key, has_waiters, doc, read = row
    version = _next_version(connection)
    if read is None:
        written = connection.execute(_INSERT_GATE, (limit, key, version, has_waiters, doc))
    else:
        written = connection.execute(_UPDATE_GATE, (version, has_waiters, doc, limit, key, read))
    if written.rowcount == 0:
        raise gate_conflict(gate)
    connection.executemany(_UNPARK, [(limit, key, job_id) for job_id in removed])
    if parked is not None:
        connection.execute(_PARK, (limit, key, *parked))
    return version


def _save_settings(connection: sqlite3.Connection, row: tuple[str, str, int | None]) -> int:
    limit, doc, read = row
    version = _next_version(connection)
    if read is None:
        written = connection.execute(_INSERT_SETTINGS, (limit, version, doc))
    else:
        written = connection.execute(_UPDATE_SETTINGS, (version, doc, limit, read))
    if written.rowcount == 0:
        raise settings_conflict(limit)
    return version
