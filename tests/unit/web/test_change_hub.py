"""The event hub and a stream's cursor, on the memory store: one read per partition per
interval however many streams listen, and resuming from any event's id hands over every
later change once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from queued_jobs.clock import ManualClock
from queued_jobs.feed.cursor import FeedCursor
from queued_jobs.models import JobChange, JobStatus, Progress, QueuedJob
from queued_jobs.repositories.base import ChangeBatch
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.web.events.hub import ChangeHub
from queued_jobs.web.events.stream import change_events
from queued_jobs.web.settings import WebSettings
from tests.support.waiting import until

FAST = WebSettings(poll_interval=timedelta(milliseconds=20))
KEY = b"the store's secret, 32 bytes long"


@pytest.fixture
async def repository() -> AsyncIterator[MemoryJobRepository]:
    store = MemoryJobRepository(clock=ManualClock())
    yield store
    await store.close()


async def _job(repository: MemoryJobRepository, owner: str = "alice") -> QueuedJob:
    return await repository.insert(QueuedJob.new(owner=owner, job_type="t"))


async def test_a_thousand_streams_cost_the_reads_of_one(repository: MemoryJobRepository) -> None:
    hub = ChangeHub(repository, FAST)
    [partition] = repository.change_partitions(None)
    one = await hub.join([partition], lambda change: True)
    await until(lambda: hub.reads >= 10, "ten reads")
    alone = hub.reads
    many = [await hub.join([partition], lambda change: True) for _ in range(999)]
    start = hub.reads
    await until(lambda: hub.reads >= start + alone, "as many reads again")
    assert hub.streams == 1000
    job = await _job(repository)
    for subscription in [one, *many]:
        item = await asyncio.wait_for(subscription.next(), 30)
        while not isinstance(item, JobChange):
            item = await asyncio.wait_for(subscription.next(), 30)
        assert item.job_id == job.id
    for subscription in [one, *many]:
        subscription.close()
    assert hub.streams == 0
    await hub.close()


async def test_the_reader_stops_with_its_last_stream(repository: MemoryJobRepository) -> None:
    hub = ChangeHub(repository, FAST)
    [partition] = repository.change_partitions(None)
    subscription = await hub.join([partition], lambda change: True)
    await until(lambda: hub.reads >= 3, "a few reads")
    subscription.close()
    stopped = hub.reads
    await asyncio.sleep(0.2)  # ten intervals: a running reader would read again
    assert hub.reads <= stopped + 1
    await hub.close()


class _Late:
    """A store whose chosen changes become visible a read late, and whose ``settled``
    trails by a read (as Azure's do, by seconds): what a cursor's remembered positions
    are for."""

    def __init__(self, inner: MemoryJobRepository) -> None:
        self._inner = inner
        self._hidden: set[str] = set()
        self._settled: dict[str, str | None] = {}

    def change_partitions(self, owner: str | None = None) -> tuple[str, ...]:
        return self._inner.change_partitions(owner)

    async def change_head(self, partition: str) -> str | None:
        return None

    async def read_changes(
        self, partition: str, *, after: str | None = None, limit: int = 1000
    ) -> ChangeBatch:
        batch = await self._inner.read_changes(partition, after=after, limit=limit)
        visible = [c for c in batch.changes if c.position not in self._hidden]
        self._hidden.clear()  # visible from the next read on
        settled, self._settled[partition] = self._settled.get(partition), batch.settled
        if settled is not None and after is not None and settled < after:
            settled = after
        return ChangeBatch(visible, settled)

    def hide(self, position: str) -> None:
        self._hidden.add(position)


def _describe(change: JobChange) -> dict[str, object]:
    return {"position": change.position, "status": change.status.value}


async def _events(stream: AsyncIterator[object], count: int) -> list[str]:
    found = []
    for _ in range(count):
        event = await asyncio.wait_for(anext(stream), 30)
        found.append(json.loads(event.data)["position"])  # type: ignore[attr-defined]
    return found


async def test_resuming_from_any_event_hands_over_every_later_change_once(
    repository: MemoryJobRepository,
) -> None:
    late = _Late(repository)
    hub = ChangeHub(late, FAST)  # type: ignore[arg-type]
    partitions = repository.change_partitions(None)
    [partition] = partitions

    def stream_from(
        subscription: object, last_id: str | None, most: int = 1000
    ) -> AsyncIterator[object]:
        return change_events(
            subscription,  # type: ignore[arg-type]
            late,  # type: ignore[arg-type]
            partitions,
            _describe,
            last_event_id=last_id,
            resume_window=timedelta(hours=1),
            key=KEY,
            max_replay=most,
        )

    stream = stream_from(await hub.join(partitions, lambda change: True), None)
    jobs = [await _job(repository) for _ in range(3)]
    first = [await asyncio.wait_for(anext(stream), 30) for _ in range(3)]
    await stream.aclose()  # type: ignore[attr-defined]
    # While nobody listens: two more changes, the last one visible a read late.
    await repository.update(jobs[0].model_copy(update={"progress": Progress(percent=50)}))
    await _job(repository)
    stored = [c.position for c in (await repository.read_changes(partition)).changes]
    late.hide(stored[-1])
    for event in first:
        position = json.loads(event.data)["position"]
        later = stored[stored.index(position) + 1 :]
        resumed = stream_from(await hub.join(partitions, lambda change: True), event.id)
        got = await _events(resumed, len(later))
        await resumed.aclose()  # type: ignore[attr-defined]
        assert sorted(got) == later
        assert len(set(got)) == len(got)
    assert JobStatus.QUEUED.value in first[0].data
    # A place with more to catch up on than a stream may replay: what it could replay,
    # then a reset (read your jobs again), then live.
    behind = stream_from(await hub.join(partitions, lambda change: True), first[0].id, most=2)
    kinds = []
    while not kinds or kinds[-1] != "reset":
        kinds.append((await asyncio.wait_for(anext(behind), 30)).event)  # type: ignore[attr-defined]
    assert kinds == ["job", "job", "reset"]
    await behind.aclose()  # type: ignore[attr-defined]
    await hub.close()


def test_a_cursor_reads_back_only_with_the_key_that_signed_it() -> None:
    cursor = FeedCursor(settled={"all": "0000000000000000007"}, delivered={"all": set()})
    text = cursor.encode(KEY)
    back = FeedCursor.decode(text, ("all",), KEY)
    assert back is not None
    assert back.settled == {"all": "0000000000000000007"}
    assert FeedCursor.decode(text, ("all",), b"another store's key, 32 bytes..") is None
    body = text[2:]
    for at in (3, len(body) // 2):  # a character of the signature, one of the cursor
        # (not the last: its spare bits may not reach the bytes)
        flipped = body[:at] + ("A" if body[at] != "A" else "B") + body[at + 1 :]
        assert FeedCursor.decode("1." + flipped, ("all",), KEY) is None
    assert FeedCursor.decode("1.nonsense", ("all",), KEY) is None
    assert FeedCursor.decode("2." + body, ("all",), KEY) is None
