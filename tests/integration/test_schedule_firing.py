"""Schedules fired by three workers and the Functions timer at once, on SQLite and Azurite,
over 200 slots of simulated time (a manual clock moved a few slots at a time, no sleeping
for slots): every slot fires
exactly once, through a worker killed and restarted, and after an outage in which nothing
fired, each schedule's catch-up policy does what it says."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from queued_jobs.app import JobApp
from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.functions import FunctionsHost
from queued_jobs.models import JobStatus, Priority, QueuedJob
from queued_jobs.schedules.firing import DEFAULT_GRACE
from queued_jobs.schedules.model import CatchUp, Schedule
from queued_jobs.worker import Worker, WorkerSettings
from tests.integration.conftest import Backend

START = datetime(2030, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SLOTS = 200
#: Everything stops after this slot and starts again at OUTAGE_END: slots in between are
#: missed, but for those within the grace of the restart.
OUTAGE_START, OUTAGE_END = 100, 130
GRACE_SLOTS = int(DEFAULT_GRACE / MINUTE)
CATCH_UP_LIMIT = 10
#: The minutes the clock is moved to, a few slots at a time (fewer than the grace, so
#: that the workers fire them on time), and the outage between.
TIMES = [*range(3, OUTAGE_START, 4), *range(OUTAGE_END, SLOTS, 4), SLOTS - 1]
SETTINGS = WorkerSettings(
    concurrency=4,
    poll_max=timedelta(milliseconds=100),
    shutdown_grace=timedelta(seconds=5),
    sweep_interval=None,
    takeover_interval=None,
    presence_interval=None,
    schedule_interval=timedelta(milliseconds=100),
    # They drain a band the scheduled jobs are not in: they fire, and leave the jobs queued
    # (that a fired job runs is the worker's everyday work, tested elsewhere).
    bands=frozenset({Priority.LOW}),
)


class Tick(BaseModel):
    policy: str


@dataclass
class Deployment:
    """Three workers in this process, each on its own connections, and a Functions host
    whose timer fires each time the manual clock they all share moves on."""

    app: JobApp
    client: JobClient
    timer: FunctionsHost
    workers: dict[int, tuple[Worker, asyncio.Task[None]]] = field(default_factory=dict)
    timing: asyncio.Task[None] | None = None
    #: Set when the clock moved: the timer's period has come.
    ticked: asyncio.Event = field(default_factory=asyncio.Event)

    def start_timer(self) -> None:
        async def fire_at_each_tick() -> None:
            while True:
                await self.ticked.wait()
                self.ticked.clear()
                await self.timer.sweep()

        self.timing = asyncio.create_task(fire_at_each_tick())

    async def stop_timer(self) -> None:
        if self.timing is not None:
            self.timing.cancel()
            await asyncio.gather(self.timing, return_exceptions=True)
            self.timing = None

    def start(self, n: int) -> None:
        worker = self.app.worker(SETTINGS, identity=f"worker-{n}")
        self.workers[n] = (worker, asyncio.create_task(worker.run()))

    async def kill(self, n: int) -> None:
        """Cancel the worker wherever it is (mid-pass, mid-write): nothing of it runs on."""
        worker, task = self.workers.pop(n)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()

    async def stop_all(self) -> None:
        await self.stop_timer()
        for n in list(self.workers):
            worker, task = self.workers.pop(n)
            worker.stop()
            await task
            await worker.close()


@pytest.fixture
async def deployment(backend: Backend) -> AsyncIterator[Deployment]:
    clock = ManualClock(START - timedelta(seconds=1))
    # The timer's sweep would re-send the jobs left queued as the clock jumps: not here.
    settings = ExecutionSettings(resend_after=timedelta(days=1))
    app = JobApp(backend.storage, clock=clock, settings=settings)

    @app.job(name="tick")
    async def tick(request: Tick) -> str:
        return request.policy

    client = app.client()
    await client.create_storage()
    timer = FunctionsHost(app, schedule_horizon=timedelta(0))
    deployment = Deployment(app, client, timer)
    yield deployment
    await deployment.stop_timer()
    for n in list(deployment.workers):
        await deployment.kill(n)
    await timer.close()
    await client.close()


async def fired_through(client: JobClient, slot: datetime) -> bool:
    """Whether every schedule has fired ``slot`` (or passed it over) and moved on."""
    page = await client.repository.schedules.list_schedules(limit=10)
    return all(s.next_slot is not None and s.next_slot > slot for s in page.items)


async def all_jobs(client: JobClient) -> list[QueuedJob]:
    jobs: list[QueuedJob] = []
    continuation = None
    while True:
        page = await client.list_jobs(limit=1000, continuation=continuation)
        jobs += page.items
        if page.continuation is None:
            return jobs
        continuation = page.continuation


def policy_and_slot(job: QueuedJob) -> tuple[str, datetime]:
    """The catch-up policy of the job's schedule (its request says it) and its slot."""
    assert isinstance(job.request, dict)
    origin = job.custom_data["schedule"]
    assert isinstance(origin, dict)
    return str(job.request["policy"]), datetime.fromisoformat(str(origin["slot"]))


def expected_slots(policy: CatchUp) -> set[int]:
    late = OUTAGE_END - GRACE_SLOTS  # the last slot missed (fired later than the grace)
    kept = {CatchUp.SKIP: 0, CatchUp.ONCE: 1, CatchUp.ALL: CATCH_UP_LIMIT}[policy]
    return (
        set(range(OUTAGE_START))
        | set(range(late - kept + 1, late + 1))
        | set(range(late + 1, SLOTS))
    )


async def test_three_workers_and_the_timer_fire_each_slot_once_and_catch_up_as_told(
    deployment: Deployment,
) -> None:
    client, clock = deployment.client, deployment.app.clock
    assert isinstance(clock, ManualClock)
    schedules = [
        await client.repository.schedules.insert_schedule(
            Schedule.new(
                owner="ops", name=f"every minute, catch-up {policy}", job_type="tick",
                rule="every:PT1M@2030-01-01T00:00", request={"policy": policy.value},
                catch_up=policy, catch_up_limit=CATCH_UP_LIMIT, next_slot=START,
                now=clock.now(),
            )
        )
        for policy in CatchUp
    ]  # fmt: skip
    for n in range(3):
        deployment.start(n)
    deployment.start_timer()
    for step, minute in enumerate(TIMES):
        if minute == OUTAGE_END:
            await deployment.stop_all()  # every firer down: nothing fires for 30 minutes
        elif step == 8:
            await deployment.kill(1)  # killed mid-run ...
        elif step == 14:
            deployment.start(1)  # ... and started again
        now = START + minute * MINUTE
        clock.advance(now - clock.now())
        if minute == OUTAGE_END:
            for n in range(3):
                deployment.start(n)
            deployment.start_timer()
        deployment.ticked.set()  # the Functions timer, racing the workers
        async with asyncio.timeout(60):
            while not await fired_through(client, now):  # noqa: ASYNC110 - a store
                await asyncio.sleep(0.1)

    jobs = await all_jobs(client)
    per_slot = Counter(policy_and_slot(job) for job in jobs)
    firers: set[str] = set()
    assert max(per_slot.values()) == 1, "a slot fired twice"
    for schedule, policy in zip(schedules, CatchUp, strict=True):
        fired = {int((slot - START) / MINUTE) for (name, slot) in per_slot if name == policy.value}
        assert fired == expected_slots(policy), policy
        markers = await client.repository.schedules.list_slot_markers(schedule.id, limit=1000)
        assert len(markers) == len(fired)
        assert {m.job_id for m in markers} <= {j.id for j in jobs}
        firers.update(m.fired_by for m in markers)
    assert len(firers) >= 2, f"one firer won every race: {firers}"
    assert firers <= {*(f"worker-{n}" for n in range(3)), deployment.timer.pipeline.host}

    # and every job a slot started is stored, queued, and its message sent (at least
    # once: a send the storage client retried may have gone twice, which claims absorb)
    assert {job.status for job in jobs} == {JobStatus.QUEUED}
    queue = client.broker.queue(deployment.app.queues.for_priority(Priority.NORMAL))
    assert await queue.depth() >= len(jobs)
