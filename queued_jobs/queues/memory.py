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
from .base import DEFAULT_VISIBILITY_TIMEOUT, MAX_BATCH, POISON_SUFFIX, Arrivals, QueueMessage

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
        self._name = check_queue_name(name, poison=name.endswith(POISON_SUFFIX))

    @property
    def name(self) -> str:
        return self._name

    @property
    def _messages(self) -> dict[str, _Stored]:
        return self._broker._messages(self._name)

    async def create(self) -> None:
        self._broker._messages(self._name)
        if not self._name.endswith(POISON_SUFFIX):
            self._broker._messages(self._name + POISON_SUFFIX)

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
        self._messages[message.id] = message
        if not wait:
            self._broker._hub.ring()
        return message.id

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
        self._leased(message)
        await self.poison_queue().send(message.body)
        await self.ack(message)

    async def depth(self) -> int:
        return len(self._messages)

    def poison_queue(self) -> MemoryJobQueue:
        return MemoryJobQueue(self._broker, self._name + POISON_SUFFIX)


def _public(message: _Stored) -> QueueMessage:
    return QueueMessage(
        id=message.id,
        body=message.body,
        receipt=message.receipt,
        dequeue_count=message.dequeue_count,
        inserted_at=message.inserted_at,
        visible_at=message.visible_at,
    )
