"""Sequences in a SQLite file: the ``sequences`` of ``SqliteJobRepository``.

The table ``sequences`` holds a row per sequence: the record as JSON, its owner, an
integer version bumped by every update (which is conditional on it) and ``active`` (1
while the sequence is active, else ``NULL``) under a partial index: the sweep's listing
reads only the active sequences; ``ended_at`` (when an ended sequence ended, ``NULL``
while active) is under another, which a purge reads. Each write also inserts the
sequence's change into the table ``changes`` (the change feed), in the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from ..errors import (
    ConcurrencyConflict,
    CorruptSequenceRecord,
    DuplicateSequence,
    InvalidInput,
    SequenceNotFound,
)
from ..repositories._sequences import (
    check_listing,
    check_purge,
    check_sequence,
    ended_at,
    sequence_change_doc,
    sequence_doc,
    sequence_from_json,
)
from ..repositories.base import DEFAULT_PAGE_SIZE, Page
from ..sequences.model import Sequence
from ..sequences.store import DEFAULT_PURGE_LIMIT
from .database import SqliteDatabase, execute, to_micros

__all__ = ["SqliteSequenceStore"]

_INSERT: Final = """INSERT INTO sequences (id, owner, active, ended_at, doc, version)
    VALUES (?, ?, ?, ?, ?, 1)"""
_UPDATE: Final = """UPDATE sequences SET active = ?, ended_at = ?, doc = ?, version = version + 1
    WHERE id = ? AND owner = ? AND version = ?
    RETURNING version"""
_PURGE: Final = """DELETE FROM sequences WHERE id IN (
    SELECT id FROM sequences INDEXED BY sequences_ended
    WHERE ended_at IS NOT NULL AND ended_at < ? ORDER BY ended_at, id LIMIT ?)"""
_RECORD: Final = "INSERT INTO changes (job_id, recorded_at, doc) VALUES (?, ?, ?)"
_VERSION_DIGITS: Final = 18
Row = tuple[str, int | None, int | None, str, int, str]


class SqliteSequenceStore:
    """The :class:`~queued_jobs.sequences.store.SequenceStore` of one SQLite repository,
    on its database; ``changed`` rings the repository's change bell after a write."""

    def __init__(
        self, db: SqliteDatabase, *, now: Callable[[], Any], changed: Callable[[str], None]
    ) -> None:
        self._db = db
        self._now = now
        self._changed = changed

    def _row(self, sequence: Sequence) -> Row:
        """The row's owner, active flag, end, document, and its change's time and
        document."""
        ended = ended_at(sequence)
        return (
            sequence.owner,
            1 if sequence.is_active else None,
            None if ended is None else to_micros(ended),
            sequence_doc(sequence),
            to_micros(self._now()),
            sequence_change_doc(sequence),
        )

    async def insert_sequence(self, sequence: Sequence) -> Sequence:
        check_sequence(sequence)
        await self._db.write(_insert, sequence.id, self._row(sequence))
        self._changed(sequence.id)
        return sequence.model_copy(update={"version": "1"})

    async def get_sequence(self, sequence_id: str) -> Sequence:
        sql = "SELECT version, doc FROM sequences WHERE id = ?"
        rows = await self._db.run(_fetch_all, sql, (sequence_id,))
        if not rows:
            raise SequenceNotFound(sequence_id)
        return sequence_from_json(sequence_id, rows[0][1], str(rows[0][0]))

    async def update_sequence(self, sequence: Sequence) -> Sequence:
        check_sequence(sequence)
        version = sequence.version
        if version is None or not version.isdigit() or len(version) > _VERSION_DIGITS:
            raise ConcurrencyConflict(sequence.id, kind="sequence")
        new = await self._db.write(_update, sequence.id, int(version), self._row(sequence))
        self._changed(sequence.id)
        return sequence.model_copy(update={"version": str(new)})

    async def delete_sequence(self, sequence_id: str) -> None:
        await self._db.write(_delete, sequence_id)

    async def purge_sequences(
        self, *, ended_before: datetime, limit: int = DEFAULT_PURGE_LIMIT
    ) -> int:
        cutoff = to_micros(check_purge(ended_before, limit))
        return await self._db.write(execute, _PURGE, (cutoff, limit))

    async def list_sequences(
        self,
        *,
        owner: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Sequence]:
        owner, after = check_listing(owner, limit, continuation)
        where: list[str] = []
        params: list[Any] = []
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        if after is not None:
            where.append("id < ?")
            params.append(after)
        return await self._page(where, params, limit)

    async def list_active_sequences(
        self, *, limit: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[Sequence]:
        _, after = check_listing(None, limit, continuation)
        where = ["active IS NOT NULL"]
        params: list[Any] = []
        if after is not None:
            where.append("id < ?")
            params.append(after)
        return await self._page(where, params, limit, index="INDEXED BY sequences_active")

    async def _page(
        self, where: list[str], params: list[Any], limit: int, *, index: str = ""
    ) -> Page[Sequence]:
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT id, version, doc FROM sequences {index}{condition} ORDER BY id DESC LIMIT ?"
        rows = await self._db.run(_fetch_all, sql, (*params, limit + 1))
        items: list[Sequence] = []
        skipped: list[str] = []
        for sequence_id, version, doc in rows[:limit]:
            try:
                items.append(sequence_from_json(sequence_id, doc, str(version)))
            except CorruptSequenceRecord:
                skipped.append(sequence_id)
        return Page(items, rows[limit - 1][0] if len(rows) > limit else None, skipped)


def _fetch_all(connection: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    return connection.execute(sql, params).fetchall()


def _insert(connection: sqlite3.Connection, sequence_id: str, row: Row) -> None:
    owner, active, ended, doc, recorded_at, change = row
    try:
        connection.execute(_INSERT, (sequence_id, owner, active, ended, doc))
    except sqlite3.IntegrityError:
        raise DuplicateSequence(sequence_id) from None
    connection.execute(_RECORD, (sequence_id, recorded_at, change))


def _update(connection: sqlite3.Connection, sequence_id: str, version: int, row: Row) -> int:
    owner, active, ended, doc, recorded_at, change = row
    found = connection.execute(
        _UPDATE, (active, ended, doc, sequence_id, owner, version)
    ).fetchone()
    if found is None:
        stored = connection.execute(
            "SELECT owner FROM sequences WHERE id = ?", (sequence_id,)
        ).fetchone()
        if stored is None:
            raise SequenceNotFound(sequence_id)
        if stored[0] != owner:
            raise InvalidInput(f"sequence {sequence_id}: a sequence's owner never changes")
        raise ConcurrencyConflict(sequence_id, kind="sequence")
    connection.execute(_RECORD, (sequence_id, recorded_at, change))
    new_version: int = found[0]
    return new_version


def _delete(connection: sqlite3.Connection, sequence_id: str) -> None:
    connection.execute("DELETE FROM sequences WHERE id = ?", (sequence_id,))
