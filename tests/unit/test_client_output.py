"""Reading a job's output through the client: what followed a position, with how much the
record no longer holds; following it while the job runs, read by read, until the job ends;
and the sync twin's same verbs."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest

from queued_jobs import SyncJobClient
from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.context import JobContext
from queued_jobs.errors import InvalidInput, JobNotFound
from queued_jobs.execution.pipeline import Pipeline
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.models import (
    MAX_OUTPUT_POSITION,
    OUTPUT_TAIL_LIMIT,
    JobOutput,
    JobStatus,
    OutputRead,
    QueuedJob,
)
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry
from queued_jobs.waiting import DEFAULT_BACKOFF
from tests.support.waiting import PATIENCE

LINES = [f"line {n:04d}\n" for n in range(1_500)]  # 15,000 characters: more than kept
FAST = ExecutionSettings(progress_interval=timedelta(milliseconds=10))


class CountingRepository(MemoryJobRepository):
    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock=clock)
        self.reads = 0

    async def get(self, job_id: str) -> QueuedJob:
        self.reads += 1
        return await super().get(job_id)


def registry_with(gates: dict[int, asyncio.Event] | None = None) -> JobRegistry:
    registry = JobRegistry()

    @registry.job(name="print.all")
    async def print_all(request: int, context: JobContext) -> str:
        for line in LINES[:request]:
            await context.append_output(line)
        return "printed"

    @registry.job(name="print.gated")
    async def print_gated(request: int, context: JobContext) -> str:
        """Prints a line, then waits until the test has read it, ``request`` times."""
        for n in range(request):
            await context.append_output(LINES[n])
            if gates is not None:
                await asyncio.wait_for(gates[n].wait(), PATIENCE)
        return "printed"

    return registry


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def repository(clock: ManualClock) -> CountingRepository:
    return CountingRepository(clock)


async def finished(repository: CountingRepository, lines: int) -> QueuedJob:
    client = JobClient(repository, MemoryQueueBroker(), registry_with(), inline=True)
    return await client.queue_job("print.all", lines, owner="alice")


@pytest.mark.asyncio
async def test_a_read_gives_what_followed_a_position_and_how_much_was_not_kept(
    repository: CountingRepository,
) -> None:
    job = await finished(repository, len(LINES))
    client = JobClient(repository, MemoryQueueBroker(), registry_with())
    whole = "".join(LINES)

    read = await client.read_output(job.id)

    assert (read.job_id, read.status, read.complete) == (job.id, JobStatus.SUCCEEDED, True)
    assert read.length == len(whole)
    assert read.skipped == len(whole) - len(read.text) > 0
    assert whole.endswith(read.text)
    assert len(read.text) <= OUTPUT_TAIL_LIMIT
    last = await client.read_output(job.id, after=len(whole) - len(LINES[-1]))
    assert (last.text, last.skipped) == (LINES[-1], 0)
    assert (await client.read_output(job.id, after=read.length)).text == ""


@pytest.mark.asyncio
@pytest.mark.parametrize("after", [-1, MAX_OUTPUT_POSITION + 1], ids=["negative", "too-large"])
async def test_a_read_from_a_position_no_reader_can_have_is_refused_before_any_read(
    repository: CountingRepository, after: int
) -> None:
    job = await finished(repository, 1)
    client = JobClient(repository, MemoryQueueBroker(), registry_with())
    repository.reads = 0

    with pytest.raises(InvalidInput, match="position in a job's output"):
        await client.read_output(job.id, after=after)
    with pytest.raises(InvalidInput):
        await anext(client.follow_output(job.id, after=after))

    assert repository.reads == 0


@pytest.mark.asyncio
async def test_reading_the_output_of_no_job_is_job_not_found(
    repository: CountingRepository,
) -> None:
    client = JobClient(repository, MemoryQueueBroker(), registry_with())

    for job_id in ("0" * 29, "not-an-id"):
        with pytest.raises(JobNotFound):
            await client.read_output(job_id)


@pytest.mark.asyncio
async def test_following_a_running_job_yields_each_line_as_it_is_written_then_its_end(
    repository: CountingRepository, clock: ManualClock
) -> None:
    count = 5
    gates = {n: asyncio.Event() for n in range(count)}
    registry = registry_with(gates)
    client = JobClient(repository, MemoryQueueBroker(clock=clock), registry, clock=clock)
    job = await client.queue_job("print.gated", count, owner="alice")
    [message] = await client.broker.queue("jobs").receive()
    pipeline = Pipeline(repository, client.broker, registry, host="t:1", clock=clock, settings=FAST)
    running = asyncio.create_task(pipeline.handle(message.body))
    repository.reads = 0

    reads: list[OutputRead] = []
    async with asyncio.timeout(PATIENCE):
        async for read in client.follow_output(job.id):
            reads.append(read)
            seen = "".join(r.text for r in reads)
            for n in range(count):
                if seen.endswith(LINES[n]):
                    gates[n].set()  # the job prints its next line only once this one is seen
    await running

    assert "".join(r.text for r in reads) == "".join(LINES[:count])
    assert [r.skipped for r in reads] == [0] * len(reads)
    assert [r.complete for r in reads][-1] is True
    assert not any(r.complete for r in reads[:-1])
    assert reads[-1].status is JobStatus.SUCCEEDED
    # A pause ends when the job is written: a read or two per write, never a polling loop.
    assert repository.reads <= 4 * (count + 3)


@pytest.mark.asyncio
async def test_following_a_finished_job_yields_one_complete_read(
    repository: CountingRepository,
) -> None:
    job = await finished(repository, 3)
    client = JobClient(repository, MemoryQueueBroker(), registry_with())

    reads = [read async for read in client.follow_output(job.id, after=len(LINES[0]))]

    assert [(r.text, r.complete) for r in reads] == [("".join(LINES[1:3]), True)]


@pytest.mark.asyncio
async def test_a_follower_s_reads_back_off_while_nothing_is_printed_and_hold_while_it_is(
    repository: CountingRepository, clock: ManualClock
) -> None:
    job = await repository.insert(QueuedJob.new(owner="alice", job_type="t", now=clock.now()))
    job = await repository.update(job.transition(JobStatus.RUNNING, now=clock.now()))
    paused: list[float] = []
    prints = {3: "a\n", 4: "b\n", 5: "c\n"}  # printed while the follower pauses

    async def pause(job_id: str, seconds: float) -> None:
        nonlocal job
        paused.append(seconds)
        output = job.output or JobOutput()
        if (text := prints.get(len(paused))) is not None:
            job = await repository.update(job.changed(output=output.appended(text)))
        elif len(paused) == 8:
            job = await repository.update(job.transition(JobStatus.SUCCEEDED, now=clock.now()))

    client = JobClient(repository, MemoryQueueBroker(), JobRegistry(), clock=clock)
    backoff = dataclasses.replace(DEFAULT_BACKOFF, pause=pause)

    reads = [read async for read in client.follow_output(job.id, poll=backoff)]

    assert [r.text for r in reads] == ["a\n", "b\n", "c\n", ""]
    first, factor = DEFAULT_BACKOFF.first.total_seconds(), DEFAULT_BACKOFF.factor
    grown = [first * factor**n for n in range(3)]
    held = [grown[-1]] * 3  # the output moved at each of these reads: the pace holds
    assert paused == pytest.approx([first, *grown[1:], *held, held[-1] * factor, held[-1] * 2.25])


@pytest.fixture
def sync_client(repository: CountingRepository) -> Iterator[SyncJobClient]:
    with SyncJobClient(
        lambda: JobClient(repository, MemoryQueueBroker(), registry_with(), inline=True)
    ) as client:
        yield client


def test_the_sync_client_reads_and_follows_a_job_s_output(sync_client: SyncJobClient) -> None:
    job = sync_client.queue_job("print.all", 2, owner="alice")

    read = sync_client.read_output(job.id, after=len(LINES[0]))
    followed = list(sync_client.follow_output(job.id))

    assert (read.text, read.skipped, read.complete) == (LINES[1], 0, True)
    assert [(r.text, r.complete) for r in followed] == [("".join(LINES[:2]), True)]
