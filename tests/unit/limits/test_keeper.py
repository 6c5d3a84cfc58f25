"""The keeper under many jobs of one gate at once, from several hosts on one store: no
more hold it than its capacity, every job gets through, and a job parked in the same
write as a place given back is still woken."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import pytest

from queued_jobs.clock import ManualClock
from queued_jobs.limits import ConcurrencyLimit
from queued_jobs.limits.keeper import Blocked, JobGate, LimitKeeper
from queued_jobs.models import QueuedJob
from queued_jobs.repositories.memory import MemoryJobRepository
from tests.support.waiting import PATIENCE

LIMIT = ConcurrencyLimit("three", 3)
GATE = JobGate(LIMIT, "")


class SlowStore:
    """The memory store, letting other tasks run before each write lands (as a real
    store's round trip does), so that changes pile up behind a write in flight."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def save_gate(self, gate: Any, **options: Any) -> Any:
        for _ in range(3):
            await asyncio.sleep(0)
        return await self._store.save_gate(gate, **options)


@pytest.mark.parametrize("hosts", [1, 3], ids=["one-host", "three-hosts"])
async def test_many_jobs_of_one_gate_never_pass_its_capacity_and_all_get_through(
    hosts: int,
) -> None:
    clock = ManualClock()
    repository = MemoryJobRepository(clock=clock)
    woken: asyncio.Queue[str] = asyncio.Queue()

    async def send_wake(queue: str, job_id: str) -> None:
        await woken.put(job_id)

    store = SlowStore(repository.limits)
    keepers = [
        LimitKeeper(store, send_wake, clock=clock, lease=timedelta(seconds=30))  # type: ignore[arg-type]
        for _ in range(hosts)
    ]
    jobs = {
        job.id: job
        for job in (
            QueuedJob.new(owner="ada", job_type="t", now=clock.now() + timedelta(milliseconds=i))
            for i in range(60)
        )
    }
    rng = random.Random(7)
    running: set[str] = set()
    most = 0
    done: set[str] = set()
    parked: dict[str, QueuedJob] = {}

    async def run(job: QueuedJob) -> None:
        nonlocal most
        keeper = rng.choice(keepers)
        entered = await keeper.enter(job, [GATE])
        if isinstance(entered, Blocked):
            parked[job.id] = job.model_copy(update={"waiting": entered.waiting})
            return
        running.add(job.id)
        most = max(most, len(running))
        await asyncio.sleep(0)
        running.discard(job.id)
        done.add(job.id)
        await keeper.leave(job.id, [GATE])

    await asyncio.gather(*(run(job) for job in jobs.values()))
    async with asyncio.timeout(PATIENCE):
        while len(done) < len(jobs):
            job_id = await woken.get()
            await run(parked.pop(job_id))

    assert most <= 3
    assert done == set(jobs)
    gate = await repository.limits.load_gate("three", "")
    assert gate is not None
    assert gate.live_holders(clock.now()) == {}
    assert not gate.has_waiters
