"""The :class:`JobQueue` protocol: the messages that tell workers which job to run.

Adapters (``memory``, ``sqlite``, ``azure_queue``) share the Azure Storage queue semantics:
at-least-once delivery, a visibility timeout as the lease, a per-message pop receipt, a
dequeue count. A band's queue has two side queues: ``<name>-poison``, where the Azure
Functions host moves a message after ``maxDequeueCount`` failed deliveries, and
``<name>-deadletter``, where :meth:`JobQueue.dead_letter` keeps what is given up on.

Every message keeps its *wire form*, the text the store holds (on Azure the base64 text,
or a foreign producer's plain text), next to its decoded ``body``: dead-lettering and
requeueing copy the wire form unchanged, so they never lose a byte nor grow a body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

__all__ = [
    "DEAD_LETTER_SUFFIX",
    "DEFAULT_VISIBILITY_TIMEOUT",
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "MAX_DELAY",
    "POISON_SUFFIX",
    "Arrivals",
    "JobQueue",
    "PeekedMessage",
    "QueueBroker",
    "QueueMessage",
    "is_side_queue",
]

#: Azure allows 64 KiB per message after base64 encoding: 49,152 bytes of UTF-8 body.
MAX_BODY_BYTES: Final = 64 * 1024 * 3 // 4
#: The longest delay or visibility timeout a queue message can have.
MAX_DELAY: Final = timedelta(days=7)
#: The most messages one receive returns.
MAX_BATCH: Final = 32
DEFAULT_VISIBILITY_TIMEOUT: Final = timedelta(seconds=30)
POISON_SUFFIX: Final = "-poison"
#: The queue next to a band's where what is given up on is kept; nothing consumes it.
DEAD_LETTER_SUFFIX: Final = "-deadletter"


def is_side_queue(name: str) -> bool:
    """Whether ``name`` is a poison or dead-letter queue (which has no side queues)."""
    return name.endswith((POISON_SUFFIX, DEAD_LETTER_SUFFIX))


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """A message received under a lease. ``receipt`` proves the lease is ours."""

    id: str
    body: str
    receipt: str
    #: How many times the message has been received, this time included.
    dequeue_count: int
    inserted_at: datetime
    #: When the lease ends and the message becomes visible to other receivers again.
    visible_at: datetime
    #: The message as the store holds it (Azure: base64 or a foreign producer's plain
    #: text; elsewhere the body itself): what dead-lettering and requeueing copy.
    wire: str


@dataclass(frozen=True, slots=True)
class PeekedMessage:
    """A message seen without being received: no lease, no receipt, nothing changed."""

    id: str
    body: str
    dequeue_count: int
    inserted_at: datetime
    wire: str


class JobQueue(Protocol):
    """One named queue."""

    @property
    def name(self) -> str: ...

    async def create(self) -> None:
        """Create the queue and, unless it is a side queue itself, its ``-poison`` and
        ``-deadletter`` queues, if missing; does nothing if they exist."""
        ...

    async def send(
        self, body: str, *, delay: timedelta | None = None, ttl: timedelta | None = None
    ) -> str:
        """Put a message on the queue; returns its id.

        ``delay`` (at most 7 days, whole seconds) keeps it invisible that long; ``ttl``
        drops it if not received in time (``None``: never expires). Raises
        ``MessageTooLarge`` and ``InvalidDelay``.
        """
        ...

    async def receive(
        self,
        *,
        max_messages: int = MAX_BATCH,
        visibility_timeout: timedelta = DEFAULT_VISIBILITY_TIMEOUT,
    ) -> list[QueueMessage]:
        """Lease up to ``max_messages`` visible messages for ``visibility_timeout``."""
        ...

    async def renew(self, message: QueueMessage, *, visibility_timeout: timedelta) -> QueueMessage:
        """Extend (or, with zero, end) the lease; returns the message with its new receipt.

        Raises ``LeaseLost`` if the lease expired and someone else received it, or it is gone.
        """
        ...

    async def ack(self, message: QueueMessage) -> None:
        """Delete a handled message. A message that is already gone is not an error."""
        ...

    async def send_wire(self, wire: str) -> str:
        """Put a message's wire form (a :attr:`QueueMessage.wire` of this store) on the
        queue unchanged; returns its id. Nothing is encoded and no body limit applies: a
        wire form that came from one queue of a store fits in any of them."""
        ...

    async def dead_letter(self, message: QueueMessage) -> None:
        """Move the leased message, its wire form unchanged, to :meth:`dead_letter_queue`.

        Always settles the message (no size check can refuse it); raises ``LeaseLost`` if
        it is no longer ours, in which case nothing is copied.
        """
        ...

    async def move(self, message: QueueMessage, to: str) -> None:
        """Move the leased message, its wire form unchanged, to queue ``to`` of the same
        store, visible there at once under a new id; raises ``LeaseLost`` if it is no
        longer ours."""
        ...

    async def peek(self, *, max_messages: int = MAX_BATCH) -> list[PeekedMessage]:
        """Up to ``max_messages`` visible messages, oldest first, without receiving them."""
        ...

    async def find(
        self, message_id: str, *, visibility_timeout: timedelta = DEFAULT_VISIBILITY_TIMEOUT
    ) -> QueueMessage | None:
        """Lease the visible message with id ``message_id``; ``None`` if there is none.

        Meant for side queues, which nothing else receives from. Azure can only address a
        message it has received, so there this receives batches until it meets the id
        (the others it passes stay invisible for ``visibility_timeout`` and count one more
        delivery); the other stores look it up directly.
        """
        ...

    async def clear(self) -> None:
        """Delete every message of the queue."""
        ...

    async def depth(self) -> int:
        """Approximate number of messages on the queue, visible or not."""
        ...

    def poison_queue(self) -> JobQueue:
        """The ``<name>-poison`` queue, as a queue of its own."""
        ...

    def dead_letter_queue(self) -> JobQueue:
        """The ``<name>-deadletter`` queue, as a queue of its own."""
        ...


class Arrivals(Protocol):
    """Hints that messages may have arrived on a broker's queues, for an idle receiver that
    would otherwise wait for its next poll. A hint only: receivers keep polling too."""

    async def wait(self) -> None:
        """Return once a hint came (at once if one came since the last wait)."""
        ...

    def close(self) -> None:
        """Stop listening."""
        ...


class QueueBroker(Protocol):
    """The queues of one store (a SQLite file, an Azure storage account): it owns the
    connections its queues share, so it is what gets closed."""

    def queue(self, name: str) -> JobQueue:
        """The queue called ``name``; refuses names the store would refuse."""
        ...

    def arrivals(self) -> Arrivals | None:
        """Listen for hints of new messages (``None``: this store gives none; poll)."""
        ...

    async def close(self) -> None:
        """Release connections. The broker's queues are unusable afterwards."""
        ...
