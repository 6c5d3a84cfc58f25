"""Feed consumers on the memory store: every change to the handler once, from a saved
place, by one holder at a time; a failing handler is retried, never fatal."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from queued_jobs.clock import ManualClock
from queued_jobs.feed.consumer import FeedConsumer
from queued_jobs.models import JobChange, QueuedJob
from queued_jobs.repositories.memory import MemoryJobRepository
from tests.support.waiting import until


async def _job(repository: MemoryJobRepository) -> QueuedJob:
    return await repository.insert(QueuedJob.new(owner="ada", job_type="t"))


async def test_each_change_is_handed_over_once_across_passes_and_holders() -> None:
    clock = ManualClock()
    repository = MemoryJobRepository(clock=clock)
    seen: list[str] = []

    async def handle(changes: Sequence[JobChange]) -> None:
        seen.extend(change.job_id for change in changes)

    first = FeedConsumer(repository, "hooks", handle, holder="a", clock=clock)
    second = FeedConsumer(repository, "hooks", handle, holder="b", clock=clock)
    assert await first.run_once() == 0  # its place: from now on
    jobs = [await _job(repository) for _ in range(3)]
    assert await second.run_once() == 0  # the lease is a's
    assert await first.run_once() == 3
    assert await first.run_once() == 0
    clock.advance(timedelta(minutes=1))  # a's lease ran out: b takes over from a's place
    later = await _job(repository)
    assert await second.run_once() == 1
    assert seen == [*(job.id for job in jobs), later.id]


async def test_a_handler_that_fails_is_tried_again_and_never_ends_the_loop() -> None:
    repository = MemoryJobRepository()
    calls: list[int] = []

    async def handle(changes: Sequence[JobChange]) -> None:
        calls.append(len(changes))
        if len(calls) == 1:
            raise RuntimeError("a bug in the handler")

    consumer = FeedConsumer(
        repository, "flaky", handle, holder="a", interval=timedelta(milliseconds=10)
    )
    await consumer.run_once()
    await _job(repository)
    running = asyncio.create_task(consumer.run_forever())
    try:
        await until(lambda: len(calls) >= 2, "the change handed over again")
        assert not running.done()  # the failure did not end the loop
    finally:
        running.cancel()
    assert calls[:2] == [1, 1]  # the same change, again, after the failure


async def test_the_lease_holder_reads_its_checkpoint_again_only_after_its_lease_ran_out() -> None:
    clock = ManualClock()
    repository = MemoryJobRepository(clock=clock)
    loads: list[str] = []
    load = repository.load_checkpoint

    async def counted(name: str) -> object:
        loads.append(name)
        return await load(name)

    repository.load_checkpoint = counted  # type: ignore[assignment,method-assign]

    async def handle(changes: Sequence[JobChange]) -> None:
        return None

    consumer = FeedConsumer(repository, "hooks", handle, holder="a", clock=clock)
    for _ in range(3):
        await consumer.run_once()
    assert loads == ["hooks"]
    clock.advance(timedelta(minutes=1))  # someone else could have moved it meanwhile
    await consumer.run_once()
    assert loads == ["hooks", "hooks"]
