"""``GET /stats``: counts per status, throughput and failure rate over the last hour and
day, queue depths; ``GET /stats/timeline``: those counts bucket by bucket. Bounded
whatever the store holds: each count reads at most :data:`COUNT_LIMIT` index entries (past
it a count says ``more``), a queue that does not answer in time shows no depth, and an
answer is reused for a few seconds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from ...client import JobClient
from ...errors import QueuedJobsError
from ...models import JobStatus, Priority, check_owner
from ...queues.base import JobQueue
from ...repositories.base import JobQuery
from .._access import listing_owner
from .._runtime import runtime_of
from ._common import Caller, errors
from ._counting import COUNT_LIMIT, Count, cached, count, failure_rate

__all__ = ["COUNT_LIMIT", "Stats", "Timeline", "router"]

router = APIRouter(tags=["system"])
_QUEUE_PATIENCE: Final = 5.0
_BANDS: Final = (Priority.HIGH, Priority.NORMAL, Priority.LOW)
Span = Literal["hour", "day"]
#: A timeline's buckets: how many, and how long each is.
_SPANS: Final[dict[str, tuple[int, timedelta]]] = {
    "hour": (12, timedelta(minutes=5)),
    "day": (24, timedelta(hours=1)),
}
#: Counts a timeline has in flight at once (72 for a day, each a query per shard on Azure).
_AT_ONCE: Final = 8
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class Window(BaseModel):
    """Jobs created in the window that have finished so far."""

    succeeded: Count
    failed: Count
    #: failed / (succeeded + failed); ``null`` with neither.
    failure_rate: float | None


class QueueDepth(BaseModel):
    #: A priority band, or ``overflow``: the overflow queue of an app with an owner share
    #: (its dead letters are kept with the normal band's).
    band: Priority | Literal["overflow"]
    queue: str
    #: ``null``: the queue did not answer in time.
    messages: int | None
    poison: int | None
    dead_letters: int | None


class Bucket(BaseModel):
    """The jobs created in ``[start, start + bucket_seconds)``: how many, and how many of
    them have succeeded and failed so far."""

    start: datetime
    created: Count
    succeeded: Count
    failed: Count
    #: failed / (succeeded + failed); ``null`` with neither.
    failure_rate: float | None


class Timeline(BaseModel):
    owner: str | None
    type: str | None
    span: Span
    bucket_seconds: int
    #: Oldest first; the last holds now.
    buckets: list[Bucket]
    generated_at: datetime


class Stats(BaseModel):
    owner: str | None
    type: str | None
    counts: dict[JobStatus, Count]
    last_hour: Window
    last_day: Window
    queues: list[QueueDepth]
    generated_at: datetime


async def _window(client: JobClient, base: JobQuery, since: datetime) -> Window:
    def query(status: JobStatus) -> JobQuery:
        return JobQuery(
            statuses=frozenset({status}),
            owner=base.owner,
            job_type=base.job_type,
            created_from=since,
        )

    succeeded, failed = await asyncio.gather(
        count(client, query(JobStatus.SUCCEEDED)), count(client, query(JobStatus.FAILED))
    )
    return Window(succeeded=succeeded, failed=failed, failure_rate=failure_rate(succeeded, failed))


async def _depth(client: JobClient, band: Priority | Literal["overflow"]) -> QueueDepth:
    name = client.queues.overflow if band == "overflow" else client.queues.for_priority(band)
    queue = client.broker.queue(name)

    async def depth(of: JobQueue) -> int | None:
        try:
            async with asyncio.timeout(_QUEUE_PATIENCE):
                return await of.depth()
        except (QueuedJobsError, TimeoutError):
            return None

    messages, poison, dead = await asyncio.gather(
        depth(queue), depth(queue.poison_queue()), depth(queue.dead_letter_queue())
    )
    return QueueDepth(
        band=band, queue=queue.name, messages=messages, poison=poison, dead_letters=dead
    )


async def _stats(client: JobClient, owner: str | None, job_type: str | None) -> Stats:
    now = client.clock.now()
    base = JobQuery(owner=owner, job_type=job_type)
    statuses = list(JobStatus)
    counts = await asyncio.gather(
        *(
            count(client, JobQuery(statuses=frozenset({s}), owner=owner, job_type=job_type))
            for s in statuses
        )
    )
    hour, day = await asyncio.gather(
        _window(client, base, now - timedelta(hours=1)),
        _window(client, base, now - timedelta(days=1)),
    )
    bands: list[Priority | Literal["overflow"]] = list(_BANDS)
    if client.settings.owner_share is not None:
        bands.append("overflow")
    depths = await asyncio.gather(*(_depth(client, band) for band in bands))
    return Stats(
        owner=owner,
        type=job_type,
        counts=dict(zip(statuses, counts, strict=True)),
        last_hour=hour,
        last_day=day,
        queues=list(depths),
        generated_at=now,
    )


@router.get("/stats", response_model=Stats, name="stats", responses=errors())
async def stats(
    request: Request,
    caller: Caller,
    owner: Annotated[str | None, Query(max_length=256)] = None,
    type: Annotated[str | None, Query(max_length=256)] = None,
) -> Stats:
    """Counts of jobs per status (the caller's own, or for operators and readers every
    owner's or ``owner``'s), of one ``type`` if given; how many jobs created in the last
    hour and day succeeded and failed; the bands' queue depths."""
    scoped = listing_owner(caller, None if owner is None else check_owner(owner))
    runtime = runtime_of(request)

    async def make() -> Stats:
        return await _stats(await runtime.client(), scoped, type)

    return await cached(runtime, ("stats", scoped, type), Stats, make)


async def _bucket(
    client: JobClient, base: JobQuery, start: datetime, size: timedelta, slots: asyncio.Semaphore
) -> Bucket:
    async def counted(*statuses: JobStatus) -> Count:
        query = JobQuery(
            statuses=frozenset(statuses),
            owner=base.owner,
            job_type=base.job_type,
            created_from=start,
            created_before=start + size,
        )
        async with slots:
            return await count(client, query)

    created, succeeded, failed = await asyncio.gather(
        counted(), counted(JobStatus.SUCCEEDED), counted(JobStatus.FAILED)
    )
    return Bucket(
        start=start,
        created=created,
        succeeded=succeeded,
        failed=failed,
        failure_rate=failure_rate(succeeded, failed),
    )


async def _timeline(
    client: JobClient, span: Span, owner: str | None, job_type: str | None
) -> Timeline:
    now = client.clock.now()
    buckets, size = _SPANS[span]
    last = now - (now - _EPOCH) % size  # whole buckets of the clock: 10:05, 10:10...
    base = JobQuery(owner=owner, job_type=job_type)
    slots = asyncio.Semaphore(_AT_ONCE)
    counted = await asyncio.gather(
        *(_bucket(client, base, last - size * back, size, slots) for back in range(buckets))
    )
    return Timeline(
        owner=owner,
        type=job_type,
        span=span,
        bucket_seconds=int(size.total_seconds()),
        buckets=list(reversed(counted)),
        generated_at=now,
    )


@router.get(
    "/stats/timeline",
    response_model=Timeline,
    name="stats_timeline",
    operation_id="stats_timeline",
    responses=errors(),
)
async def stats_timeline(
    request: Request,
    caller: Caller,
    span: Span = "hour",
    owner: Annotated[str | None, Query(max_length=256)] = None,
    type: Annotated[str | None, Query(max_length=256)] = None,
) -> Timeline:
    """Jobs **by creation time**, in buckets of the clock: ``hour``, 12 of 5 minutes;
    ``day``, 24 of an hour; the last holds now. Each bucket counts the jobs created in it
    and how many of those have succeeded and failed so far (so a bucket's counts grow as
    its jobs finish), with its failure rate. Scoped as ``/stats`` is (the caller's own
    jobs, or for operators and readers every owner's or ``owner``'s, of one ``type`` if
    given), each count bounded the same way, the answer reused for a few seconds."""
    scoped = listing_owner(caller, None if owner is None else check_owner(owner))
    runtime = runtime_of(request)

    async def make() -> Timeline:
        return await _timeline(await runtime.client(), span, scoped, type)

    return await cached(runtime, ("timeline", span, scoped, type), Timeline, make)
