"""A job's spans and counts, on in-memory stores and in-memory exporters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from queued_jobs import ExecutionSettings, JobApp, MemoryStorage
from queued_jobs.context import JobContext
from queued_jobs.retry import RetryPolicy
from queued_jobs.telemetry import names
from tests.support.telemetry import Recorded


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


def make_app(recorded: Recorded) -> JobApp:
    settings = ExecutionSettings(
        telemetry=recorded.telemetry,
        retry=RetryPolicy(first=timedelta(milliseconds=1), jitter=0),
    )
    app = JobApp(MemoryStorage(), settings=settings)
    calls = {"flaky": 0}

    @app.job(name="tests.flaky", max_attempts=3)
    async def flaky(request: int, context: JobContext) -> int:
        calls["flaky"] += 1
        with recorded.tracer_provider.get_tracer("tests").start_as_current_span("inside"):
            if calls["flaky"] == 1:
                raise ValueError("first try fails")
        return request * 2

    return app


async def test_a_retried_job_is_one_trace_from_its_send_to_each_attempt(
    recorded: Recorded,
) -> None:
    app = make_app(recorded)
    outer = recorded.tracer_provider.get_tracer("tests")
    async with app.client(inline=True) as client:
        with outer.start_as_current_span("request") as request_span:
            job = await client.queue_job("tests.flaky", 21, owner="alice")
    assert job.result == 42
    request = request_span.get_span_context()
    (send,) = recorded.finished("send")
    attempts = recorded.finished("process")
    assert send.kind is SpanKind.PRODUCER
    assert send.parent is not None
    assert send.parent.span_id == request.span_id
    assert job.trace_context is not None
    assert job.trace_context.trace_id == f"{request.trace_id:032x}"
    assert job.trace_context.span_id == f"{send.context.span_id:016x}"
    assert [a.attributes[names.ATTEMPT] for a in attempts] == [1, 2]
    for attempt in attempts:
        assert attempt.kind is SpanKind.CONSUMER
        assert attempt.context.trace_id == request.trace_id
        assert attempt.parent is not None
        assert attempt.parent.span_id == send.context.span_id
        assert attempt.attributes[names.JOB_ID] == job.id
        assert attempt.attributes[names.DESTINATION] == "jobs"
    failed, succeeded = attempts
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes[names.ERROR_TYPE] == "builtins.ValueError"
    assert failed.attributes[names.OUTCOME] == "queued"
    (exception,) = [e for e in failed.events if e.name == "exception"]
    assert exception.attributes["exception.message"] == "first try fails"
    assert succeeded.status.status_code is not StatusCode.ERROR
    assert succeeded.attributes[names.OUTCOME] == "succeeded"
    inside = recorded.finished("inside")
    assert [s.parent.span_id for s in inside if s.parent] == [a.context.span_id for a in attempts]


async def test_counts_and_timings_match_the_jobs_run(recorded: Recorded) -> None:
    app = make_app(recorded)
    async with app.client(inline=True) as client:
        for n in range(3):
            await client.queue_job("tests.flaky", n, owner="alice")
    kind = {names.JOB_TYPE: "tests.flaky"}
    assert recorded.total(names.METRIC_QUEUED, **kind) == 3
    assert recorded.total(names.METRIC_STARTED, **kind) == 4  # the first job's retry
    assert recorded.total(names.METRIC_RETRIED, **kind) == 1
    assert recorded.total(names.METRIC_SUCCEEDED, **kind) == 3
    assert recorded.total(names.METRIC_FAILED, **kind) == 0
    (duration,) = recorded.metrics()[names.METRIC_DURATION]
    assert duration[1].count == 4
    (wait,) = recorded.metrics()[names.METRIC_QUEUE_WAIT]
    assert wait[1].count == 4
