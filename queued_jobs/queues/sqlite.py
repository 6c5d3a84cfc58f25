"""SQLite :class:`JobQueue`: the embedded default, safe for several processes on one file.

Every queue of a :class:`SqliteQueueBroker` lives in one ``messages`` table. A receive
leases its messages in one write transaction, so no two receivers, in any process, hold
the same message at once.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from .._private import PRIVATE_FILE
from .._sqlite.database import SqliteDatabase, execute, from_micros, to_micros
from .._sqlite.doorbell import Doorbell
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import LeaseLost
from ._limits import (
    check_batch,
    check_body,
    check_delay,
    check_lease,
    check_queue_name,
    check_ttl,
)
from .base import (
    DEAD_LETTER_SUFFIX,
    DEFAULT_VISIBILITY_TIMEOUT,
    MAX_BATCH,
    POISON_SUFFIX,
    Arrivals,
    PeekedMessage,
    QueueMessage,
)

__all__ = ["SqliteJobQueue", "SqliteQueueBroker"]

_SEND = """INSERT INTO messages (id, queue, body, inserted_at, visible_at, expires_at)
    VALUES (?, ?, ?, ?, ?, ?)"""
_RECEIVE = """UPDATE messages
    SET receipt = lower(hex(randomblob(8))), visible_at = ?, dequeue_count = dequeue_count + 1
    WHERE seq IN (
        SELECT seq FROM messages WHERE queue = ? AND visible_at <= ?
        ORDER BY visible_at, seq LIMIT ?
    )
    RETURNING seq, id, body, receipt, dequeue_count, inserted_at, visible_at"""

_MOVE = """UPDATE messages
    SET id = ?, queue = ?, receipt = NULL, dequeue_count = 0, inserted_at = ?, visible_at = ?,
        expires_at = NULL
    WHERE id = ? AND queue = ? AND receipt = ?"""
_PEEK = """SELECT id, body, dequeue_count, inserted_at FROM messages
    WHERE queue = ? AND visible_at <= ? AND (expires_at IS NULL OR expires_at > ?)
    ORDER BY visible_at, seq LIMIT ?"""
_FIND = """UPDATE messages
    SET receipt = lower(hex(randomblob(8))), visible_at = ?, dequeue_count = dequeue_count + 1
    WHERE id = ? AND queue = ? AND visible_at <= ? AND (expires_at IS NULL OR expires_at > ?)
    RETURNING seq, id, body, receipt, dequeue_count, inserted_at, visible_at"""

_Received = tuple[int, str, str, str, int, int, int]


class SqliteQueueBroker:
    """The queues in one SQLite file (or a :class:`SqliteDatabase` shared with a repository).

    A broker opened on a path owns its database and closes it; one given a database leaves
    closing it to the caller. ``file_mode``: see :class:`SqliteDatabase`.
    """

    def __init__(
        self,
        path_or_db: str | Path | SqliteDatabase,
        *,
        clock: Clock = SYSTEM_CLOCK,
        file_mode: int = PRIVATE_FILE,
    ) -> None:
        if isinstance(path_or_db, SqliteDatabase):
            self.database, self._owns_db = path_or_db, False
        else:
            self.database = SqliteDatabase(path_or_db, file_mode=file_mode)
            self._owns_db = True
        self.clock = clock
        self.doorbell = Doorbell(self.database.path)

    def queue(self, name: str) -> SqliteJobQueue:
        return SqliteJobQueue(self, name)

    def arrivals(self) -> Arrivals | None:
        """Rings from any process sending to this file (``None`` without Unix sockets)."""
        return self.doorbell.listen()

    async def close(self) -> None:
        self.doorbell.close()
        if self._owns_db:
            await self.database.close()


class SqliteJobQueue:
    """One queue of a :class:`SqliteQueueBroker`."""

    def __init__(self, broker: SqliteQueueBroker, name: str) -> None:
        self._broker = broker
        self._db = broker.database
        self._name = check_queue_name(name)

    @property
    def name(self) -> str:
        return self._name

    async def create(self) -> None:
        """Open the database: every queue, side queues too, lives in its one table."""
        await self._db.open()

    async def send(
        self, body: str, *, delay: timedelta | None = None, ttl: timedelta | None = None
    ) -> str:
        check_body(body)
        wait = check_delay(delay)
        check_ttl(ttl, wait)
        now = self._broker.clock.now()
        message_id = secrets.token_hex(16)
        expires_at = None if ttl is None else to_micros(now + ttl)
        row = (message_id, self._name, body, to_micros(now), to_micros(now + wait), expires_at)
        await self._db.run(execute, _SEND, row)
        if not wait:
            self._broker.doorbell.ring()
        return message_id

    async def send_wire(self, wire: str) -> str:
        now = to_micros(self._broker.clock.now())
        message_id = secrets.token_hex(16)
        await self._db.run(execute, _SEND, (message_id, self._name, wire, now, now, None))
        self._broker.doorbell.ring()
        return message_id

    async def receive(
        self,
        *,
        max_messages: int = MAX_BATCH,
        visibility_timeout: timedelta = DEFAULT_VISIBILITY_TIMEOUT,
    ) -> list[QueueMessage]:
        check_batch(max_messages)
        lease = check_lease(visibility_timeout)
        now = self._broker.clock.now()
        rows = await self._db.write(
            _receive, self._name, to_micros(now), to_micros(now + lease), max_messages
        )
        return [_message(row) for row in sorted(rows)]

    async def renew(self, message: QueueMessage, *, visibility_timeout: timedelta) -> QueueMessage:
        lease = check_delay(visibility_timeout, what="visibility timeout")
        receipt = secrets.token_hex(8)
        visible_at = self._broker.clock.now() + lease
        renewed = await self._db.run(
            execute,
            "UPDATE messages SET receipt = ?, visible_at = ? WHERE id = ? AND queue = ? "
            "AND receipt = ?",
            (receipt, to_micros(visible_at), message.id, self._name, message.receipt),
        )
        if not renewed:
            raise self._lease_lost(message)
        if not lease:  # handed back: visible again now
            self._broker.doorbell.ring()
        return replace(message, receipt=receipt, visible_at=visible_at)

    async def ack(self, message: QueueMessage) -> None:
        await self._db.run(
            execute,
            "DELETE FROM messages WHERE id = ? AND queue = ? AND receipt = ?",
            (message.id, self._name, message.receipt),
        )

    async def dead_letter(self, message: QueueMessage) -> None:
        await self.move(message, self._name + DEAD_LETTER_SUFFIX)

    async def move(self, message: QueueMessage, to: str) -> None:
        """Move the row itself, in one statement: nothing is re-sent or checked. It gets a
        new id there, as on Azure (where a move is a copy)."""
        check_queue_name(to)
        now = to_micros(self._broker.clock.now())
        moved = await self._db.run(
            execute,
            _MOVE,
            (secrets.token_hex(16), to, now, now, message.id, self._name, message.receipt),
        )
        if not moved:
            raise self._lease_lost(message)
        self._broker.doorbell.ring()

    async def peek(self, *, max_messages: int = MAX_BATCH) -> list[PeekedMessage]:
        check_batch(max_messages)
        now = to_micros(self._broker.clock.now())
        rows = await self._db.run(_fetch_all, _PEEK, (self._name, now, now, max_messages))
        return [
            PeekedMessage(message_id, _text(body), count, from_micros(inserted), _text(body))
            for message_id, body, count, inserted in rows
        ]

    async def find(
        self, message_id: str, *, visibility_timeout: timedelta = DEFAULT_VISIBILITY_TIMEOUT
    ) -> QueueMessage | None:
        lease = check_lease(visibility_timeout)
        now = self._broker.clock.now()
        row = (to_micros(now + lease), message_id, self._name, to_micros(now), to_micros(now))
        rows = await self._db.run(_fetch_all, _FIND, row)
        return _message(rows[0]) if rows else None

    async def clear(self) -> None:
        await self._db.run(execute, "DELETE FROM messages WHERE queue = ?", (self._name,))

    async def depth(self) -> int:
        return await self._db.run(_count, self._name)

    def poison_queue(self) -> SqliteJobQueue:
        return SqliteJobQueue(self._broker, self._name + POISON_SUFFIX)

    def dead_letter_queue(self) -> SqliteJobQueue:
        return SqliteJobQueue(self._broker, self._name + DEAD_LETTER_SUFFIX)

    def _lease_lost(self, message: QueueMessage) -> LeaseLost:
        return LeaseLost(f"message {message.id} on {self._name} is no longer leased to us")


def _count(connection: sqlite3.Connection, queue: str) -> int:
    count: int = connection.execute(
        "SELECT count(*) FROM messages WHERE queue = ?", (queue,)
    ).fetchone()[0]
    return count


def _receive(
    connection: sqlite3.Connection, queue: str, now: int, lease_end: int, limit: int
) -> list[_Received]:
    connection.execute("DELETE FROM messages WHERE queue = ? AND expires_at <= ?", (queue, now))
    return connection.execute(_RECEIVE, (lease_end, queue, now, limit)).fetchall()


def _fetch_all(connection: sqlite3.Connection, sql: str, args: tuple[object, ...]) -> list[Any]:
    return connection.execute(sql, args).fetchall()


def _text(body: object) -> str:
    """A stored body as text. Ours are always text; a row written by another program may
    hold a blob or a number (SQLite's columns take any type): it is read as text (bytes as
    UTF-8, what cannot be decoded replaced) so that it is handled like any foreign body.
    Moving the message (a dead letter) keeps the row itself, whatever it holds."""
    if isinstance(body, str):
        return body
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace")
    return "" if body is None else str(body)


def _message(row: _Received) -> QueueMessage:
    _, message_id, stored, receipt, dequeue_count, inserted_at, visible_at = row
    body = _text(stored)
    return QueueMessage(
        id=message_id,
        body=body,
        receipt=receipt,
        dequeue_count=dequeue_count,
        inserted_at=from_micros(inserted_at),
        visible_at=from_micros(visible_at),
        wire=body,
    )
