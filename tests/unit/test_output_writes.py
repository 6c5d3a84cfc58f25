"""A job's output as its attempt writes it: throttled with its progress (output printed
within the interval goes in one write), the rest carried by the attempt's last write, and
no change of the feed carrying a text an earlier write added (a progress write, a lease
renewal, a cancellation request, a write given up that landed after all)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.context import JobContext
from queued_jobs.errors import PermanentError
from queued_jobs.execution.pipeline import Disposition, Pipeline
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.models import Attempt, JobChange, JobStatus, QueuedJob
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry
from tests.support.waiting import PATIENCE, forever

pytestmark = pytest.mark.asyncio

Code = Callable[[JobContext], Awaitable[object]]


class OutputStore(MemoryJobRepository):
    """Keeps the output length of every write of a running job, and tells of the writes
    a test waits for; with ``hold`` set, the write of a running job whose output ends with
    it lands and then never answers (a reply lost on the wire)."""

    def __init__(self, clock: ManualClock, *, hold: str | None = None) -> None:
        super().__init__(clock=clock)
        self.hold = hold
        self.held = asyncio.Event()
        #: The output length of each write of a running job (not its claim).
        self.running_writes: list[int] = []
        self._waiting: list[tuple[Callable[[], bool], asyncio.Event]] = []

    async def update(self, job: QueuedJob, *, attempt: Attempt | None = None) -> QueuedJob:
        before = await self.get(job.id)
        stored = await super().update(job, attempt=attempt)
        if job.status is JobStatus.RUNNING and before.status is JobStatus.RUNNING:
            self.running_writes.append(0 if job.output is None else job.output.length)
        for done, event in self._waiting:
            if done():
                event.set()
        output = job.output
        holding = self.hold is not None and output is not None and not self.held.is_set()
        if holding and job.status is JobStatus.RUNNING and output.text.endswith(self.hold or ""):
            self.held.set()
            await asyncio.Event().wait()  # never answers
        return stored

    async def until(self, done: Callable[[], bool]) -> None:
        """Until ``done()`` holds after a write (bounded)."""
        event = asyncio.Event()
        self._waiting.append((done, event))
        if not done():
            await asyncio.wait_for(event.wait(), PATIENCE)

    async def output_reaches(self, length: int) -> None:
        """Until a write of the running job stores an output of ``length`` characters."""
        await self.until(lambda: any(written >= length for written in self.running_writes))

    def output_writes(self) -> int:
        """How many writes of the running job changed its output."""
        lengths = self.running_writes
        return sum(1 for a, b in zip([0, *lengths], lengths, strict=False) if b != a)


def client_for(store: OutputStore, clock: ManualClock, code: Code) -> JobClient:
    registry = JobRegistry()

    @registry.job(name="print.lines")
    async def lines(request: int, context: JobContext) -> object:
        return await code(context)

    return JobClient(store, MemoryQueueBroker(clock=clock), registry, clock=clock)


def pipeline_of(client: JobClient, **settings: timedelta) -> Pipeline:
    return Pipeline(
        client.repository,
        client.broker,
        client.registry,
        host="test:1",
        clock=client.clock,
        settings=ExecutionSettings(**settings),
    )


async def run_next(client: JobClient, **settings: timedelta) -> Disposition:
    [message] = await client.broker.queue("jobs").receive()
    async with asyncio.timeout(PATIENCE):
        handled = await pipeline_of(client, **settings).handle(message.body)
    return handled.disposition


async def feed_of(store: OutputStore, job_id: str) -> list[JobChange]:
    [partition] = store.change_partitions()
    batch = await store.read_changes(partition, after=None, limit=1000)
    return [change for change in batch.changes if change.job_id == job_id]


async def test_output_printed_within_the_interval_goes_in_one_write() -> None:
    clock = ManualClock()
    store = OutputStore(clock)
    lines = [f"line {n}\n" for n in range(5)]
    total = len("first\n") + sum(map(len, lines))

    async def code(context: JobContext) -> str:
        await context.append_output("first\n")  # the first report is written at once
        for line in lines:
            await context.append_output(line)  # within the interval: held, then one write
        await store.output_reaches(total)
        return "ok"

    client = client_for(store, clock, code)
    job = await client.queue_job("print.lines", 1, owner="alice")

    assert await run_next(client, progress_interval=timedelta(milliseconds=100)) is Disposition.ACK

    assert store.output_writes() == 2
    done = await store.get(job.id)
    assert done.output is not None
    assert (done.output.text, done.output.length) == ("first\n" + "".join(lines), total)
    carried = [c.output for c in await feed_of(store, job.id) if c.output is not None]
    assert carried == ["first\n", "".join(lines)]


@pytest.mark.parametrize("ends", ["returns", "raises"])
async def test_the_last_write_of_an_attempt_carries_the_output_held_back(ends: str) -> None:
    clock = ManualClock()
    store = OutputStore(clock)

    async def code(context: JobContext) -> str:
        await context.append_output("one\n")
        await context.append_output("two\n")  # held: the interval is an hour
        await context.append_output("three\n")
        if ends == "raises":
            raise PermanentError("no more")
        return "ok"

    client = client_for(store, clock, code)
    job = await client.queue_job("print.lines", 1, owner="alice")

    assert await run_next(client, progress_interval=timedelta(hours=1)) is Disposition.ACK

    done = await store.get(job.id)
    assert done.status is (JobStatus.SUCCEEDED if ends == "returns" else JobStatus.FAILED)
    assert done.output is not None
    assert (done.output.text, done.output.length) == ("one\ntwo\nthree\n", 14)
    assert store.output_writes() == 1  # the first report; the rest went with the end
    [*_, last] = await feed_of(store, job.id)
    assert (last.status, last.output, last.output_length) == (done.status, "two\nthree\n", 14)


async def test_a_progress_write_after_output_carries_no_text_again() -> None:
    clock = ManualClock()
    store = OutputStore(clock)
    progressed = asyncio.Event()

    async def code(context: JobContext) -> str:
        await context.append_output("hello\n")
        await context.report_progress(50, "half")  # held, then written alone
        while not any(c.progress for c in await feed_of(store, context.job.id)):
            await store.await_change(context.job.id, PATIENCE)
        progressed.set()
        return "ok"

    client = client_for(store, clock, code)
    job = await client.queue_job("print.lines", 1, owner="alice")

    assert await run_next(client, progress_interval=timedelta(milliseconds=20)) is Disposition.ACK

    assert progressed.is_set()
    changes = await feed_of(store, job.id)
    assert [(c.status, c.output, c.progress is not None) for c in changes] == [
        (JobStatus.QUEUED, None, False),
        (JobStatus.RUNNING, None, False),
        (JobStatus.RUNNING, "hello\n", False),
        (JobStatus.RUNNING, None, True),
        (JobStatus.SUCCEEDED, None, True),
    ]
    done = await store.get(job.id)
    assert done.output is not None
    assert (done.output.text, done.output.new) == ("hello\n", 0)


async def test_lease_renewals_after_output_record_no_change() -> None:
    clock = ManualClock()
    store = OutputStore(clock)

    async def code(context: JobContext) -> str:
        await context.append_output("hello\n")
        await store.until(lambda: len(store.running_writes) >= 3)  # output, two renewals
        return "ok"

    client = client_for(store, clock, code)
    job = await client.queue_job("print.lines", 1, owner="alice")

    renewing = {"heartbeat": timedelta(milliseconds=20), "lease": timedelta(seconds=30)}
    assert await run_next(client, **renewing) is Disposition.ACK

    changes = await feed_of(store, job.id)
    assert [(c.status, c.output) for c in changes] == [
        (JobStatus.QUEUED, None),
        (JobStatus.RUNNING, None),
        (JobStatus.RUNNING, "hello\n"),
        (JobStatus.SUCCEEDED, None),
    ]


async def test_a_cancellation_request_after_output_carries_no_text_again() -> None:
    clock = ManualClock()
    store = OutputStore(clock)
    printed = asyncio.Event()

    async def code(context: JobContext) -> str:
        await context.append_output("working\n")
        printed.set()
        await forever()  # until the attempt stops it
        return "never"

    client = client_for(store, clock, code)
    job = await client.queue_job("print.lines", 1, owner="alice")
    handling = asyncio.create_task(run_next(client, heartbeat=timedelta(milliseconds=20)))
    await asyncio.wait_for(printed.wait(), PATIENCE)

    await client.cancel(job.id)

    assert await handling is Disposition.ACK
    changes = await feed_of(store, job.id)
    asked = [c for c in changes if c.cancel_requested and c.status is JobStatus.RUNNING]
    assert [(c.output, c.output_length) for c in asked] == [(None, None)]
    assert [c.output for c in changes if c.output is not None] == ["working\n"]
    assert changes[-1].status is JobStatus.CANCELLED


async def test_output_of_a_write_given_up_that_landed_is_not_written_twice() -> None:
    clock = ManualClock()
    store = OutputStore(clock, hold="LAST\n")

    async def code(context: JobContext) -> str:
        await context.append_output("one\n")
        await context.append_output("LAST\n")  # its write lands, then never answers
        await asyncio.wait_for(store.held.wait(), PATIENCE)
        return "ok"

    client = client_for(store, clock, code)
    job = await client.queue_job("print.lines", 1, owner="alice")

    settings = {"progress_interval": timedelta(milliseconds=10)}
    assert await run_next(client, hook_timeout=timedelta(milliseconds=50), **settings) is (
        Disposition.ACK
    )

    done = await store.get(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.output is not None
    assert (done.output.text, done.output.length) == ("one\nLAST\n", 9)
