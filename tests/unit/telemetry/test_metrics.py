"""The counts a worker keeps beyond a job's own: queue depths, dead letters, take-overs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from queued_jobs import ExecutionSettings, JobApp, MemoryStorage
from queued_jobs.models import JobStatus, Priority
from queued_jobs.telemetry import names
from queued_jobs.worker import WorkerSettings
from tests.support.telemetry import Recorded
from tests.support.waiting import until

HIGH = "jobs-high"


def _app(recorded: Recorded) -> JobApp:
    app = JobApp(MemoryStorage(), settings=ExecutionSettings(telemetry=recorded.telemetry))

    @app.job(name="tests.noop")
    async def noop(request: int) -> int:
        return request

    return app


async def test_depths_are_read_when_collected_and_dead_letters_counted() -> None:
    recorded = Recorded()
    app = _app(recorded)
    async with app.client() as client:
        await client.create_storage()
        low = client.broker.queue(app.queues.for_priority(Priority.LOW))
        for n in range(3):
            await client.queue_job("tests.noop", n, owner="ada", priority=Priority.LOW)
        only_high = WorkerSettings(
            concurrency=1, sweep_interval=None, bands=frozenset({Priority.HIGH})
        )
        worker = app.worker(only_high)
        running = asyncio.create_task(worker.run())
        try:
            await client.broker.queue(HIGH).send("not a job message")
            await until(lambda: names.METRIC_DEAD_LETTERED in recorded.metrics(), "the dead letter")
            # collected from another thread, as a metrics exporter does: the depths are
            # read on the worker's loop
            collected = await asyncio.to_thread(recorded.metrics)
        finally:
            worker.stop()
            await running
            await worker.close()
    assert await low.depth() == 3  # the worker drains only the high band
    depths = {a[names.DESTINATION]: v for a, v in collected[names.METRIC_QUEUE_DEPTH]}
    assert depths == {HIGH: 0}
    (point,) = collected[names.METRIC_DEAD_LETTERED]
    assert point == ({names.DESTINATION: HIGH}, 1)


async def test_a_job_taken_over_from_a_dead_worker_is_counted() -> None:
    recorded = Recorded()
    app = _app(recorded)
    pipeline = app.pipeline(identity="taker")
    client = app.client_on(pipeline)
    job = await client.queue_job("tests.noop", 1, owner="ada")
    past = client.clock.now() - timedelta(minutes=5)
    dead = job.transition(
        JobStatus.RUNNING,
        now=past,
        attempts=1,
        started_at=past,
        attempt_started_at=past,
        lease_owner="dead:1",
        lease_expires_at=past + timedelta(seconds=1),
    )
    await pipeline.repository.update(dead)
    handled = await pipeline.handle_job(job.id)
    assert handled.job is not None
    assert handled.job.status is JobStatus.SUCCEEDED
    assert recorded.total(names.METRIC_TAKEN_OVER, **{names.JOB_TYPE: "tests.noop"}) == 1
    assert recorded.total(names.METRIC_STARTED) == 1
    await pipeline.repository.close()
