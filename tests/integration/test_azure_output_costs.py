"""What a job's output costs in storage requests on Azure: printing adds no request of its
own (what is printed within the progress interval goes in one write, the rest in the
attempt's last write), and reading it is one request a read."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.context import JobContext
from queued_jobs.execution.pipeline import Disposition, Pipeline
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.azure_table import AzureTableJobRepository
from queued_jobs.runner import JobRegistry
from tests.integration.test_azure_table_costs import counted
from tests.support.counting import RequestCounter
from tests.support.waiting import PATIENCE

pytestmark = [pytest.mark.asyncio, pytest.mark.azurite]
__all__ = ["counted"]  # the fixture, shared with the other cost tests

LINES = 200


def _registry(pause: float = 0.0) -> JobRegistry:
    registry = JobRegistry()

    @registry.job(name="quiet")
    async def quiet(request: int) -> int:
        return request

    @registry.job(name="chatty")
    async def chatty(request: int, context: JobContext) -> int:
        for n in range(request):
            await context.append_output(f"line {n}: some work done\n")
            await asyncio.sleep(pause)
        return request

    @registry.job(name="progressing")
    async def progressing(request: int, context: JobContext) -> int:
        for n in range(request):
            await context.report_progress(100 * n / request, f"line {n}")
            await asyncio.sleep(pause)
        return request

    return registry


async def _run(
    repo: AzureTableJobRepository,
    counter: RequestCounter,
    job_type: str,
    *,
    interval: timedelta,
    pause: float = 0.0,
) -> tuple[int, str]:
    """The table requests of running one job of ``job_type`` (claim to its end), and its id."""
    clock = ManualClock()
    broker = MemoryQueueBroker(clock=clock)
    registry = _registry(pause)
    client = JobClient(repo, broker, registry, clock=clock)
    job = await client.queue_job(job_type, LINES, owner="ada")
    [message] = await broker.queue("jobs").receive()
    settings = ExecutionSettings(progress_interval=interval, heartbeat=timedelta(minutes=10))
    pipeline = Pipeline(repo, broker, registry, host="t:1", clock=clock, settings=settings)
    counter.reset()
    async with asyncio.timeout(PATIENCE):
        handled = await pipeline.handle(message.body)
    assert handled.disposition is Disposition.ACK
    return counter.total, job.id


async def test_printing_within_the_interval_costs_one_write_like_progress_does(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    hour = timedelta(hours=1)

    quiet, _ = await _run(repo, counter, "quiet", interval=hour)
    chatty, job_id = await _run(repo, counter, "chatty", interval=hour)
    progressing, _ = await _run(repo, counter, "progressing", interval=hour)

    # The first line is written at once; the other 199 go with the attempt's last write.
    assert chatty == quiet + 1 == progressing
    done = await repo.get(job_id)
    assert done.output is not None
    assert done.output.length == sum(len(f"line {n}: some work done\n") for n in range(LINES))


async def test_printing_for_a_while_costs_a_write_per_interval_at_most(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    interval = timedelta(milliseconds=300)

    quiet, _ = await _run(repo, counter, "quiet", interval=interval)
    began = time.monotonic()
    chatty, _ = await _run(repo, counter, "chatty", interval=interval, pause=0.01)
    took = time.monotonic() - began

    assert 1 <= chatty - quiet <= took / interval.total_seconds() + 2


async def test_reading_a_job_s_output_costs_one_request_a_read(
    counted: tuple[AzureTableJobRepository, RequestCounter],
) -> None:
    repo, counter = counted
    _, job_id = await _run(repo, counter, "chatty", interval=timedelta(hours=1))
    client = JobClient(repo, MemoryQueueBroker(), _registry())

    counter.reset()
    read = await client.read_output(job_id, after=100)
    assert counter.total == 1
    counter.reset()
    followed = [r async for r in client.follow_output(job_id)]  # finished: one read

    assert counter.total == 1
    assert read.complete
    assert [r.complete for r in followed] == [True]
