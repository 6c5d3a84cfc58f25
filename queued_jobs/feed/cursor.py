"""A reader's place in the change feed (an event stream's, carried by every event's ``id``
so that a client resuming with ``Last-Event-ID`` misses nothing and sees nothing twice; a
feed consumer's, saved as its checkpoint).

For each partition: the position up to which every change was handed to the stream (or
was not for it), and the changes past it already handed over (as 48-bit digests). Stores
that order changes as they commit (SQLite, memory) settle every change at once, so the
second part stays empty; Azure's settle a few seconds late (``change_lateness``).

The text is ``1.`` and, in URL-safe base64, a 16-byte HMAC-SHA256 of the store's secret
(``JobRepository.message_key``) followed by the cursor as zlib-compressed JSON. Every
process of the store can read a cursor another made; a cursor no process of the store made
(or one changed since) is refused, so nobody can make a stream start from a place of their
choosing. It is parsed strictly even so, and only ever names positions in the partitions
of the caller's own stream.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from ..models import JobChange
from ..repositories.base import CHANGE_PAGE_SIZE, ChangeBatch

__all__ = ["MAX_ID_LENGTH", "ChangeReader", "FeedCursor", "digest", "replay"]

_VERSION: Final = "1."
#: Longest ``Last-Event-ID`` read; longer ones are no cursor of ours.
MAX_ID_LENGTH: Final = 16_384
#: Most digests an id carries (the newest): past it, a resume may repeat older changes.
_MAX_DIGESTS: Final = 2_000
_MAX_POSITION: Final = 256
#: Bytes of the HMAC-SHA256 a cursor carries.
_SIGNATURE: Final = 16


def _signature(key: bytes, packed: bytes) -> bytes:
    return hmac.new(key, b"queued-jobs feed cursor\n" + packed, hashlib.sha256).digest()[
        :_SIGNATURE
    ]


def digest(position: str) -> str:
    return hashlib.blake2b(position.encode(), digest_size=6).hexdigest()


@dataclass
class FeedCursor:
    """Per partition: the settled position, and the positions past it handed over."""

    settled: dict[str, str | None] = field(default_factory=dict)
    delivered: dict[str, set[str]] = field(default_factory=dict)
    #: Digests from a resumed id whose positions are not known yet.
    carried: dict[str, set[str]] = field(default_factory=dict)
    issued_at: float = field(default_factory=time.time)
    #: The partitions a resumed id named (the others start from now).
    resumed: set[str] = field(default_factory=set)

    def saw(self, partition: str, position: str) -> bool:
        """Record ``position`` as handed over; whether it was already (or is settled, so
        handed over or not for this stream)."""
        settled = self.settled.get(partition)
        if settled is not None and position <= settled:
            return True
        known = self.delivered.setdefault(partition, set())
        if position in known:
            return True
        known.add(position)
        carried = self.carried.get(partition)
        if carried and digest(position) in carried:
            carried.discard(digest(position))
            return True
        return False

    def settle(self, partition: str, position: str) -> None:
        current = self.settled.get(partition)
        if current is not None and position <= current:
            return
        self.settled[partition] = position
        known = self.delivered.get(partition)
        if known:
            self.delivered[partition] = {p for p in known if p > position}

    def forget_carried(self) -> None:
        """Drop digests no replayed change matched (a resume read everything after them)."""
        self.carried.clear()

    def encode(self, key: bytes) -> str:
        """The cursor as text, signed with ``key`` (the store's secret: every process of
        the store can read it back, nobody else can make one)."""
        digests: dict[str, list[str]] = {}
        budget = _MAX_DIGESTS
        for partition in sorted({*self.delivered, *self.carried}):
            positions = self.delivered.get(partition, set())
            chosen = sorted(positions)[-budget:] if budget > 0 else []
            # Digests of a resumed id not met again yet (a window that ended mid-replay).
            found = [*self.carried.get(partition, ()), *(digest(p) for p in chosen)]
            budget -= len(found)
            if found:
                digests[partition] = found
        body = {"t": round(time.time()), "s": self.settled, "d": digests}
        packed = zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 6)
        signed = _signature(key, packed) + packed
        return _VERSION + base64.urlsafe_b64encode(signed).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, partitions: tuple[str, ...], key: bytes) -> FeedCursor | None:
        """The cursor an id carries, limited to ``partitions``; ``None`` if it is not one
        this store signed (``key``)."""
        if len(text) > MAX_ID_LENGTH or not text.startswith(_VERSION):
            return None
        data = text[len(_VERSION) :]
        try:
            signed = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
            signature, packed = signed[:_SIGNATURE], signed[_SIGNATURE:]
            if not hmac.compare_digest(signature, _signature(key, packed)):
                return None
            inflater = zlib.decompressobj()
            raw = inflater.decompress(packed, 4 * MAX_ID_LENGTH)
            if inflater.unconsumed_tail:
                return None
            body = json.loads(raw)
        except (binascii.Error, ValueError, zlib.error, RecursionError):
            return None
        return cls._parsed(body, partitions)

    @classmethod
    def _parsed(cls, body: Any, partitions: tuple[str, ...]) -> FeedCursor | None:
        if not isinstance(body, dict) or not isinstance(body.get("t"), int | float):
            return None
        settled, digests = body.get("s"), body.get("d")
        if not isinstance(settled, dict) or not isinstance(digests, dict):
            return None
        cursor = cls(issued_at=float(body["t"]))
        for partition in partitions:
            if partition not in settled:
                continue
            cursor.resumed.add(partition)
            position = settled.get(partition)
            if position is not None and not (
                isinstance(position, str) and 0 < len(position) <= _MAX_POSITION
            ):
                return None
            cursor.settled[partition] = position
            found = digests.get(partition, [])
            if not isinstance(found, list) or not all(
                isinstance(d, str) and len(d) == 12 for d in found
            ):
                return None
            cursor.carried[partition] = set(found)
        return cursor


class ChangeReader(Protocol):
    """What reading the feed needs of a store (``JobRepository.read_changes``)."""

    async def read_changes(
        self, partition: str, *, after: str | None = None, limit: int = CHANGE_PAGE_SIZE
    ) -> ChangeBatch: ...


async def replay(
    repository: ChangeReader, partition: str, cursor: FeedCursor
) -> AsyncIterator[JobChange]:
    """The stored changes of ``partition`` after the cursor's place that it has not handed
    over yet, oldest first, each recorded in the cursor as it goes; the cursor settles as
    far as the store says. The one reading of the feed every reader shares: a full batch
    is read on from its last position, and what is settled is the first batch's word (a
    later batch, read later, could call settled a change that became visible meanwhile
    behind it: ``ChangeBatch``). ``InvalidInput`` for a position this store never made."""
    after, settled = cursor.settled.get(partition), None
    while True:
        batch = await repository.read_changes(partition, after=after)
        if settled is None:
            settled = batch.settled
        for change in batch.changes:
            if not cursor.saw(partition, change.position):
                yield change
        if len(batch.changes) < CHANGE_PAGE_SIZE:
            break
        after = batch.changes[-1].position
    if settled is not None:
        cursor.settle(partition, settled)
