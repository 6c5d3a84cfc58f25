"""One reader per change-feed partition, fanned out in memory to every stream.

However many streams are open, each partition they need is read once per poll interval
(:class:`~queued_jobs.web.WebSettings`); a partition nobody listens to is not read at all.
A reader starts with the first stream that needs it and stops with the last.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ...errors import QueuedJobsError, StorageUnavailable
from ...feed.cursor import FeedCursor, replay
from ...models import JobChange
from ...repositories.base import CHANGE_PAGE_SIZE, ChangeBatch, JobRepository
from ...telemetry.logs import library_logger
from ..settings import WebSettings

__all__ = ["ChangeHub", "Settled", "Snapshot", "Subscription"]

log = library_logger("queued_jobs.web.events")
_BACKOFF_LIMIT = 30.0
#: How long a new stream waits for a partition's first read before it is refused (503).
_READY_PATIENCE = 30.0


@dataclass(frozen=True, slots=True)
class Settled:
    """Every change of ``partition`` at or before ``position`` has been handed out."""

    partition: str
    position: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where a partition's reader stood when a stream joined: the changes at or before
    ``settled``, and those in ``seen``, came before the stream."""

    settled: str | None
    seen: frozenset[str]


class Subscription:
    """What one stream receives: changes it accepts and :class:`Settled` marks, in order."""

    def __init__(
        self,
        accept: Callable[[JobChange], bool],
        buffer: int,
        leave: Callable[[Subscription], None],
    ) -> None:
        self.accept = accept
        self.snapshots: dict[str, Snapshot] = {}
        self.readers: list[_Reader] = []
        self._leave: Callable[[Subscription], None] | None = leave
        self._items: asyncio.Queue[JobChange | Settled | None] = asyncio.Queue(buffer + 1)
        self._buffer = buffer
        self.overflowed = False

    def offer(self, item: JobChange | Settled) -> None:
        if self.overflowed:
            return
        if self._items.qsize() >= self._buffer:
            self.overflowed = True  # the stream ends; its client resumes from its position
            self._items.put_nowait(None)
            return
        self._items.put_nowait(item)

    def close(self) -> None:
        """Stop listening (again: nothing)."""
        leave, self._leave = self._leave, None
        if leave is not None:
            leave(self)

    async def next(self) -> JobChange | Settled | None:
        """The next item; ``None`` once the stream fell too far behind and must end."""
        return await self._items.get()


@dataclass
class _Reader:
    partition: str
    subscribers: set[Subscription] = field(default_factory=set)
    #: Where the reader is in its partition (the changes past its settled place that it
    #: handed out, kept until they settle).
    place: FeedCursor = field(default_factory=FeedCursor)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    failure: Exception | None = None
    task: asyncio.Task[None] | None = None

    def snapshot(self) -> Snapshot:
        seen = self.place.delivered.get(self.partition, ())
        return Snapshot(self.place.settled.get(self.partition), frozenset(seen))


class _CountedReads:
    """The repository's feed reads, counted (for the benchmarks and tests)."""

    def __init__(self, repository: JobRepository) -> None:
        self._repository = repository
        self.count = 0

    async def read_changes(
        self, partition: str, *, after: str | None = None, limit: int = CHANGE_PAGE_SIZE
    ) -> ChangeBatch:
        self.count += 1
        return await self._repository.read_changes(partition, after=after, limit=limit)


class ChangeHub:
    """The readers of one repository's change feed, for every stream of one process."""

    def __init__(self, repository: JobRepository, settings: WebSettings) -> None:
        self._repository = repository
        self._interval = settings.poll_interval.total_seconds()
        self._buffer = settings.stream_buffer
        self._max_streams = settings.max_streams
        self._reads = _CountedReads(repository)
        self._readers: dict[str, _Reader] = {}
        self._streams = 0

    @property
    def streams(self) -> int:
        return self._streams

    @property
    def reads(self) -> int:
        """Reads of the feed made so far (for the benchmarks and tests)."""
        return self._reads.count

    async def join(
        self, partitions: Sequence[str], accept: Callable[[JobChange], bool]
    ) -> Subscription:
        """Listen to ``partitions`` until the subscription is closed: changes made from
        now on arrive in it. ``StorageUnavailable`` if this process serves as many streams
        as it may, or a partition cannot be read."""
        if self._streams >= self._max_streams:
            raise StorageUnavailable(
                f"this server already serves {self._max_streams:,} event streams; try "
                "another or later"
            )
        subscription = Subscription(accept, self._buffer, self._leave)
        self._streams += 1
        try:
            for partition in partitions:
                reader = self._reader(partition)
                subscription.readers.append(reader)
                reader.subscribers.add(subscription)
                try:
                    async with asyncio.timeout(_READY_PATIENCE):
                        await reader.ready.wait()
                except TimeoutError:
                    raise StorageUnavailable(
                        f"the event feed did not answer within {_READY_PATIENCE:.0f} s"
                    ) from None
                if reader.failure is not None:
                    raise StorageUnavailable(f"the event feed cannot be read: {reader.failure}")
                subscription.snapshots[partition] = reader.snapshot()
        except BaseException:
            subscription.close()
            raise
        return subscription

    def _leave(self, subscription: Subscription) -> None:
        self._streams -= 1
        for reader in subscription.readers:
            reader.subscribers.discard(subscription)
            if not reader.subscribers and reader.task is not None:
                reader.task.cancel()
                if self._readers.get(reader.partition) is reader:
                    del self._readers[reader.partition]

    def _reader(self, partition: str) -> _Reader:
        reader = self._readers.get(partition)
        if reader is None or reader.task is None or reader.task.done():
            reader = _Reader(partition)
            self._readers[partition] = reader
            reader.task = asyncio.create_task(
                self._run(reader), name=f"queued-jobs events {partition}"
            )
        return reader

    async def _run(self, reader: _Reader) -> None:
        try:
            head = await self._repository.change_head(reader.partition)
            reader.place.settled[reader.partition] = head
            await self._read(reader, deliver=False)  # what happened before: no one's news
        except Exception as exc:  # the streams waiting for it are refused (503), and say why
            reader.failure = exc
            reader.ready.set()
            if not isinstance(exc, QueuedJobsError):
                log.error(
                    "the events of partition %s cannot be read", reader.partition, exc_info=exc
                )
            return
        reader.ready.set()
        pause = self._interval
        while reader.subscribers:
            await asyncio.sleep(pause)
            try:
                await self._read(reader, deliver=True)
            except Exception as exc:  # one failed read never ends the reader of every stream
                pause = min(max(pause * 2, 1.0), _BACKOFF_LIMIT)
                log.warning(
                    "reading the events of partition %s failed (trying again in %.0f s): %s",
                    reader.partition,
                    pause,
                    exc,
                    exc_info=not isinstance(exc, QueuedJobsError),
                )
            else:
                pause = self._interval

    async def _read(self, reader: _Reader, *, deliver: bool) -> None:
        """Read the partition from the reader's place to its end (``feed.replay``),
        handing out what is new, then how far it settled."""
        partition = reader.partition
        before = reader.place.settled.get(partition)
        async for change in replay(self._reads, partition, reader.place):
            if deliver:
                for subscription in list(reader.subscribers):
                    if subscription.accept(change):
                        subscription.offer(change)
        settled = reader.place.settled.get(partition)
        if deliver and settled is not None and settled != before:
            for subscription in list(reader.subscribers):
                subscription.offer(Settled(partition, settled))

    async def close(self) -> None:
        tasks = [r.task for r in self._readers.values() if r.task is not None]
        self._readers.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
