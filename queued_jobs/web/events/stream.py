"""One event stream: a replay from a resumed position, then live changes, each sent with
the cursor that resumes right after it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

from sse_starlette import ServerSentEvent

from ...errors import InvalidInput
from ...feed.cursor import FeedCursor, replay
from ...models import JobChange
from ...repositories.base import JobRepository
from .hub import Settled, Subscription

__all__ = ["change_events"]

#: In a buffered window, events that follow the first within this long go with it.
_GATHER = 0.05
_RETRY_MS = 250
Describe = Callable[[JobChange], dict[str, object]]


def _event(
    change: JobChange, cursor: FeedCursor, describe: Describe, key: bytes
) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(describe(change), separators=(",", ":")),
        event=change.kind,
        id=cursor.encode(key),
    )


def _reset(reason: str) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps({"reason": reason}), event="reset")


async def change_events(
    subscription: Subscription,
    repository: JobRepository,
    partitions: tuple[str, ...],
    describe: Describe,
    *,
    last_event_id: str | None,
    resume_window: timedelta,
    key: bytes,
    max_replay: int,
    window: float | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """The events of the ``subscription`` to ``partitions``, as ``describe`` words them:
    first those after ``last_event_id`` (if it is a cursor of ours, young enough), then
    live ones. A ``reset`` event says the stream could not resume (the client should read
    the jobs it shows again). Closes the subscription when it ends.

    With ``window`` (seconds: for hosts that buffer a response until it ends), the stream
    ends soon after its first events, or after ``window`` without any, and tells the
    client to come back at once (``retry``); its ``Last-Event-ID`` resumes it.

    Cursors are signed with ``key`` (the store's secret). A resume with more than
    ``max_replay`` changes to catch up on in a partition gets a ``reset`` once it has
    replayed that many."""
    place: list[FeedCursor] = []
    rules = _Replay(resume_window, key, max_replay)
    events = _events(subscription, repository, partitions, describe, last_event_id, rules, place)
    try:
        if window is None:
            async for event in events:
                yield event
            return
        yield ServerSentEvent(comment="buffered: reconnect with Last-Event-ID", retry=_RETRY_MS)
        async for event in _windowed(events, window):
            yield event
        if place:  # where this window ended, even without an event: resume from there
            yield ServerSentEvent(id=place[0].encode(key))
    finally:
        await events.aclose()
        subscription.close()


async def _windowed(
    events: AsyncIterator[ServerSentEvent], window: float
) -> AsyncIterator[ServerSentEvent]:
    """``events`` until ``window`` seconds pass, or shortly after the first one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + window
    while (left := deadline - loop.time()) > 0:
        try:
            event = await asyncio.wait_for(anext(events), left)
        except (TimeoutError, StopAsyncIteration):
            return
        yield event
        deadline = min(deadline, loop.time() + _GATHER)


@dataclass(frozen=True, slots=True)
class _Replay:
    """How a stream resumes: how old a place may be, the key cursors are signed with,
    how many changes a partition may have to catch up on."""

    window: timedelta
    key: bytes
    most: int


class _TooFarBehind(Exception):
    pass


async def _events(
    subscription: Subscription,
    repository: JobRepository,
    partitions: tuple[str, ...],
    describe: Describe,
    last_event_id: str | None,
    rules: _Replay,
    place: list[FeedCursor],
) -> AsyncGenerator[ServerSentEvent, None]:
    """The stream's events; ``place`` gets its cursor as soon as it has one."""
    accept, key = subscription.accept, rules.key
    resumed = None
    if last_event_id:
        resumed = FeedCursor.decode(last_event_id, partitions, key)
        if resumed is None:
            yield _reset("Last-Event-ID is not a position of this stream; starting from now")
        elif time.time() - resumed.issued_at > rules.window.total_seconds():
            yield _reset("Last-Event-ID is too old to resume from; starting from now")
            resumed = None
    cursor = resumed or FeedCursor()
    place.append(cursor)
    for partition in partitions:
        snapshot = subscription.snapshots[partition]
        if partition not in cursor.resumed:
            cursor.settled[partition] = snapshot.settled
            cursor.delivered[partition] = set(snapshot.seen)
    for partition in sorted(cursor.resumed):
        try:
            replayed = 0
            async for change in replay(repository, partition, cursor):
                replayed += 1
                if replayed > rules.most:
                    raise _TooFarBehind
                if accept(change):
                    yield _event(change, cursor, describe, key)
        except (InvalidInput, _TooFarBehind) as exc:  # start this partition from now
            why = "is too far behind" if isinstance(exc, _TooFarBehind) else "names no place"
            yield _reset(f"Last-Event-ID {why} to resume from; starting from now")
            snapshot = subscription.snapshots[partition]
            cursor.settled[partition] = snapshot.settled
            cursor.delivered[partition] = set(snapshot.seen)
    cursor.forget_carried()
    while True:
        item = await subscription.next()
        if item is None:
            return  # too far behind: the client resumes from its last id
        if isinstance(item, Settled):
            cursor.settle(item.partition, item.position)
        elif not cursor.saw(item.partition, item.position):
            yield _event(item, cursor, describe, key)
