"""A consumer of the change feed: every change, from a saved place, to a handler, by one
process at a time (what webhooks and the Web PubSub publisher stand on).

Each pass takes the consumer's store-wide lease (``feed-<name>``), reads every partition
after the consumer's checkpoint (the one it saved itself, kept in memory while its lease
has not run out between passes, so an idle pass reads no checkpoint), hands the changes to
the handler in batches, and saves the checkpoint after each batch (a version-guarded
write: a process that lost the lease cannot move it). A process that dies between handling
a batch and saving its place hands that batch over again from the next holder: handlers
are idempotent (at-least-once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConcurrencyConflict, InvalidInput, QueuedJobsError
from ..models import JobChange
from ..repositories.base import JobRepository
from ..telemetry.logs import library_logger
from .cursor import FeedCursor, replay

__all__ = ["ChangeHandler", "FeedConsumer"]

log = library_logger("queued_jobs.feed")
ChangeHandler = Callable[[Sequence[JobChange]], Awaitable[None]]
_BATCH = 100


class FeedConsumer:
    """Hands every change of the store's feed to ``handle``, once per pass of
    :meth:`run_once` (or every ``interval`` in :meth:`run_forever`)."""

    def __init__(
        self,
        repository: JobRepository,
        name: str,
        handle: ChangeHandler,
        *,
        holder: str,
        clock: Clock = SYSTEM_CLOCK,
        interval: timedelta = timedelta(seconds=1),
        lease: timedelta = timedelta(seconds=30),
    ) -> None:
        self._repository = repository
        self.name = name
        self._handle = handle
        self._holder = holder
        self._clock = clock
        self.interval = interval
        self._lease = lease
        self._kept: tuple[FeedCursor, str | None] | None = None
        self._held_until: datetime | None = None

    async def run_once(self) -> int:
        """One pass, if this process holds (or takes) the consumer's lease; returns how
        many changes it handed over."""
        now = self._clock.now()
        lease = f"feed-{self.name}"
        # The place this process saved last, if its lease never ran out since (nobody else
        # can have moved it); else the store's. A pass that fails reads the store's again.
        kept, self._kept = self._kept, None
        if self._held_until is None or now >= self._held_until:
            kept = None
        self._held_until = None
        if not await self._repository.take_lease(
            lease, self._holder, now=now, until=now + self._lease
        ):
            return 0
        self._held_until = now + self._lease
        cursor, version = kept or await self._place()
        handed = 0
        for partition in self._repository.change_partitions(None):
            pending: list[JobChange] = []
            try:
                async for change in replay(self._repository, partition, cursor):
                    pending.append(change)
                    if len(pending) >= _BATCH:
                        version = await self._hand(pending, cursor, version)
                        handed, pending = handed + len(pending), []
            except InvalidInput as exc:  # a saved place this store does not know
                log.error("feed consumer %s: starting %s from now: %s", self.name, partition, exc)
                cursor.settled[partition] = await self._repository.change_head(partition)
                cursor.delivered.pop(partition, None)
            if pending:
                version = await self._hand(pending, cursor, version)
                handed += len(pending)
        cursor.forget_carried()
        self._kept = (cursor, await self._save(cursor, version))
        return handed

    async def _place(self) -> tuple[FeedCursor, str | None]:
        partitions = self._repository.change_partitions(None)
        saved = await self._repository.load_checkpoint(self.name)
        key = await self._repository.message_key()
        cursor = None if saved is None else FeedCursor.decode(saved.value, partitions, key)
        if saved is not None and cursor is None:
            log.error("feed consumer %s: its checkpoint cannot be read; from now on", self.name)
        cursor = cursor or FeedCursor()
        for partition in partitions:
            if partition not in cursor.resumed:  # new: from now on
                cursor.settled[partition] = await self._repository.change_head(partition)
                cursor.resumed.add(partition)
        return cursor, None if saved is None else saved.version

    async def _hand(
        self, changes: list[JobChange], cursor: FeedCursor, version: str | None
    ) -> str | None:
        await self._handle(changes)
        return await self._save(cursor, version)

    async def _save(self, cursor: FeedCursor, version: str | None) -> str:
        try:
            key = await self._repository.message_key()
            return await self._repository.save_checkpoint(
                self.name, cursor.encode(key), version=version
            )
        except ConcurrencyConflict:
            log.warning("feed consumer %s: another process moved on; this pass ends", self.name)
            raise

    async def run_forever(self) -> None:
        """A pass every ``interval``; a pass that fails (whatever the error) is logged and
        tried again at the next."""
        pause = self.interval.total_seconds()
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # a handler's bug must not stop the host it runs in
                log.warning(
                    "feed consumer %s: a pass failed: %s",
                    self.name,
                    exc,
                    exc_info=not isinstance(exc, QueuedJobsError),
                )
            await asyncio.sleep(pause)
