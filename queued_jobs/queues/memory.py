"""In-memory :class:`JobQueue` for unit tests and inline runs. One process only.

Queues live in a :class:`MemoryQueueBroker`; every :class:`MemoryJobQueue` made from the
same broker with the same name sees the same messages.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import LeaseLost
from ._arrivals import ArrivalHub
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
    is_side_queue,
)

__all__ = ["MemoryJobQueue", "MemoryQueueBroker"]


@dataclass(slots=True)
class _Stored:
    id: str
    seq: int
    body: str
    inserted_at: datetime
    visible_at: datetime
    expires_at: datetime | None
    dequeue_count: int = 0
    receipt: str = ""


class MemoryQueueBroker:
    """The shared home of in-memory queues."""

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._queues: dict[str, dict[str, _Stored]] = {}
        self._seq = itertools.count()
        self._hub = ArrivalHub()

    def queue(self, name: str) -> MemoryJobQueue:
        return MemoryJobQueue(self, name)

    def arrivals(self) -> Arrivals:
        return self._hub.listen()

    async def close(self) -> None:
        return None

    def _messages(self, name: str) -> dict[str, _Stored]:
        return self._queues.setdefault(name, {})

    def _next_seq(self) -> int:
        return next(self._seq)


class MemoryJobQueue:
    """One queue of a :class:`MemoryQueueBroker`."""

    def __init__(self, broker: MemoryQueueBroker, name: str) -> None:
        self._broker = broker
        self._name = check_queue_name(name)

    @property
    def name(self) -> str:
        return self._name

    @property
    def _messages(self) -> dict[str, _Stored]:
        return self._broker._messages(self._name)

    async def create(self) -> None:
        self._broker._messages(self._name)
        if not is_side_queue(self._name):
            self._broker._messages(self._name + POISON_SUFFIX)
            self._broker._messages(self._name + DEAD_LETTER_SUFFIX)

    async def send(
        self, body: str, *, delay: timedelta | None = None, ttl: timedelta | None = None
    ) -> str:
        check_body(body)
        wait = check_delay(delay)
        check_ttl(ttl, wait)
        now = self._broker.clock.now()
        message = _Stored(
            id=secrets.token_hex(16),
            seq=self._broker._next_seq(),
            body=body,
            inserted_at=now,
            visible_at=now + wait,
            expires_at=None if ttl is None else now + ttl,
        )
        self._put(message)
        return message.id

    async def send_wire(self, wire: str) -> str:
        now = self._broker.clock.now()
        message = _Stored(secrets.token_hex(16), self._broker._next_seq(), wire, now, now, None)
        self._put(message)
        return message.id

    def _put(self, message: _Stored) -> None:
        self._messages[message.id] = message
        if message.visible_at <= message.inserted_at:
            self._broker._hub.ring()

    async def receive(
        self,
        *,
        max_messages: int = MAX_BATCH,
        visibility_timeout: timedelta = DEFAULT_VISIBILITY_TIMEOUT,
    ) -> list[QueueMessage]:
        check_batch(max_messages)
        lease = check_lease(visibility_timeout)
        now = self._broker.clock.now()
        messages = self._messages
        for expired in [m.id for m in messages.values() if m.expires_at and m.expires_at <= now]:
            del messages[expired]
        visible = sorted(
            (m for m in messages.values() if m.visible_at <= now), key=lambda m: m.seq
        )[:max_messages]
        received = []
        for message in visible:
            message.dequeue_count += 1
            message.receipt = secrets.token_hex(8)
            message.visible_at = now + lease
            received.append(_public(message))
        return received

    def _leased(self, message: QueueMessage) -> _Stored:
        stored = self._messages.get(message.id)
        if stored is None or stored.receipt != message.receipt:
            raise LeaseLost(f"message {message.id} on {self._name} is no longer leased to us")
        return stored

    async def renew(self, message: QueueMessage, *, visibility_timeout: timedelta) -> QueueMessage:
        lease = check_delay(visibility_timeout, what="visibility timeout")
        stored = self._leased(message)
        stored.receipt = secrets.token_hex(8)
        stored.visible_at = self._broker.clock.now() + lease
        if not lease:  # handed back: visible again now
            self._broker._hub.ring()
        return replace(message, receipt=stored.receipt, visible_at=stored.visible_at)

    async def ack(self, message: QueueMessage) -> None:
        stored = self._messages.get(message.id)
        if stored is not None and stored.receipt == message.receipt:
            del self._messages[message.id]

    async def dead_letter(self, message: QueueMessage) -> None:
        await self.move(message, self._name + DEAD_LETTER_SUFFIX)

    async def move(self, message: QueueMessage, to: str) -> None:
        """Move the stored message itself: nothing is re-sent or checked. It gets a new id
        there, as on Azure (where a move is a copy)."""
        target = MemoryJobQueue(self._broker, to)
        stored = self._leased(message)
        del self._messages[stored.id]
        now = self._broker.clock.now()
        moved = replace(
            stored,
            id=secrets.token_hex(16),
            seq=self._broker._next_seq(),
            inserted_at=now,
            visible_at=now,
            expires_at=None,
            dequeue_count=0,
            receipt="",
        )
        target._put(moved)

    async def peek(self, *, max_messages: int = MAX_BATCH) -> list[PeekedMessage]:
        check_batch(max_messages)
        now = self._broker.clock.now()
        visible = sorted(
            (m for m in self._messages.values() if _visible(m, now)), key=lambda m: m.seq
        )
        return [
            PeekedMessage(m.id, m.body, m.dequeue_count, m.inserted_at, m.body)
            for m in visible[:max_messages]
        ]

    async def find(
        self, message_id: str, *, visibility_timeout: timedelta = DEFAULT_VISIBILITY_TIMEOUT
    ) -> QueueMessage | None:
        lease = check_lease(visibility_timeout)
        now = self._broker.clock.now()
        stored = self._messages.get(message_id)
        if stored is None or not _visible(stored, now):
            return None
        stored.dequeue_count += 1
        stored.receipt = secrets.token_hex(8)
        stored.visible_at = now + lease
        return _public(stored)

    async def clear(self) -> None:
        self._messages.clear()

    async def depth(self) -> int:
        return len(self._messages)

    def poison_queue(self) -> MemoryJobQueue:
        return MemoryJobQueue(self._broker, self._name + POISON_SUFFIX)

    def dead_letter_queue(self) -> MemoryJobQueue:
        return MemoryJobQueue(self._broker, self._name + DEAD_LETTER_SUFFIX)


def _visible(message: _Stored, now: datetime) -> bool:
    return message.visible_at <= now and (message.expires_at is None or message.expires_at > now)


def _public(message: _Stored) -> QueueMessage:
    return QueueMessage(
        id=message.id,
        body=message.body,
        receipt=message.receipt,
        dequeue_count=message.dequeue_count,
        inserted_at=message.inserted_at,
        visible_at=message.visible_at,
        wire=message.body,
    )
