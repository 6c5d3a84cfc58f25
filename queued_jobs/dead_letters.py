"""Dead letters and poison messages: see them, send them back, or delete them.

Each priority band has two side queues (both hosts follow one convention):

- ``<band>-deadletter`` (:attr:`SideQueue.DEAD_LETTER`): what was given up on without a job
  to fail (a body that is no job message, a job record that cannot be read), from the
  worker and the Functions host alike. Nothing consumes it: it waits here.
- ``<band>-poison`` (:attr:`SideQueue.POISON`): only the Azure Functions host writes it,
  after ``maxDequeueCount`` failed deliveries, and the poison trigger consumes it at once;
  messages stay here only while that trigger fails (or when nothing runs it).

:class:`DeadLetters` lists, shows, requeues (back to the band's queue, byte for byte) and
purges them, through the queue adapters' verbs, for the command line and an API alike::

    async with app.client() as client:
        dead = DeadLetters(client.broker, app.queues)
        for letter in await dead.list(Priority.NORMAL):
            print(letter.id, letter.body[:80])
        await dead.requeue(Priority.NORMAL, letter.id)

Messages are found by id directly on SQLite and in memory. Azure can address a message
only once it has received it: :meth:`DeadLetters.show` first peeks (the oldest 32, no side
effect), then, like :meth:`~DeadLetters.requeue` and a one-message
:meth:`~DeadLetters.purge`, receives the queue 32 messages a request until it meets the
id (at most 10,000 messages); the messages passed stay hidden for :data:`SCAN_LEASE` and
count one more delivery, which no consumer of a dead-letter queue looks at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from .errors import InvalidInput, QueueMessageNotFound
from .models import Priority
from .queue_names import QueueNames
from .queues.base import (
    DEAD_LETTER_SUFFIX,
    MAX_BATCH,
    POISON_SUFFIX,
    JobQueue,
    PeekedMessage,
    QueueBroker,
    QueueMessage,
)

__all__ = ["SCAN_LEASE", "DeadLetter", "DeadLetters", "SideQueue"]

#: How long messages received while looking for one by id stay hidden.
SCAN_LEASE: Final = timedelta(seconds=10)
#: How long the message found is held while it is moved or deleted.
_HOLD: Final = timedelta(seconds=30)


class SideQueue(StrEnum):
    """Which of a band's side queues."""

    DEAD_LETTER = "deadletter"  # given up on, from both hosts; nothing consumes it
    POISON = "poison"  # the Functions host's, after maxDequeueCount; its trigger consumes it

    @property
    def suffix(self) -> str:
        return DEAD_LETTER_SUFFIX if self is SideQueue.DEAD_LETTER else POISON_SUFFIX


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message of a side queue."""

    id: str
    band: Priority
    side: SideQueue
    #: The queue it is on (``<band queue><suffix>``).
    queue: str
    #: Its text, decoded as workers decode it (any characters: escape before printing).
    body: str
    #: The message exactly as the queue holds it: what a requeue sends back.
    wire: str
    #: Deliveries since it arrived on this queue.
    dequeue_count: int
    inserted_at: datetime

    @property
    def encoded(self) -> bool:
        """Whether the queue holds it encoded (base64) rather than as plain text."""
        return self.wire != self.body


class DeadLetters:
    """The dead letters and poison messages of an application's bands."""

    def __init__(self, broker: QueueBroker, queues: QueueNames) -> None:
        self.broker = broker
        self.queues = queues

    def queue(self, band: Priority, side: SideQueue = SideQueue.DEAD_LETTER) -> JobQueue:
        return self.broker.queue(self.queues.for_priority(band) + side.suffix)

    async def count(self, band: Priority, side: SideQueue = SideQueue.DEAD_LETTER) -> int:
        """About how many messages the side queue holds (one request)."""
        return await self.queue(band, side).depth()

    async def list(
        self, band: Priority, side: SideQueue = SideQueue.DEAD_LETTER, *, limit: int = MAX_BATCH
    ) -> list[DeadLetter]:
        """The oldest ``limit`` (1-32) visible messages, without taking them (one request)."""
        if not 1 <= limit <= MAX_BATCH:
            raise InvalidInput(f"limit must be between 1 and {MAX_BATCH}, not {limit}")
        queue = self.queue(band, side)
        return [self._letter(m, band, side, queue) for m in await queue.peek(max_messages=limit)]

    async def show(
        self, band: Priority, message_id: str, side: SideQueue = SideQueue.DEAD_LETTER
    ) -> DeadLetter:
        """The message ``message_id``; raises ``QueueMessageNotFound``."""
        queue = self.queue(band, side)
        for peeked in await queue.peek():
            if peeked.id == message_id:
                return self._letter(peeked, band, side, queue)
        found = await self._find(queue, message_id, SCAN_LEASE)
        await queue.renew(found, visibility_timeout=timedelta(0))  # visible again at once
        return self._letter(found, band, side, queue)

    async def requeue(
        self, band: Priority, message_id: str, side: SideQueue = SideQueue.DEAD_LETTER
    ) -> DeadLetter:
        """Move the message back to its band's queue, unchanged, to be delivered again;
        returns it as it was. Raises ``QueueMessageNotFound``."""
        queue = self.queue(band, side)
        found = await self._find(queue, message_id, _HOLD)
        await queue.move(found, self.queues.for_priority(band))
        return self._letter(found, band, side, queue)

    async def purge(
        self,
        band: Priority,
        message_id: str | None = None,
        side: SideQueue = SideQueue.DEAD_LETTER,
    ) -> int:
        """Delete the message ``message_id`` (``QueueMessageNotFound`` if there is none), or
        with ``None`` every message of the side queue; returns about how many went."""
        queue = self.queue(band, side)
        if message_id is None:
            count = await queue.depth()
            await queue.clear()
            return count
        await queue.ack(await self._find(queue, message_id, _HOLD))
        return 1

    async def _find(self, queue: JobQueue, message_id: str, lease: timedelta) -> QueueMessage:
        found = await queue.find(message_id, visibility_timeout=lease)
        if found is None:
            raise QueueMessageNotFound(queue.name, message_id)
        return found

    @staticmethod
    def _letter(
        message: QueueMessage | PeekedMessage, band: Priority, side: SideQueue, queue: JobQueue
    ) -> DeadLetter:
        return DeadLetter(
            id=message.id,
            band=band,
            side=side,
            queue=queue.name,
            body=message.body,
            wire=message.wire,
            dequeue_count=message.dequeue_count,
            inserted_at=message.inserted_at,
        )
