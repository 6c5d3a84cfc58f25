"""Hooks that misbehave (raise ``SystemExit`` or ``KeyboardInterrupt``, never return, swallow
their cancellation, block in a plain ``def``) neither end nor wedge the worker, and never
change what is stored of their job."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from queued_jobs.client import JobClient
from queued_jobs.context import JobContext
from queued_jobs.errors import PermanentError
from queued_jobs.execution.detached import detached_count
from queued_jobs.execution.hooks import call_hook
from queued_jobs.execution.pipeline import Pipeline, StatusListener
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.models import AttemptOutcome, JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry, JobRunner
from queued_jobs.worker import Worker, WorkerSettings
from tests.support.waiting import forever

#: A short lease on the real clock: a hook that outlived it would get its job taken over.
SETTINGS = ExecutionSettings(lease=timedelta(seconds=1.5), stop_timeout=timedelta(milliseconds=200))
FAST = WorkerSettings(
    concurrency=2,
    sweep_interval=None,
    poll_min=timedelta(milliseconds=5),
    poll_max=timedelta(milliseconds=50),
    shutdown_grace=timedelta(seconds=1),
)
HOOKS = ["on_status_updated", "before", "after", "on_success", "on_error", "on_failure"]


@dataclass
class Misbehaviour:
    """Which hooks of :class:`Hostile` misbehave (names, comma-separated), and what they do."""

    hook: str = ""
    act: Callable[[], Any] | None = None
    calls: list[str] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)


class Hostile(JobRunner[str, str]):
    """Succeeds (request ``"ok"``), fails for good (``"fail"``) or runs until it is halted
    (``"wait"``); one hook misbehaves."""

    job_type = "hostile"
    plan: ClassVar[Misbehaviour] = Misbehaviour()

    async def on_execute(self, request: str, context: JobContext) -> str:
        if request == "fail":
            raise PermanentError("it fails, as asked")
        if request == "wait":
            self.plan.started.set()
            await forever()
        return "done"

    async def _hook(self, name: str) -> None:
        self.plan.calls.append(name)
        if name in self.plan.hook.split(",") and self.plan.act is not None:
            await self.plan.act()

    async def on_status_updated(self, job: QueuedJob) -> None:
        if job.status is JobStatus.RUNNING:  # in the claim, before the run
            await self._hook("on_status_updated")

    async def before(self, context: JobContext) -> None:
        await self._hook("before")

    async def after(self, context: JobContext) -> None:
        await self._hook("after")

    async def on_success(self, context: JobContext, result: str) -> None:
        await self._hook("on_success")

    async def on_error(self, context: JobContext, error: BaseException) -> None:
        await self._hook("on_error")

    async def on_failure(self, context: JobContext, error: BaseException) -> None:
        await self._hook("on_failure")

    async def on_halt(self, context: JobContext) -> None:
        await self._hook("on_halt")


@pytest.fixture
async def plan() -> AsyncIterator[Misbehaviour]:
    Hostile.plan = made = Misbehaviour()
    yield made
    made.released.set()  # lets a detached hook end
    async with asyncio.timeout(20):
        while detached_count():  # noqa: ASYNC110 - a count no event tells of
            await asyncio.sleep(0.01)


@pytest.fixture
def client() -> JobClient:
    registry = JobRegistry()
    registry.register(Hostile)

    @registry.job(name="echo")
    async def echo(request: int) -> int:
        return request

    return JobClient(MemoryJobRepository(), MemoryQueueBroker(), registry, settings=SETTINGS)


def worker_for(
    client: JobClient,
    *,
    listeners: list[StatusListener] | None = None,
    host: str = "test:1",
    **settings: Any,
) -> Worker:
    pipeline = Pipeline(
        client.repository,
        client.broker,
        client.registry,
        host=host,
        settings=replace(SETTINGS, **settings),
        listeners=listeners or (),
    )
    return Worker(pipeline, [client.broker.queue("jobs")], settings=FAST)


async def run_until_finished(client: JobClient, worker: Worker, jobs: list[QueuedJob]) -> None:
    """Run ``worker`` until every job of ``jobs`` finished; fails if the worker ends first."""
    running = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(20):
            for job in jobs:
                while not (await client.get_job(job.id)).is_terminal:
                    if running.done():
                        running.result()  # the worker ended: say why
                        pytest.fail("the worker stopped by itself")
                    await asyncio.sleep(0.01)
        assert not running.done()
    finally:
        worker.stop()
        async with asyncio.timeout(20):
            await running


async def neighbours(client: JobClient, count: int = 4) -> list[QueuedJob]:
    return [await client.queue_job("echo", n, owner="b") for n in range(count)]


async def assert_all_ran(client: JobClient, jobs: list[QueuedJob]) -> None:
    for job in jobs:
        stored = await client.get_job(job.id)
        assert (stored.status, stored.attempts, stored.lease_owner) == (
            JobStatus.SUCCEEDED,
            1,
            None,
        )


async def assert_recorded(client: JobClient, job: QueuedJob, request: str) -> None:
    stored = await client.get_job(job.id)
    attempts = await client.repository.list_attempts(job.id)
    if request == "ok":
        assert (stored.status, stored.result, stored.error) == (JobStatus.SUCCEEDED, "done", None)
    else:
        assert stored.status is JobStatus.FAILED
        assert stored.error is not None
        assert stored.error.message == "it fails, as asked"
    assert (stored.attempts, len(attempts), stored.lease_owner) == (1, 1, None)


def _request_for(hook: str) -> str:
    return "fail" if hook in ("on_error", "on_failure") else "ok"


def _raising(error: BaseException) -> Callable[[], Any]:
    async def act() -> None:
        raise error

    return act


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize(
    "error", [SystemExit(7), KeyboardInterrupt()], ids=["system-exit", "keyboard-interrupt"]
)
async def test_a_hook_raising_a_base_exception_neither_ends_the_worker_nor_changes_its_job(
    client: JobClient, plan: Misbehaviour, hook: str, error: BaseException
) -> None:
    plan.hook, plan.act = hook, _raising(error)
    request = _request_for(hook)
    job = await client.queue_job(Hostile, request, owner="a")
    others = await neighbours(client)

    await run_until_finished(client, worker_for(client), [job, *others])

    assert hook in plan.calls
    await assert_recorded(client, job, request)
    await assert_all_ran(client, others)


async def test_an_on_halt_hook_raising_system_exit_lets_its_worker_stop_and_hand_the_job_back(
    client: JobClient, plan: Misbehaviour
) -> None:
    plan.hook, plan.act = "on_halt", _raising(SystemExit(7))
    job = await client.queue_job(Hostile, "wait", owner="a")
    worker = worker_for(client)
    running = asyncio.create_task(worker.run())
    async with asyncio.timeout(20):
        await plan.started.wait()
        worker.stop()  # halted after the grace: it is handed back, and on_halt raises
        await running

    assert plan.calls[-2:] == ["on_halt", "after"]
    handed_back = await client.get_job(job.id)
    assert (handed_back.status, handed_back.lease_owner) == (JobStatus.QUEUED, None)
    attempts = await client.repository.list_attempts(job.id)
    assert [a.outcome for a in attempts] == [AttemptOutcome.RELEASED]


async def test_a_listener_raising_system_exit_neither_ends_the_worker_nor_changes_a_job(
    client: JobClient,
) -> None:
    heard: list[JobStatus] = []

    async def exiting(job: QueuedJob) -> None:
        heard.append(job.status)
        raise SystemExit(7)

    jobs = await neighbours(client)

    await run_until_finished(client, worker_for(client, listeners=[exiting]), jobs)

    await assert_all_ran(client, jobs)
    assert heard.count(JobStatus.SUCCEEDED) == len(jobs)


@pytest.mark.parametrize("hook", HOOKS)
async def test_a_hook_that_never_returns_is_cancelled_at_its_bound_and_its_job_runs_once(
    client: JobClient, plan: Misbehaviour, hook: str
) -> None:
    cancelled = 0

    async def hang() -> None:
        nonlocal cancelled
        try:
            await forever()
        except asyncio.CancelledError:
            cancelled += 1
            raise

    plan.hook, plan.act = hook, hang
    request = _request_for(hook)
    hanging = [await client.queue_job(Hostile, request, owner="a") for _ in range(2)]
    others = await neighbours(client)  # they need a slot the hanging hooks took first

    # the default bound (a third of the 1.5s lease): no job is taken over meanwhile
    await run_until_finished(client, worker_for(client), [*hanging, *others])

    assert cancelled == 2
    for job in hanging:
        await assert_recorded(client, job, request)
    await assert_all_ran(client, others)


async def test_the_claims_hooks_run_under_the_lease_however_long_they_take_in_all(
    client: JobClient, plan: Misbehaviour
) -> None:
    cancelled = 0

    async def hang() -> None:
        nonlocal cancelled
        try:
            await forever()
        except asyncio.CancelledError:
            cancelled += 1
            raise

    plan.hook, plan.act = "on_status_updated,before", hang
    job = await client.queue_job(Hostile, "ok", owner="a")
    others = await neighbours(client)

    # each within its bound, both together past the 1.5s lease: the heartbeat renews it, so
    # a second worker, idle, never sees the job's message come back to take it over
    bound = timedelta(seconds=1.2)
    idle = worker_for(client, host="test:2", hook_timeout=bound)
    second = asyncio.create_task(idle.run())
    try:
        await run_until_finished(client, worker_for(client, hook_timeout=bound), [job, *others])
    finally:
        idle.stop()
        async with asyncio.timeout(20):
            await second

    assert cancelled == 2
    await assert_recorded(client, job, "ok")  # one attempt: never taken over
    await assert_all_ran(client, others)


async def test_hooks_that_hang_on_every_job_never_hold_both_slots_for_good(
    client: JobClient, plan: Misbehaviour
) -> None:
    async def hang() -> None:
        await forever()

    plan.hook, plan.act = "on_status_updated", hang
    jobs = [await client.queue_job(Hostile, "ok", owner="a") for _ in range(4)]
    others = await neighbours(client)

    await run_until_finished(client, worker_for(client), [*jobs, *others])

    for job in jobs:
        await assert_recorded(client, job, "ok")
    await assert_all_ran(client, others)


async def test_a_hook_that_swallows_its_cancellation_is_left_detached_and_the_job_goes_on(
    client: JobClient, plan: Misbehaviour
) -> None:
    refused = asyncio.Event()

    async def stubborn() -> None:
        while not plan.released.is_set():
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                refused.set()

    plan.hook, plan.act = "on_status_updated", stubborn
    job = await client.queue_job(Hostile, "ok", owner="a")
    others = await neighbours(client)

    await run_until_finished(client, worker_for(client), [job, *others])

    assert refused.is_set()
    assert detached_count() == 1  # still running, on its own
    await assert_recorded(client, job, "ok")
    await assert_all_ran(client, others)


async def test_a_plain_def_listener_that_blocks_runs_in_a_thread_and_the_worker_goes_on(
    client: JobClient,
) -> None:
    blocked, released, ended = threading.Event(), threading.Event(), threading.Event()

    def blocking(job: QueuedJob) -> None:
        if job.status is JobStatus.RUNNING and not blocked.is_set():
            blocked.set()
            released.wait(30)
            ended.set()

    first = await client.queue_job("echo", 0, owner="a")
    others = await neighbours(client)
    worker = worker_for(client, listeners=[blocking])
    try:
        await run_until_finished(client, worker, [first, *others])
        assert blocked.is_set()
        assert not ended.is_set()  # the others ran while it blocked
    finally:
        released.set()
    await assert_all_ran(client, [first, *others])


def test_a_hook_bound_must_be_shorter_than_the_lease() -> None:
    lease = timedelta(seconds=30)
    assert ExecutionSettings(lease=lease).hook_seconds == 10
    assert ExecutionSettings(lease=lease, hook_timeout=timedelta(seconds=2)).hook_seconds == 2
    for bad in (timedelta(0), timedelta(seconds=-1), lease, 2 * lease):
        with pytest.raises(ValueError, match="hook_timeout"):
            ExecutionSettings(lease=lease, hook_timeout=bad)


async def test_call_hook_passes_the_cancellation_of_its_caller_on_to_the_hook() -> None:
    entered, cancelled = asyncio.Event(), asyncio.Event()

    async def hook() -> None:
        entered.set()
        try:
            await forever()
        finally:
            cancelled.set()

    caller = asyncio.create_task(call_hook(hook, seconds=3600))
    async with asyncio.timeout(20):
        await entered.wait()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        await cancelled.wait()
