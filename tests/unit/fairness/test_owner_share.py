"""The owner share on the memory and SQLite stores: an owner's jobs beyond its share go to
the overflow queue, places come back as jobs are claimed, cancelled or never come, and a
worker takes a small owner's job before a large owner's backlog (and, without the share,
after it: the control)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import azure.functions as func
import pytest

from queued_jobs import ExecutionSettings, OwnerShare
from queued_jobs.app import JobApp, MemoryStorage, SqliteStorage, Storage
from queued_jobs.client import JobClient, JobSpec
from queued_jobs.clock import SYSTEM_CLOCK, Clock, ManualClock
from queued_jobs.context import JobContext
from queued_jobs.errors import ConfigurationError, JobAlreadyExists
from queued_jobs.execution.sweep import Sweeper
from queued_jobs.fairness import SHARE_LIMIT
from queued_jobs.functions import job_blueprint
from queued_jobs.limits import ConcurrencyLimit, LimitSettings
from queued_jobs.models import JobStatus, QueuedJob, new_job_id
from queued_jobs.queues.base import MAX_DELAY
from queued_jobs.worker import WorkerSettings
from tests.support.waiting import until

pytestmark = pytest.mark.asyncio
SHARE = 3


def storage_of(kind: str, tmp_path: Path) -> Storage:
    return MemoryStorage() if kind == "memory" else SqliteStorage(tmp_path / "jobs.db")


def make_app(
    storage: Storage, *, share: int | None = SHARE, clock: Clock = SYSTEM_CLOCK
) -> tuple[JobApp, list[str]]:
    """An app whose one job type records the order its jobs start in (by owner)."""
    settings = ExecutionSettings(
        lease=timedelta(seconds=30),
        owner_share=OwnerShare(share) if share is not None else None,
    )
    app = JobApp(storage, settings=settings, clock=clock)
    started: list[str] = []

    @app.job(name="tests.fair.work")
    async def work(request: dict[str, str], context: JobContext) -> str:
        started.append(context.job.owner)
        return "done"

    return app, started


@pytest.fixture(params=["memory", "sqlite"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def opened(kind: str, tmp_path: Path) -> AsyncIterator[Callable[[JobApp], JobClient]]:
    clients: list[JobClient] = []

    def open_client(app: JobApp) -> JobClient:
        client = app.client()
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.close()


async def opened_app(
    kind: str,
    tmp_path: Path,
    opened: Callable[[JobApp], JobClient],
    *,
    share: int | None = SHARE,
    clock: Clock = SYSTEM_CLOCK,
) -> tuple[JobApp, list[str], JobClient]:
    """:func:`make_app` on a fresh store, and a client of it with its storage created."""
    app, started = make_app(storage_of(kind, tmp_path), share=share, clock=clock)
    client = opened(app)
    await client.create_storage()
    return app, started, client


async def queue_many(client: JobClient, owner: str, count: int) -> list[QueuedJob]:
    return await client.queue_jobs(
        [JobSpec("tests.fair.work", {}, owner=owner) for _ in range(count)]
    )


async def places(client: JobClient, owner: str) -> set[str]:
    gate = await client.repository.limits.load_gate(SHARE_LIMIT, owner)
    return set() if gate is None else set(gate.holders)


async def test_an_owner_beyond_its_share_goes_to_the_overflow_queue_and_others_do_not(
    kind: str, tmp_path: Path, opened: Callable[[JobApp], JobClient]
) -> None:
    _app, _, client = await opened_app(kind, tmp_path, opened)

    big = await queue_many(client, "big", 10)
    one_more = await client.queue_job("tests.fair.work", {}, owner="big")
    small = await client.queue_job("tests.fair.work", {}, owner="small")

    assert [job.queue for job in big] == ["jobs"] * SHARE + ["jobs-over"] * (10 - SHARE)
    assert one_more.queue == "jobs-over"
    assert small.queue == "jobs"
    stored = [await client.get_job(job.id) for job in big]
    assert [job.queue for job in stored] == [job.queue for job in big]  # as the record says
    assert await places(client, "big") == {job.id for job in big[:SHARE]}
    assert await places(client, "small") == {small.id}
    assert await client.broker.queue("jobs").depth() == SHARE + 1
    assert await client.broker.queue("jobs-over").depth() == 10 - SHARE + 1


async def test_a_claimed_or_cancelled_job_gives_its_place_back_for_the_owners_next(
    kind: str, tmp_path: Path, opened: Callable[[JobApp], JobClient]
) -> None:
    app, _, client = await opened_app(kind, tmp_path, opened)
    first, second, third = await queue_many(client, "big", SHARE)
    pipeline = app.pipeline()

    try:
        await pipeline.handle_job(first.id)
        await client.cancel(second.id)
        await pipeline.settle()
    finally:
        await pipeline.repository.close()
        await pipeline.broker.close()

    assert await places(client, "big") == {third.id}
    later = await queue_many(client, "big", 3)
    assert [job.queue for job in later] == ["jobs", "jobs", "jobs-over"]


@pytest.mark.parametrize("delay", [None, timedelta(hours=2)])
async def test_a_place_whose_job_never_comes_is_free_again_the_hold_past_the_jobs_time(
    kind: str, tmp_path: Path, opened: Callable[[JobApp], JobClient], delay: timedelta | None
) -> None:
    """A job's time: its enqueue, or the end of its delay (a delayed job's message is in
    the ready queue, not visible yet: it keeps its place until then)."""
    clock = ManualClock()
    _app, _, client = await opened_app(kind, tmp_path, opened, share=1, clock=clock)
    await client.queue_job("tests.fair.work", {}, owner="big", delay=delay)  # never taken

    clock.advance((delay or timedelta(0)) + timedelta(minutes=29))
    assert (await client.queue_job("tests.fair.work", {}, owner="big")).queue == "jobs-over"
    clock.advance(timedelta(minutes=2))
    assert (await client.queue_job("tests.fair.work", {}, owner="big")).queue == "jobs"


async def test_a_job_scheduled_beyond_a_queues_delay_takes_its_place_when_it_is_queued(
    kind: str, tmp_path: Path, opened: Callable[[JobApp], JobClient]
) -> None:
    clock = ManualClock()
    app, _, client = await opened_app(kind, tmp_path, opened, share=1, clock=clock)
    later = MAX_DELAY + timedelta(days=1)
    scheduled = await client.queue_job("tests.fair.work", {}, owner="big", delay=later)
    taken = await client.queue_job("tests.fair.work", {}, owner="big")  # the place, now

    assert scheduled.status is JobStatus.SCHEDULED
    assert await places(client, "big") == {taken.id}
    clock.advance(timedelta(days=1, minutes=15))  # due, past the resend delay
    sweeper = Sweeper(
        client.repository,
        client.broker,
        clock=clock,
        settings=app.settings,
        admission=client.admission,
    )
    await sweeper.sweep()
    queued = await client.get_job(scheduled.id)
    assert queued.status is JobStatus.QUEUED
    assert queued.queue == "jobs"  # the place of the job that never came ran out a day ago
    assert await places(client, "big") == {scheduled.id}
    assert (await client.queue_job("tests.fair.work", {}, owner="big")).queue == "jobs-over"


async def test_a_retried_job_from_the_overflow_queue_takes_a_free_place(
    kind: str, tmp_path: Path, opened: Callable[[JobApp], JobClient]
) -> None:
    _app, _, client = await opened_app(kind, tmp_path, opened, share=1)
    first, spilled = await queue_many(client, "big", 2)
    await client.cancel(spilled.id)
    await client.cancel(first.id)  # its place comes back

    retried = await client.retry(spilled.id)

    assert (spilled.queue, retried.queue) == ("jobs-over", "jobs")
    assert await places(client, "big") == {spilled.id}


async def test_the_share_is_changed_at_run_time_like_a_limits_capacity(
    kind: str, tmp_path: Path, opened: Callable[[JobApp], JobClient]
) -> None:
    app, _, client = await opened_app(kind, tmp_path, opened, share=1)
    now = client.clock.now()
    await client.repository.limits.save_limit_settings(
        LimitSettings(limit=SHARE_LIMIT, capacity=4, updated_at=now)
    )

    fresh = opened(app)  # reads the settings (a host reads them at most every 5 s)
    jobs = await queue_many(fresh, "big", 6)

    assert [job.queue for job in jobs] == ["jobs"] * 4 + ["jobs-over"] * 2


@pytest.mark.parametrize("share", [SHARE, None])
async def test_a_worker_takes_a_small_owners_job_before_a_large_owners_backlog(
    kind: str, tmp_path: Path, opened: Callable[[JobApp], JobClient], share: int | None
) -> None:
    app, started, client = await opened_app(kind, tmp_path, opened, share=share)
    backlog = 40
    await queue_many(client, "big", backlog)
    await client.queue_job("tests.fair.work", {}, owner="small")
    worker = app.worker(
        WorkerSettings(concurrency=1, poll_max=timedelta(milliseconds=50), sweep_interval=None)
    )
    running = asyncio.create_task(worker.run())
    try:
        await until(lambda: len(started) == backlog + 1, "every job starting")
    finally:
        worker.stop()
        await running
        await worker.close()

    position = started.index("small")
    if share is None:  # the control: without the share the small job waits for all
        assert position == backlog
    else:  # behind the big owner's share, and at most one overflow fetch per 4 fetches
        assert position <= share + 2, started


async def test_without_a_share_nothing_is_kept_and_the_overflow_queue_is_not_drained(
    kind: str, tmp_path: Path, opened: Callable[[JobApp], JobClient]
) -> None:
    app, _, client = await opened_app(kind, tmp_path, opened, share=None)

    jobs = await queue_many(client, "big", 5)

    assert {job.queue for job in jobs} == {"jobs"}
    assert client.admission is None
    assert await places(client, "big") == set()
    worker = app.worker(WorkerSettings(sweep_interval=None))
    try:
        assert [queue.name for queue in worker.queues] == ["jobs-high", "jobs", "jobs-low"]
    finally:
        await worker.close()
    shared = make_app(MemoryStorage())[0].worker(WorkerSettings(sweep_interval=None))
    try:
        assert [queue.name for queue in shared.queues][-1] == "jobs-over"
    finally:
        await shared.close()


async def test_a_share_is_a_number_of_jobs_and_a_hold_within_bounds() -> None:
    for bad in (0, 1001, True, 2.5):
        with pytest.raises(ConfigurationError, match="owner share"):
            OwnerShare(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="hold"):
        OwnerShare(10, hold=timedelta(0))
    with pytest.raises(ValueError, match="owner_share"):
        ExecutionSettings(owner_share=10)  # type: ignore[arg-type]


async def test_an_applications_limit_may_not_take_the_shares_name() -> None:
    app = JobApp(MemoryStorage())

    async def code(request: dict[str, str]) -> None: ...

    with pytest.raises(ConfigurationError, match="owner share's own"):
        app.job(name="tests.fair.x", limits=[ConcurrencyLimit(SHARE_LIMIT, 2)])(code)


async def test_the_functions_blueprint_has_an_overflow_trigger_when_the_app_has_a_share() -> None:
    def bindings(app: JobApp) -> dict[str, str]:
        host_app = func.FunctionApp()
        host_app.register_functions(job_blueprint(app))
        return {
            f.get_function_name(): json.loads(f.get_function_json())["bindings"][0].get(
                "queueName", ""
            )
            for f in host_app.get_functions()
        }

    plain = bindings(JobApp(MemoryStorage()))
    shared = bindings(
        JobApp(MemoryStorage(), settings=replace(ExecutionSettings(), owner_share=OwnerShare()))
    )

    assert "queued_jobs_overflow" not in plain
    assert shared["queued_jobs_overflow"] == "%QUEUED_JOBS_QUEUE%-over"
    assert shared["queued_jobs_overflow_poison"] == "%QUEUED_JOBS_QUEUE%-over-poison"
    assert set(shared) - set(plain) == {"queued_jobs_overflow", "queued_jobs_overflow_poison"}


async def test_a_dead_letter_of_the_overflow_queue_is_kept_with_the_normal_bands(
    kind: str, tmp_path: Path, opened: Callable[[JobApp], JobClient]
) -> None:
    app, started, client = await opened_app(kind, tmp_path, opened)
    await client.broker.queue("jobs-over").send_wire("no job message at all")
    worker = app.worker(WorkerSettings(poll_max=timedelta(milliseconds=50), sweep_interval=None))
    running = asyncio.create_task(worker.run())
    dead = client.broker.queue("jobs-deadletter")
    try:
        async with asyncio.timeout(30):
            while await dead.depth() == 0:  # noqa: ASYNC110 - a queue's depth: nothing signals it
                await asyncio.sleep(0.02)
    finally:
        worker.stop()
        await running
        await worker.close()

    [letter] = await dead.peek()
    assert letter.body == "no job message at all"
    assert await client.broker.queue("jobs-over").depth() == 0
    assert started == []


async def test_the_share_is_listed_and_set_with_the_limits(
    kind: str, tmp_path: Path, opened: Callable[[JobApp], JobClient]
) -> None:
    app, _, client = await opened_app(kind, tmp_path, opened)
    admitted = await queue_many(client, "big", SHARE + 1)

    [share] = [limit for limit in await client.limits.list_limits() if limit.name == SHARE_LIMIT]
    [gate] = share.gates
    assert (share.kind, share.capacity) == ("concurrency", SHARE)
    assert gate.key == "big"
    assert {holder.job_id for holder in gate.holders} == {job.id for job in admitted[:SHARE]}
    assert not any(holder.started for holder in gate.holders)  # waiting in the queue

    await client.limits.set_limit(SHARE_LIMIT, capacity=SHARE + 2, by="ops")
    more = await queue_many(opened(app), "big", 3)  # a fresh host reads the setting
    assert [job.queue for job in more] == ["jobs", "jobs", "jobs-over"]


async def test_a_job_stored_twice_keeps_the_place_of_its_first_store(
    kind: str, tmp_path: Path, opened: Callable[[JobApp], JobClient]
) -> None:
    _app, _, client = await opened_app(kind, tmp_path, opened)
    job_id = new_job_id("big")
    first = await client.queue_job("tests.fair.work", {}, owner="big", job_id=job_id)

    with pytest.raises(JobAlreadyExists):  # a producer retrying after an error
        await client.queue_job("tests.fair.work", {}, owner="big", job_id=job_id)

    assert await places(client, "big") == {first.id}


async def test_any_owner_a_job_may_have_has_its_share(
    kind: str, tmp_path: Path, opened: Callable[[JobApp], JobClient]
) -> None:
    _app, _, client = await opened_app(kind, tmp_path, opened, share=1)
    owner = ("Ünïcode/owner:|@ " * 20)[:256]  # the longest an owner may be

    first, second = await queue_many(client, owner, 2)

    assert (first.queue, second.queue) == ("jobs", "jobs-over")
