"""Azure Storage queues as a :class:`JobQueue` (production; Azurite in tests).

Bodies go on the wire base64-encoded (UTF-8, then base64), as the Azure Functions queue
trigger expects. Messages are received raw and decoded here: a body that is valid base64
of UTF-8 text is decoded, any other body (plain text put there by another sender, in any
characters) is returned as it is. A plain-text body that happens to be valid base64 of
UTF-8 text is indistinguishable from an encoded one and comes back decoded. Either way the
raw text is kept as the message's wire form, which dead-lettering copies unchanged.

Every queue of an :class:`AzureQueueBroker` goes through the broker's one
:class:`~azure.storage.queue.aio.QueueServiceClient`, so all share its connection pool.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.queue import QueueMessage as AzureMessage
from azure.storage.queue import StorageErrorCode
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from .._azure.connection import StorageConnection
from .._azure.errors import error_code, translated
from ..errors import ConfigurationError, LeaseLost, StorageError
from ..telemetry.logs import library_logger
from ._limits import (
    check_batch,
    check_body,
    check_delay,
    check_lease,
    check_queue_name,
    check_ttl,
    seconds,
)
from .base import (
    DEAD_LETTER_SUFFIX,
    DEFAULT_VISIBILITY_TIMEOUT,
    MAX_BATCH,
    POISON_SUFFIX,
    PeekedMessage,
    QueueMessage,
    is_side_queue,
)

__all__ = ["AzureJobQueue", "AzureQueueBroker", "decoded_body"]

log = library_logger("queued_jobs.queues")

#: The codes Azure answers when a pop receipt no longer holds the message: it was deleted
#: (404 MessageNotFound) or received again by someone else (400 PopReceiptMismatch).
_LEASE_GONE: Final = (StorageErrorCode.MESSAGE_NOT_FOUND, StorageErrorCode.POP_RECEIPT_MISMATCH)
#: How long :meth:`AzureJobQueue.move` holds the message while it copies it.
_MOVE_LEASE: Final = DEFAULT_VISIBILITY_TIMEOUT
#: :meth:`AzureJobQueue.find` gives up after receiving this many messages.
_FIND_LIMIT: Final = 10_000


class AzureQueueBroker:
    """The Azure Storage queues of one account, reached through one service client."""

    def __init__(
        self,
        service: QueueServiceClient,
        *,
        owned_credential: AsyncTokenCredential | None = None,
    ) -> None:
        """``owned_credential``: the client's token credential, if this broker is to close
        it after the client."""
        self._service = service
        self._queues: dict[str, AzureJobQueue] = {}
        self._credential = owned_credential

    @classmethod
    def from_connection(
        cls,
        connection: StorageConnection | str,
        *,
        client_options: Mapping[str, Any] | None = None,
    ) -> AzureQueueBroker:
        """A broker for the account of a connection string (``UseDevelopmentStorage=true``
        means Azurite on its default ports) or a :class:`StorageConnection`;
        ``client_options`` go to the SDK client."""
        clients = StorageConnection.of(connection).clients(client_options)
        return cls(clients.queue_service(), owned_credential=clients.owned_credential)

    def queue(self, name: str) -> AzureJobQueue:
        """The queue called ``name`` (``<name>-poison`` and ``<name>-deadletter`` are side
        queues)."""
        if name not in self._queues:
            check_queue_name(name)
            self._queues[name] = AzureJobQueue(self, self._service.get_queue_client(name))
        return self._queues[name]

    def arrivals(self) -> None:
        """Azure Storage queues give no arrival hints: receivers poll."""
        return None

    async def close(self) -> None:
        """Close the service client and its connections, used by every queue of the broker."""
        await self._service.close()
        if self._credential is not None:
            await self._credential.close()


class AzureJobQueue:
    """One Azure Storage queue; made by :meth:`AzureQueueBroker.queue`."""

    def __init__(self, broker: AzureQueueBroker, client: QueueClient) -> None:
        self._broker = broker
        self._client = client
        self._name: str = client.queue_name

    @property
    def name(self) -> str:
        return self._name

    async def create(self) -> None:
        """Create the queue and (unless it is a side queue) its poison and dead-letter
        queues, if missing: one request per queue."""
        with self._storage("create the queue"), suppress(ResourceExistsError):
            await self._client.create_queue()
        if not is_side_queue(self._name):
            await self.poison_queue().create()
            await self.dead_letter_queue().create()

    async def send(
        self, body: str, *, delay: timedelta | None = None, ttl: timedelta | None = None
    ) -> str:
        """Send ``body`` base64-encoded; ``ttl`` ``None`` means the message never expires."""
        check_body(body)
        wait = check_delay(delay)
        check_ttl(ttl, wait)
        with self._storage("send a message"):
            sent = await self._client.send_message(
                _encoded(body),
                visibility_timeout=seconds(wait),
                time_to_live=-1 if ttl is None else seconds(ttl),
            )
        return sent.id

    async def send_wire(self, wire: str) -> str:
        """Send ``wire`` as it is (it is already in the form the queue holds), never to
        expire. A missing queue is created, then sent to again (two more requests, once): a
        dead letter must find its queue even on an account set up before it had one."""
        try:
            return await self._send_wire(wire)
        except ConfigurationError:
            await self.create()
            return await self._send_wire(wire)

    async def _send_wire(self, wire: str) -> str:
        with self._storage("send a message"):
            sent = await self._client.send_message(wire, time_to_live=-1)
        return sent.id

    async def receive(
        self,
        *,
        max_messages: int = MAX_BATCH,
        visibility_timeout: timedelta = DEFAULT_VISIBILITY_TIMEOUT,
    ) -> list[QueueMessage]:
        """Lease up to ``max_messages`` in one request."""
        check_batch(max_messages)
        lease = seconds(check_lease(visibility_timeout))
        with self._storage("receive messages"):
            pages = self._client.receive_messages(
                max_messages=max_messages,
                messages_per_page=max_messages,
                visibility_timeout=lease,
            ).by_page()
            page = await anext(pages, None)
            received = [] if page is None else [message async for message in page]
        return [public for message in received if (public := self._public(message)) is not None]

    async def renew(self, message: QueueMessage, *, visibility_timeout: timedelta) -> QueueMessage:
        """Set the lease to end ``visibility_timeout`` from now; raises ``LeaseLost``."""
        lease = seconds(check_delay(visibility_timeout, what="visibility timeout"))
        with self._storage("renew a message lease"):
            try:
                updated = await self._client.update_message(
                    message.id, pop_receipt=message.receipt, visibility_timeout=lease
                )
            except HttpResponseError as exc:
                if error_code(exc) in _LEASE_GONE:
                    raise LeaseLost(
                        f"message {message.id} on {self._name} is no longer leased to us"
                    ) from exc
                raise
        if updated.pop_receipt is None or updated.next_visible_on is None:
            raise StorageError(f"Azure Storage renewed message {message.id} without a receipt")
        return replace(message, receipt=updated.pop_receipt, visible_at=updated.next_visible_on)

    async def ack(self, message: QueueMessage) -> None:
        """Delete the message; does nothing if it is gone or someone else received it since."""
        with self._storage("delete a message"):
            try:
                await self._client.delete_message(message.id, pop_receipt=message.receipt)
            except HttpResponseError as exc:
                if error_code(exc) not in _LEASE_GONE:
                    raise

    async def dead_letter(self, message: QueueMessage) -> None:
        """Move the message to ``<name>-deadletter``: 3 requests (see :meth:`move`)."""
        await self.move(message, self._name + DEAD_LETTER_SUFFIX)

    async def move(self, message: QueueMessage, to: str) -> None:
        """Copy the wire form to queue ``to``, then delete the message here: 3 requests.

        The lease is renewed first, so a message that is no longer ours raises ``LeaseLost``
        before anything is copied. The wire form came from a queue with the same limit, so
        the copy always fits. If the copy is made but the message can't be deleted (the
        process stops, or the renewed lease runs out first: ``LeaseLost``), it is delivered
        again and ``to`` may get a second copy: a message is never lost.
        """
        held = await self.renew(message, visibility_timeout=_MOVE_LEASE)
        await self._broker.queue(to).send_wire(message.wire)
        with self._storage("delete a moved message"):
            try:
                await self._client.delete_message(held.id, pop_receipt=held.receipt)
            except HttpResponseError as exc:
                if error_code(exc) == StorageErrorCode.POP_RECEIPT_MISMATCH:
                    raise LeaseLost(
                        f"message {held.id} on {self._name} was copied to {to}, but its "
                        "lease ran out before it was deleted: it will be delivered again"
                    ) from exc
                if error_code(exc) != StorageErrorCode.MESSAGE_NOT_FOUND:
                    raise

    async def peek(self, *, max_messages: int = MAX_BATCH) -> list[PeekedMessage]:
        """One request; Azure peeks at most 32 messages, the oldest visible ones."""
        check_batch(max_messages)
        with self._storage("peek at messages"):
            peeked = await self._client.peek_messages(max_messages=max_messages)
        return [
            PeekedMessage(
                id=message.id,
                body=decoded_body(message.content),
                dequeue_count=message.dequeue_count or 0,
                inserted_at=message.inserted_on or datetime.now(UTC),
                wire=_text(message.content),
            )
            for message in peeked
        ]

    async def find(
        self, message_id: str, *, visibility_timeout: timedelta = DEFAULT_VISIBILITY_TIMEOUT
    ) -> QueueMessage | None:
        """Receive batches of 32 until one holds ``message_id``: one request per 32 messages
        before it, and one more per message passed over, which is handed back (visible again
        at once). Stops at an empty receive, at a message seen twice (the first ones came
        back), or after 10,000 messages."""
        seen: set[str] = set()
        passed: list[QueueMessage] = []
        try:
            while len(seen) < _FIND_LIMIT:
                batch = await self.receive(visibility_timeout=visibility_timeout)
                found = next((m for m in batch if m.id == message_id), None)
                passed += [m for m in batch if m is not found]
                if found is not None or not batch or any(m.id in seen for m in batch):
                    return found
                seen.update(m.id for m in batch)
            return None
        finally:
            await self._hand_back(passed)

    async def _hand_back(self, messages: list[QueueMessage]) -> None:
        """Make ``messages`` visible again at once; one that cannot be (it came back to
        someone else, storage failed) comes back when its lease ends anyway."""
        outcomes = await asyncio.gather(
            *(self.renew(m, visibility_timeout=timedelta(0)) for m in messages),
            return_exceptions=True,
        )
        failed = sum(isinstance(outcome, BaseException) for outcome in outcomes)
        if failed:
            log.warning(
                "%d messages passed over on %s were not handed back; they come back when "
                "their lease ends",
                failed,
                self._name,
            )

    async def clear(self) -> None:
        """One request (Azure may take longer for a very large queue)."""
        with self._storage("clear the queue"):
            await self._client.clear_messages()

    async def depth(self) -> int:
        """Azure's approximate message count, visible or not."""
        with self._storage("count messages"):
            properties = await self._client.get_queue_properties()
        return properties.approximate_message_count or 0

    def poison_queue(self) -> AzureJobQueue:
        return self._broker.queue(self._name + POISON_SUFFIX)

    def dead_letter_queue(self) -> AzureJobQueue:
        return self._broker.queue(self._name + DEAD_LETTER_SUFFIX)

    @contextmanager
    def _storage(self, action: str) -> Iterator[None]:
        """Translate the Azure errors escaping the block; a missing queue is a setup error."""
        with translated(f"{action} on queue {self._name!r}"):
            try:
                yield
            except HttpResponseError as exc:
                if error_code(exc) == StorageErrorCode.QUEUE_NOT_FOUND:
                    raise ConfigurationError(
                        f"queue {self._name!r} does not exist in Azure Storage: call "
                        "create() on it (or deploy it) before using it"
                    ) from exc
                raise

    def _public(self, message: AzureMessage) -> QueueMessage | None:
        """The received message, or ``None`` (logged) for one Azure returned without its
        lease: it can't be settled, and comes back when the lease it was given ends."""
        if (
            message.pop_receipt is None
            or message.dequeue_count is None
            or message.inserted_on is None
            or message.next_visible_on is None
        ):
            log.error(
                "Azure Storage returned message %s on %s without its lease; skipped",
                message.id,
                self._name,
            )
            return None
        return QueueMessage(
            id=message.id,
            body=decoded_body(message.content),
            receipt=message.pop_receipt,
            dequeue_count=message.dequeue_count,
            inserted_at=message.inserted_on,
            visible_at=message.next_visible_on,
            wire=_text(message.content),
        )


def _encoded(body: str) -> str:
    """The body as the Functions queue trigger reads it: base64 of its UTF-8 bytes."""
    return base64.b64encode(body.encode("utf-8")).decode("ascii")


def _text(content: object) -> str:
    return content if isinstance(content, str) else ""


def decoded_body(content: object) -> str:
    """The text of a message as Azure holds it: decoded if it is base64 of UTF-8 text,
    else as it is. Never raises, whatever the content."""
    text = _text(content)
    if not text.isascii():  # base64 is ASCII: plain text from another sender
        return text
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return text
