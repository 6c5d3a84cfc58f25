"""Every attempt's end is logged at INFO: a worker's log tells what each attempt did."""

from __future__ import annotations

import logging

import pytest

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.errors import PermanentError
from queued_jobs.execution.pipeline import Pipeline
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry

calls: list[int] = []


@pytest.fixture
def client() -> JobClient:
    registry = JobRegistry()

    @registry.job(name="shop.flaky", max_attempts=3)
    def flaky(request: int) -> int:
        calls.append(request)
        if len(calls) < 3:
            raise ValueError(f"try {len(calls)} broke\x1b[31m\nFORGED line")
        return request * 2

    @registry.job(name="shop.doomed")
    def doomed(request: int) -> int:
        raise PermanentError("the order does not exist")

    clock = ManualClock()
    return JobClient(
        MemoryJobRepository(clock=clock),
        MemoryQueueBroker(clock=clock),
        registry,
        clock=clock,
        inline=True,
    )


def _attempt_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "queued_jobs.execution"
        and record.levelno == logging.INFO
        and " attempt " in record.getMessage()
    ]


async def test_each_attempt_of_a_retried_job_logs_its_end_with_its_outcome_and_error(
    client: JobClient, caplog: pytest.LogCaptureFixture
) -> None:
    calls.clear()
    with caplog.at_level(logging.INFO, logger="queued_jobs.execution"):
        job = await client.queue_job("shop.flaky", 4, owner="ann")
    lines = _attempt_lines(caplog)
    assert len(lines) == 3
    for number, line in enumerate(lines, start=1):
        assert line.startswith(f"job {job.id} (shop.flaky) attempt {number} ")
        assert "s" in line.split(" in ", 1)[1]
    assert " failed in " in lines[0]
    assert "ValueError: 'try 1 broke\\x1b[31m\\nFORGED line'" in lines[0]
    assert "; retry at " in lines[0]
    assert " succeeded in " in lines[2]
    assert lines[2].endswith("; job succeeded")
    assert all("\x1b" not in line and "\n" not in line for line in lines)


async def test_a_permanent_failure_logs_its_error_type_and_that_the_job_failed(
    client: JobClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="queued_jobs.execution"):
        job = await client.queue_job("shop.doomed", 1, owner="ann")
    (line,) = _attempt_lines(caplog)
    assert line.startswith(f"job {job.id} (shop.doomed) attempt 1 failed in ")
    assert "queued_jobs.errors.PermanentError: 'the order does not exist'" in line
    assert line.endswith("; job failed")


async def test_a_huge_error_message_is_cut_in_the_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = JobRegistry()

    @registry.job(name="shop.loud")
    def loud(request: int) -> int:
        raise PermanentError("x" * 100_000)

    clock = ManualClock()
    client = JobClient(
        MemoryJobRepository(clock=clock),
        MemoryQueueBroker(clock=clock),
        registry,
        clock=clock,
        inline=True,
    )
    with caplog.at_level(logging.INFO, logger="queued_jobs.execution"):
        await client.queue_job("shop.loud", 1, owner="ann")
    (line,) = _attempt_lines(caplog)
    assert len(line) < 1000
    assert "x…'" in line


async def test_a_job_whose_type_this_worker_does_not_know_logs_that_it_cannot_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    producer = JobRegistry()

    @producer.job(name="shop.gone")
    def gone(request: int) -> int:
        return request

    clock = ManualClock()
    repository, broker = MemoryJobRepository(clock=clock), MemoryQueueBroker(clock=clock)
    job = await JobClient(repository, broker, producer, clock=clock).queue_job(
        "shop.gone", 1, owner="ann"
    )
    worker = Pipeline(repository, broker, JobRegistry(), host="box:1", clock=clock)
    with caplog.at_level(logging.INFO, logger="queued_jobs.execution"):
        await worker.handle_job(job.id)
    (line,) = _attempt_lines(caplog)
    assert line.startswith(f"job {job.id} (shop.gone) attempt 1 failed in ")
    assert ": cannot run: queued_jobs.errors.UnknownJobType: " in line
    assert line.endswith("; job failed")
