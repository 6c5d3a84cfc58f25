"""Schedules and slot markers in a SQLite file: the ``schedules`` of ``SqliteJobRepository``.

The table ``schedules`` holds a row per schedule: the record as JSON, its owner and name
(``UNIQUE (owner, name)``: the name's reservation is the insert that conflicts), an
integer version bumped by every update (which is conditional on it) and ``due_at``, the
next slot in microseconds while the schedule is not paused (``NULL``: not due), under a
partial index ``(due_at, id)``: the due listing reads only the schedules due. The table
``slot_markers`` holds a row per fired slot, keyed ``(schedule_id, slot)``: a second insert
of a slot conflicts inside its own write transaction, from any process sharing the file.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, Final

from ..errors import (
    ConcurrencyConflict,
    CorruptScheduleRecord,
    DuplicateSchedule,
    InvalidInput,
    ScheduleNotFound,
    SlotAlreadyFired,
)
from ..repositories._schedules import (
    check_limit,
    check_listing,
    check_marker,
    check_moment,
    check_purge_limit,
    check_schedule,
    marker_from_json,
    schedule_doc,
    schedule_from_json,
)
from ..repositories.base import DEFAULT_PAGE_SIZE, Page
from ..schedules.model import Schedule, SlotMarker
from ..schedules.store import DEFAULT_PURGE_LIMIT
from .database import SqliteDatabase, execute, to_micros

__all__ = ["SqliteScheduleStore"]

_INSERT: Final = """INSERT INTO schedules (id, owner, name, due_at, doc, version)
    VALUES (?, ?, ?, ?, ?, 1)"""
_UPDATE: Final = """UPDATE schedules SET name = ?, due_at = ?, doc = ?, version = version + 1
    WHERE id = ? AND owner = ? AND version = ?
    RETURNING version"""
_DUE: Final = """SELECT id, version, doc FROM schedules
    WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?"""
_INSERT_MARKER: Final = """INSERT INTO slot_markers (schedule_id, slot, job_id, fired_at, doc)
    VALUES (?, ?, ?, ?, ?)"""
_MARKER: Final = "SELECT doc FROM slot_markers WHERE schedule_id = ? AND slot = ?"
_MARKERS: Final = """SELECT doc FROM slot_markers WHERE schedule_id = ?
    ORDER BY slot DESC LIMIT ?"""
_PURGE: Final = """DELETE FROM slot_markers WHERE (schedule_id, slot) IN (
    SELECT schedule_id, slot FROM slot_markers WHERE fired_at < ? AND slot < ? LIMIT ?)"""
#: The largest version an integer column holds (a longer token is no version of ours).
_VERSION_DIGITS: Final = 18


class SqliteScheduleStore:
    """The :class:`~queued_jobs.schedules.store.ScheduleStore` of one SQLite repository,
    on its database."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def insert_schedule(self, schedule: Schedule) -> Schedule:
        check_schedule(schedule)
        await self._db.write(_insert, schedule, _columns(schedule))
        return schedule.model_copy(update={"version": "1"})

    async def get_schedule(self, schedule_id: str) -> Schedule:
        sql = "SELECT version, doc FROM schedules WHERE id = ?"
        rows = await self._db.run(_fetch_all, sql, (schedule_id,))
        if not rows:
            raise ScheduleNotFound(schedule_id)
        return schedule_from_json(schedule_id, rows[0][1], str(rows[0][0]))

    async def update_schedule(self, schedule: Schedule) -> Schedule:
        check_schedule(schedule)
        version = schedule.version
        if version is None or not version.isdigit() or len(version) > _VERSION_DIGITS:
            raise ConcurrencyConflict(schedule.id, kind="schedule")
        new = await self._db.write(_update, schedule, int(version), _columns(schedule))
        return schedule.model_copy(update={"version": str(new)})

    async def delete_schedule(self, schedule_id: str) -> None:
        await self._db.write(_delete, schedule_id)

    async def list_schedules(
        self,
        *,
        owner: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Schedule]:
        owner, after = check_listing(owner, limit, continuation)
        where: list[str] = []
        params: list[Any] = []
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        if after is not None:
            where.append("id < ?")
            params.append(after)
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT id, version, doc FROM schedules{condition} ORDER BY id DESC LIMIT ?"
        rows = await self._db.run(_fetch_all, sql, (*params, limit + 1))
        items: list[Schedule] = []
        skipped: list[str] = []
        for schedule_id, version, doc in rows[:limit]:
            try:
                items.append(schedule_from_json(schedule_id, doc, str(version)))
            except CorruptScheduleRecord:
                skipped.append(schedule_id)
        return Page(items, rows[limit - 1][0] if len(rows) > limit else None, skipped)

    async def list_due_schedules(
        self, *, now: datetime, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[Schedule]:
        due_by = to_micros(check_moment(now, "now"))
        rows = await self._db.run(_fetch_all, _DUE, (due_by, check_limit(limit)))
        found: list[Schedule] = []
        for schedule_id, version, doc in rows:
            try:
                found.append(schedule_from_json(schedule_id, doc, str(version)))
            except CorruptScheduleRecord:
                continue
        return found

    async def insert_slot_marker(self, marker: SlotMarker) -> None:
        check_marker(marker)
        row = (
            marker.schedule_id,
            to_micros(marker.slot),
            marker.job_id,
            to_micros(marker.fired_at),
            marker.model_dump_json(),
        )
        await self._db.write(_insert_marker, row)

    async def get_slot_marker(self, schedule_id: str, slot: datetime) -> SlotMarker | None:
        params = (schedule_id, to_micros(check_moment(slot, "a slot")))
        rows = await self._db.run(_fetch_all, _MARKER, params)
        return marker_from_json(schedule_id, rows[0][0]) if rows else None

    async def list_slot_markers(
        self, schedule_id: str, *, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[SlotMarker]:
        rows = await self._db.run(_fetch_all, _MARKERS, (schedule_id, check_limit(limit)))
        return [marker_from_json(schedule_id, doc) for (doc,) in rows]

    async def purge_slot_markers(
        self, *, fired_before: datetime, limit: int = DEFAULT_PURGE_LIMIT
    ) -> int:
        cutoff = to_micros(check_moment(fired_before, "fired_before"))
        return await self._db.write(execute, _PURGE, (cutoff, cutoff, check_purge_limit(limit)))


def _columns(schedule: Schedule) -> tuple[str, str, int | None, str]:
    """The row's owner, name, due moment and document."""
    due = schedule.due_at
    return (
        schedule.owner,
        schedule.name,
        None if due is None else to_micros(due),
        schedule_doc(schedule),
    )


def _fetch_all(connection: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    return connection.execute(sql, params).fetchall()


def _name_holder(connection: sqlite3.Connection, owner: str, name: str) -> str | None:
    row = connection.execute(
        "SELECT id FROM schedules WHERE owner = ? AND name = ?", (owner, name)
    ).fetchone()
    return None if row is None else str(row[0])


def _insert(
    connection: sqlite3.Connection,
    schedule: Schedule,
    columns: tuple[str, str, int | None, str],
) -> None:
    try:
        connection.execute(_INSERT, (schedule.id, *columns))
    except sqlite3.IntegrityError:
        taken = connection.execute("SELECT 1 FROM schedules WHERE id = ?", (schedule.id,))
        if taken.fetchone() is not None:
            raise DuplicateSchedule(schedule.id) from None
        holder = _name_holder(connection, schedule.owner, schedule.name)
        raise DuplicateSchedule(
            schedule.id, name=schedule.name, existing_schedule_id=holder
        ) from None


def _update(
    connection: sqlite3.Connection,
    schedule: Schedule,
    version: int,
    columns: tuple[str, str, int | None, str],
) -> int:
    owner, name, due, doc = columns
    try:
        row = connection.execute(_UPDATE, (name, due, doc, schedule.id, owner, version)).fetchone()
    except sqlite3.IntegrityError:
        holder = _name_holder(connection, owner, name)
        raise DuplicateSchedule(
            schedule.id, name=schedule.name, existing_schedule_id=holder
        ) from None
    if row is None:
        stored = connection.execute(
            "SELECT owner FROM schedules WHERE id = ?", (schedule.id,)
        ).fetchone()
        if stored is None:
            raise ScheduleNotFound(schedule.id)
        if stored[0] != owner:
            raise InvalidInput(f"schedule {schedule.id}: a schedule's owner never changes")
        raise ConcurrencyConflict(schedule.id, kind="schedule")
    new_version: int = row[0]
    return new_version


def _delete(connection: sqlite3.Connection, schedule_id: str) -> None:
    connection.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))
    connection.execute("DELETE FROM slot_markers WHERE schedule_id = ?", (schedule_id,))


def _insert_marker(connection: sqlite3.Connection, row: tuple[str, int, str, int, str]) -> None:
    try:
        connection.execute(_INSERT_MARKER, row)
    except sqlite3.IntegrityError:
        schedule_id, slot = row[0], row[1]
        [(doc,)] = connection.execute(_MARKER, (schedule_id, slot)).fetchall()
        raise SlotAlreadyFired(marker_from_json(schedule_id, doc)) from None
