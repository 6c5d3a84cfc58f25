"""What a job leads to stays in its trace: a sequence's next step, a webhook's delivery;
and what a caller or the store hands over as trace context is never trusted to be well
formed."""

from __future__ import annotations

import asyncio
from typing import Any

from queued_jobs import ExecutionSettings, JobApp, MemoryStorage
from queued_jobs.models import JobStatus, QueuedJob, TraceContext, change_of
from queued_jobs.sequences.client import SequenceClient
from queued_jobs.telemetry import Telemetry, continuing, names
from queued_jobs.web.webhooks import add_webhooks
from queued_jobs.web.webhooks.config import Webhook
from queued_jobs.web.webhooks.delivery import DELIVERY_TYPE
from queued_jobs.web.webhooks.dispatch import queue_deliveries
from queued_jobs.worker import WorkerSettings
from tests.support.telemetry import Recorded

_PARENT = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"


def _app(recorded: Recorded) -> JobApp:
    app = JobApp(MemoryStorage(), settings=ExecutionSettings(telemetry=recorded.telemetry))

    @app.job(name="tests.step")
    async def step(request: dict[str, Any]) -> int:
        return 1

    return app


async def test_a_sequences_next_step_is_queued_in_the_trace_of_the_step_before() -> None:
    recorded = Recorded()
    app = _app(recorded)
    async with app.client() as client:
        started = await SequenceClient(client).start(
            [{"jobs": [{"job_type": "tests.step", "request": {}}]}] * 2, owner="ada", name="two"
        )
        worker = app.worker(WorkerSettings(concurrency=2, sweep_interval=None))
        running = asyncio.create_task(worker.run())
        try:
            ended = asyncio.Event()

            async def heard(job: QueuedJob) -> None:
                if job.status is JobStatus.SUCCEEDED and job.custom_data["sequence"]["step"]:
                    ended.set()

            worker.pipeline.add_listener(heard)
            await asyncio.wait_for(ended.wait(), 30)
            jobs = (await client.list_jobs()).items
        finally:
            worker.stop()
            await running
            await worker.close()
    first, second = sorted(jobs, key=lambda job: job.created_at)
    assert started.id
    assert first.status is second.status is JobStatus.SUCCEEDED
    assert first.trace_context is not None
    assert second.trace_context is not None
    assert second.trace_context.trace_id == first.trace_context.trace_id
    attempts = {s.attributes[names.JOB_ID]: s for s in recorded.finished("process")}
    step_one = attempts[first.id].context
    # the second step's send span is a child of the first step's attempt
    (send,) = [s for s in recorded.finished("send") if s.context.span_id == int(
        second.trace_context.span_id, 16)]  # fmt: skip
    assert send.parent is not None
    assert send.parent.span_id == step_one.span_id


async def test_a_webhook_delivery_is_queued_in_the_trace_of_the_job_it_tells_of() -> None:
    recorded = Recorded()
    app = _app(recorded)
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    hooks = add_webhooks(app, [Webhook("h", "https://example.com/hook", secret)])
    async with app.client() as client:
        now = client.clock.now()
        job = (
            QueuedJob.new(
                owner="ada", job_type="tests.step", trace_context=TraceContext(traceparent=_PARENT)
            )
            .transition(JobStatus.RUNNING, now=now)
            .transition(JobStatus.SUCCEEDED, now=now, completed_at=now)
        )
        assert await queue_deliveries(
            client, hooks, [change_of(job, partition="all", position="1")]
        )
        (delivery,) = (await client.list_jobs(job_type=DELIVERY_TYPE)).items
    assert delivery.trace_context is not None
    assert delivery.trace_context.trace_id == "ab" * 16
    (send,) = recorded.finished("send")
    assert send.parent is not None
    assert send.parent.span_id == int("cd" * 8, 16)


def test_a_trace_context_that_cannot_be_read_leaves_the_job_readable() -> None:
    stored = QueuedJob.new(owner="ada", job_type="t").model_dump(mode="json")
    for odd in ("00-zz", {"traceparent": "ff-" + "0" * 32}, {"traceparent": _PARENT, "x": 1}, 7,
                {"traceparent": _PARENT, "tracestate": "a=b\n"}):  # fmt: skip
        assert QueuedJob.model_validate({**stored, "trace_context": odd}).trace_context is None
    read = QueuedJob.model_validate({**stored, "trace_context": {"traceparent": _PARENT}})
    assert read.trace_context == TraceContext(traceparent=_PARENT)


def test_an_all_zero_or_foreign_context_makes_no_parent() -> None:
    from queued_jobs.telemetry.tracing import _context

    zero = TraceContext(traceparent="00-" + "0" * 32 + "-" + "cd" * 8 + "-01")
    assert _context(zero) is None
    assert _context(None) is None
    assert _context(TraceContext(traceparent=_PARENT, tracestate="vendor=1,other=x")) is not None


async def test_without_an_sdk_no_span_is_made_but_a_callers_context_is_carried() -> None:
    telemetry = Telemetry()  # the global providers: none set up in the test process
    assert not telemetry._traced()
    app = JobApp(MemoryStorage(), settings=ExecutionSettings(telemetry=telemetry))
    app.job(name="tests.step")(_step)
    async with app.client(inline=True) as client:
        alone = await client.queue_job("tests.step", {}, owner="ada")
        with continuing(TraceContext(traceparent=_PARENT)):
            carried = await client.queue_job("tests.step", {}, owner="ada")
    assert alone.trace_context is None
    assert alone.status is JobStatus.SUCCEEDED
    assert carried.trace_context == TraceContext(traceparent=_PARENT)
    assert telemetry.metrics.counted(names.METRIC_SUCCEEDED) == 2


async def _step(request: dict[str, Any]) -> int:
    return 1
