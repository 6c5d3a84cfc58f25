"""The :class:`JobQueue` protocol: the messages that tell workers which job to run.

Adapters (``memory``, ``sqlite``, ``azure_queue``) share the Azure Storage queue semantics:
at-least-once delivery, a visibility timeout as the lease, a per-message pop receipt, a
dequeue count, and a ``<name>-poison`` queue for messages that cannot be handled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

__all__ = [
    "DEFAULT_VISIBILITY_TIMEOUT",
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "MAX_DELAY",
    "POISON_SUFFIX",
    "Arrivals",
    "JobQueue",
    "QueueBroker",
    "QueueMessage",
]

#: Azure allows 64 KiB per message after base64 encoding: 49,152 bytes of UTF-8 body.
MAX_BODY_BYTES: Final = 64 * 1024 * 3 // 4
#: The longest delay or visibility timeout a queue message can have.
MAX_DELAY: Final = timedelta(days=7)
#: The most messages one receive returns.
MAX_BATCH: Final = 32
DEFAULT_VISIBILITY_TIMEOUT: Final = timedelta(seconds=30)
POISON_SUFFIX: Final = "-poison"


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


class JobQueue(Protocol):
    """One named queue."""

    @property
    def name(self) -> str: ...

    async def create(self) -> None:
        """Create the queue and its poison queue if missing; does nothing if they exist."""
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

    async def dead_letter(self, message: QueueMessage) -> None:
        """Move the message's body to the poison queue and delete it here."""
        ...

    async def depth(self) -> int:
        """Approximate number of messages on the queue, visible or not."""
        ...

    def poison_queue(self) -> JobQueue:
        """The ``<name>-poison`` queue, as a queue of its own."""
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
