"""Running one claimed attempt: the job's code under its max run time, while the lease is
kept, until it ends, is cancelled, or the host halts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..context import JobContext
from ..errors import JobCancelled, JobTimedOut
from ..models import AttemptOutcome, QueuedJob
from ..runner import JobDefinition, JobRunner, run_on_execute
from .hooks import call_hook
from .running import LeaseKeeper, RunningJob

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .pipeline import Pipeline

__all__ = ["AttemptOutcomeInfo", "run_attempt"]


@dataclass(slots=True)
class AttemptOutcomeInfo:
    """How an attempt ended, before anything about it is stored."""

    running: RunningJob
    context: JobContext
    outcome: AttemptOutcome
    result: Any = None
    error: BaseException | None = None


async def _execute(
    runner: JobRunner[Any, Any], request: Any, context: JobContext, limit: timedelta | None
) -> Any:
    if limit is None:
        return await run_on_execute(runner, request, context)
    deadline = asyncio.timeout(limit.total_seconds())
    try:
        async with deadline:
            return await run_on_execute(runner, request, context)
    except TimeoutError as exc:
        if deadline.expired():
            raise JobTimedOut(f"job ran longer than its max run time of {limit}") from exc
        raise


async def run_attempt(
    pipeline: Pipeline,
    job: QueuedJob,
    definition: JobDefinition,
    runner: JobRunner[Any, Any],
    request: Any,
    *,
    renew_message: Callable[[], Awaitable[None]] | None,
    halt: asyncio.Event | None,
) -> AttemptOutcomeInfo:
    settings = pipeline.settings
    running = RunningJob(
        pipeline.repository,
        job,
        clock=pipeline.clock,
        lease=settings.lease,
        progress_interval=settings.progress_interval,
    )
    context = JobContext(
        job,
        progress=running.report_progress,
        cancelled=running.cancelled,
        loop=asyncio.get_running_loop(),
    )
    await call_hook(runner.before, context)
    limit = job.max_run_time or definition.max_run_time
    work = asyncio.create_task(_execute(runner, request, context, limit))
    stops = [asyncio.create_task(running.cancelled.wait())]
    if halt is not None:
        stops.append(asyncio.create_task(halt.wait()))
    try:
        with LeaseKeeper(running, settings.heartbeat_interval, renew_message):
            await asyncio.wait({work, *stops}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
    finally:
        for stop in stops:
            stop.cancel()
        await running.stop()
    return _outcome(work, running, context, halt)


def _outcome(
    work: asyncio.Task[Any],
    running: RunningJob,
    context: JobContext,
    halt: asyncio.Event | None,
) -> AttemptOutcomeInfo:
    def ended(outcome: AttemptOutcome, **kw: Any) -> AttemptOutcomeInfo:
        return AttemptOutcomeInfo(running, context, outcome, **kw)

    if work.cancelled():
        if running.cancelled.is_set():
            return ended(AttemptOutcome.CANCELLED)
        if halt is not None and halt.is_set():
            return ended(AttemptOutcome.RELEASED)
        return ended(AttemptOutcome.CANCELLED)
    error = work.exception()
    if error is None:
        return ended(AttemptOutcome.SUCCEEDED, result=work.result())
    if isinstance(error, JobCancelled):
        return ended(AttemptOutcome.CANCELLED)
    if isinstance(error, JobTimedOut):
        return ended(AttemptOutcome.TIMED_OUT, error=error)
    return ended(AttemptOutcome.FAILED, error=error)
