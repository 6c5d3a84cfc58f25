"""Sequences end to end on SQLite and on Azurite: steps run by an in-process worker (or by
the pipeline alone), advanced by their jobs' completions, finished by the sweep after a
crash, and cancelled midway."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from queued_jobs.app import JobApp
from queued_jobs.client import JobClient, JobSpec
from queued_jobs.clock import ManualClock
from queued_jobs.context import JobContext
from queued_jobs.errors import PermanentError
from queued_jobs.execution.pipeline import Pipeline
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.sequences import Outcome, Sequence, SequenceStatus
from queued_jobs.sequences.engine import SequenceEngine
from queued_jobs.sequences.sweep import SequenceSweeper
from tests.integration.conftest import Backend

pytestmark = pytest.mark.asyncio

RunWorker = Callable[..., Awaitable[None]]
ClientOf = Callable[[Any], Awaitable[Any]]


class Echo(BaseModel):
    value: Any = None
    previous: Any = None


class Hold(BaseModel):
    #: Seconds to run at most, unless cancelled.
    seconds: float = 20.0


def sequence_app(backend: Backend, *, clock: Any = None) -> JobApp:
    app = backend.app(clock=clock) if clock is not None else backend.app()

    @app.job(name="seq.echo")
    async def echo(request: Echo, context: JobContext) -> dict[str, Any]:
        return {"value": request.value, "previous": request.previous}

    @app.job(name="seq.fail")
    async def fail(request: Echo, context: JobContext) -> None:
        raise PermanentError(f"step job failed on purpose ({request.value})")

    @app.job(name="seq.hold")
    async def hold(request: Hold, context: JobContext) -> str:
        waited = 0.0
        while waited < request.seconds:
            context.raise_if_cancelled()
            await asyncio.sleep(0.05)
            waited += 0.05
        return "held"

    return app


def echo(value: Any = None) -> dict[str, Any]:
    return {"job_type": "seq.echo", "request": {"value": value}}


FAIL = {"job_type": "seq.fail", "request": {}}
HOLD = {"job_type": "seq.hold", "request": {}}


def ended(engine: SequenceEngine, sequence_id: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        stored = await engine.store.get_sequence(sequence_id)
        return stored.status is not SequenceStatus.RUNNING

    return check


async def jobs_of(client: JobClient, sequence: Sequence) -> list[QueuedJob]:
    return [await client.get_job(j.job_id) for run in sequence.runs for j in run.jobs]


async def test_a_parallel_wait_any_step_moves_on_at_the_first_success_and_passes_results(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = sequence_app(backend)
    client: JobClient = await client_of(app)
    engine = SequenceEngine(client)
    started = await engine.start(
        owner="ada",
        name="first mirror wins",
        steps=[
            {"jobs": [{**HOLD, "request": {"seconds": 20}}, echo("fast")], "exit": "wait_any"},
            {"jobs": [echo("after")], "pass_results": True},
        ],
    )
    [slow_id, fast_id] = [j.job_id for j in started.runs[0].jobs]
    seen: list[Sequence] = []

    async def ended_then_slow_job_stopped() -> bool:
        if not seen:
            if not await ended(engine, started.id)():
                return False
            seen.append(await engine.store.get_sequence(started.id))
            await client.cancel(slow_id)  # not waited for: stop it, to end the test
        return (await client.get_job(slow_id)).is_terminal

    await run_worker(app, ended_then_slow_job_stopped)

    done = seen[0]
    assert done.status is SequenceStatus.SUCCEEDED
    first, second = done.runs
    assert first.outcome is Outcome.SUCCESS
    assert first.job_status(fast_id) is JobStatus.SUCCEEDED
    assert first.job_status(slow_id) is None  # not waited for: still running
    after = await client.get_job(second.jobs[0].job_id)
    previous = after.result["previous"]
    assert previous["step"] == 0
    assert previous["outcome"] == "success"
    assert previous["jobs"] == [
        {"job_id": slow_id, "job_type": "seq.hold", "status": None, "result": None},
        {
            "job_id": fast_id,
            "job_type": "seq.echo",
            "status": "succeeded",
            "result": {"value": "fast", "previous": None},
        },
    ]
    assert after.correlation_id == f"sequence:{started.id}"
    assert after.custom_data["sequence"] == {"id": started.id, "step": 1, "iteration": 1}


async def test_a_mixed_outcome_branches_to_the_step_its_rule_names(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = sequence_app(backend)
    client: JobClient = await client_of(app)
    engine = SequenceEngine(client)
    started = await engine.start(
        owner="ada",
        name="branch",
        steps=[
            {"jobs": [echo(1), FAIL], "on_mixed": "goto:2"},
            {"jobs": [echo("skipped")]},
            {"jobs": [echo("recovered")], "on_success": "end:succeeded"},
        ],
    )

    await run_worker(app, ended(engine, started.id))

    done = await engine.store.get_sequence(started.id)
    assert done.status is SequenceStatus.SUCCEEDED
    assert [(r.step, r.outcome) for r in done.runs] == [
        (0, Outcome.MIXED),
        (2, Outcome.SUCCESS),
    ]
    assert [j.status for j in done.runs[0].jobs] == [JobStatus.SUCCEEDED, JobStatus.FAILED]
    assert done.iterations == (1, 0, 1)


async def test_a_loop_back_ends_the_sequence_failed_when_its_guard_is_reached(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = sequence_app(backend)
    client: JobClient = await client_of(app)
    engine = SequenceEngine(client)
    started = await engine.start(
        owner="ada",
        name="retry loop",
        steps=[{"jobs": [FAIL], "on_failure": "goto:0"}],
        max_iterations=3,
    )

    await run_worker(app, ended(engine, started.id))

    done = await engine.store.get_sequence(started.id)
    assert done.status is SequenceStatus.FAILED
    assert [(r.step, r.iteration, r.outcome) for r in done.runs] == [
        (0, 1, Outcome.FAILURE),
        (0, 2, Outcome.FAILURE),
        (0, 3, Outcome.FAILURE),
    ]
    assert done.reason is not None
    assert "max_iterations (3)" in done.reason
    assert done.completed_at is not None


async def test_cancelling_mid_sequence_cancels_its_running_jobs_and_nothing_follows(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = sequence_app(backend)
    client: JobClient = await client_of(app)
    engine = SequenceEngine(client)
    started = await engine.start(
        owner="ada",
        name="long",
        steps=[{"jobs": [HOLD, HOLD]}, {"jobs": [echo("never")]}],
    )
    ids = [j.job_id for j in started.runs[0].jobs]
    cancelled: list[Sequence] = []

    async def cancel_once_running_then_wait() -> bool:
        if not cancelled:
            jobs = [await client.get_job(i) for i in ids]
            if all(j.status is JobStatus.RUNNING for j in jobs):
                cancelled.append(await engine.cancel(started.id, reason="stopped by ada"))
            return False
        jobs = [await client.get_job(i) for i in ids]
        if not all(j.is_terminal for j in jobs):
            return False
        stored = await engine.store.get_sequence(started.id)
        return all(j.status is not None for j in stored.runs[0].jobs)

    await run_worker(app, cancel_once_running_then_wait)

    assert cancelled[0].status is SequenceStatus.CANCELLED
    done = await engine.store.get_sequence(started.id)
    assert (done.status, done.reason, done.cancel_pending) == (
        SequenceStatus.CANCELLED,
        "stopped by ada",
        False,
    )
    assert len(done.runs) == 1  # the next step never started
    assert [j.status for j in done.runs[0].jobs] == [JobStatus.CANCELLED] * 2
    assert [j.status for j in await jobs_of(client, done)] == [JobStatus.CANCELLED] * 2
    assert (await engine.store.list_active_sequences()).items == []


async def run_alone(app: JobApp, client: JobClient, job_ids: list[str]) -> list[QueuedJob]:
    """Run the jobs through a pipeline that tells no listener: their completions are
    stored, and no sequence hears of them."""
    pipeline = Pipeline(client.repository, client.broker, app.registry, host="test:1")
    for job_id in job_ids:
        await pipeline.handle_job(job_id, send_retries=False, due_now=True)
    return [await client.get_job(job_id) for job_id in job_ids]


async def test_two_completions_racing_advance_the_sequence_exactly_once(
    backend: Backend, client_of: ClientOf
) -> None:
    app = sequence_app(backend)
    first: JobClient = await client_of(app)
    second: JobClient = await client_of(app)
    engines = [SequenceEngine(first), SequenceEngine(second)]
    started = await engines[0].start(
        owner="ada",
        name="fan in",
        steps=[{"jobs": [echo(1), echo(2)]}, {"jobs": [echo("next")]}],
    )
    jobs = await run_alone(app, first, [j.job_id for j in started.runs[0].jobs])

    results = await asyncio.gather(
        engines[0].job_ended(jobs[0]),
        engines[1].job_ended(jobs[1]),
        engines[1].job_ended(jobs[0]),  # a repeated completion, racing too
        engines[0].job_ended(jobs[1]),
    )

    assert all(r is not None for r in results)
    done = await engines[0].store.get_sequence(started.id)
    assert [(r.step, r.outcome) for r in done.runs] == [(0, Outcome.SUCCESS), (1, None)]
    [next_job] = done.runs[1].jobs
    assert (await first.get_job(next_job.job_id)).status is JobStatus.QUEUED
    page = await first.list_jobs(owner="ada")
    assert len(page.items) == 3  # two of step 0, one of step 1: started once


class CrashAfterTheWrite(SequenceEngine):
    """Dies right after the write that starts a step, before storing its jobs."""

    async def _queue(self, sequence: Sequence, specs: list[JobSpec]) -> int:
        raise KeyboardInterrupt("the process died here")


async def test_a_crash_between_a_steps_completion_and_the_next_start_is_finished_by_the_sweep(
    backend: Backend, client_of: ClientOf
) -> None:
    clock = ManualClock()
    app = sequence_app(backend, clock=clock)
    client: JobClient = await client_of(app)
    engine = SequenceEngine(client)
    started = await engine.start(
        owner="ada",
        name="three steps",
        steps=[
            {"jobs": [echo(0)]},
            {"jobs": [echo(1)], "pass_results": True},
            {"jobs": [echo(2)]},
        ],
    )
    # Step 0's job ends, and its host dies before telling the sequence.
    [zero] = await run_alone(app, client, [started.runs[0].jobs[0].job_id])
    # Its completion heard at last, the advance dies after writing step 1's job id.
    with pytest.raises(KeyboardInterrupt):
        await CrashAfterTheWrite(client).job_ended(zero)
    crashed = await engine.store.get_sequence(started.id)
    [one] = crashed.runs[1].jobs
    assert crashed.runs[0].outcome is Outcome.SUCCESS
    assert (await first_or_none(client, one.job_id)) is None
    sweeper = SequenceSweeper(client, grace=timedelta(seconds=30))

    assert (await sweeper.sweep()).recent == 1  # too fresh: its writer may be at work
    clock.advance(timedelta(minutes=1))
    report = await sweeper.sweep()

    assert (report.looked_at, report.created, report.failed) == (1, 1, ())
    stored = await client.get_job(one.job_id)
    assert stored.request["previous"]["jobs"][0]["result"] == {"value": 0, "previous": None}
    # Step 1's job ends unheard as well: the next sweep advances the sequence.
    await run_alone(app, client, [one.job_id])
    clock.advance(timedelta(minutes=1))
    report = await sweeper.sweep()
    assert (report.moved, report.created) == (1, 0)
    moved = await engine.store.get_sequence(started.id)
    assert [r.step for r in moved.runs] == [0, 1, 2]
    assert (await sweeper.sweep()).moved == 0  # nothing left to do: idempotent


async def first_or_none(client: JobClient, job_id: str) -> QueuedJob | None:
    page = await client.list_jobs(owner="ada")
    return next((j for j in page.items if j.id == job_id), None)
