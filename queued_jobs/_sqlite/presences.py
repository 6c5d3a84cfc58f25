"""Hosts' presences in a SQLite file: the table ``presences``, a row per host (its
identity the key, its last ``seen_at`` indexed, the presence as a JSON document)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from ..models import Presence
from ..repositories._presence import check_presence, check_presence_limit, check_seen
from .database import SqliteDatabase, execute, to_micros

__all__ = ["SqlitePresences"]

_SAVE: Final = """INSERT INTO presences (host, seen_at, doc) VALUES (?, ?, ?)
    ON CONFLICT (host) DO UPDATE SET seen_at = excluded.seen_at, doc = excluded.doc"""
_LIST: Final = """SELECT doc FROM presences WHERE seen_at >= ?
    ORDER BY seen_at DESC, host LIMIT ?"""
_PURGE: Final = "DELETE FROM presences WHERE seen_at < ?"


class SqlitePresences:
    """The presence verbs of ``SqliteJobRepository``, on its database."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def save(self, presence: Presence) -> None:
        check_presence(presence)
        row = (presence.host, to_micros(presence.seen_at), presence.to_json())
        await self._db.write(execute, _SAVE, row)

    async def list(self, *, seen_since: datetime, limit: int) -> list[Presence]:
        check_presence_limit(limit)
        since = to_micros(check_seen(seen_since, "seen_since"))
        docs = await self._db.run(_fetch, since, limit)
        found = (Presence.from_json(doc) for doc in docs)
        return [presence for presence in found if presence is not None]

    async def purge(self, *, seen_before: datetime) -> int:
        before = to_micros(check_seen(seen_before, "seen_before"))
        return await self._db.write(execute, _PURGE, (before,))


def _fetch(connection: sqlite3.Connection, since: int, limit: int) -> list[object]:
    return [doc for (doc,) in connection.execute(_LIST, (since, limit))]
