"""Running one claimed attempt: the job's code under its max run time, while the lease is
kept, until it ends, is cancelled, or the host halts.

Every wait on the job's code is bounded. Told to stop (cancelled, past its max run time,
halted), the code is cancelled and ``cancellation_requested`` turns true; it then gets
``ExecutionSettings.stop_timeout`` to end. Code that does not end by then is left running,
detached (see :mod:`.detached`), and the attempt is recorded as what stopped it. Two cases
keep the lease instead, so that no second run of the job can start beside the first:

- a plain ``def`` job (a thread, which nothing can stop) past its max run time or
  cancelled keeps its lease until its thread ends, then is recorded timed out or
  cancelled; a worker stopping meanwhile still halts it;
- a job halted by a stopping worker that does not end in time is not handed back: its
  lease is left to run out (by then its process has exited), and the attempt is recorded
  ``abandoned`` by the worker that takes the job over.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..context import JobContext, StopReason
from ..errors import JobCancelled, JobTimedOut
from ..models import AttemptOutcome, QueuedJob
from ..runner import JobDefinition, JobRunner, run_on_execute, runs_in_thread
from ..telemetry.logs import library_logger
from .detached import detach
from .hooks import call_hook
from .running import LeaseKeeper, RunningJob

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .pipeline import Pipeline

__all__ = ["AttemptOutcomeInfo", "run_attempt"]

log = library_logger("queued_jobs.execution")


@dataclass(slots=True)
class AttemptOutcomeInfo:
    """How an attempt ended, before anything about it is stored."""

    running: RunningJob
    context: JobContext
    outcome: AttemptOutcome
    result: Any = None
    error: BaseException | None = None
    #: Halted, the job's code did not end in time: the attempt is not handed back, and its
    #: lease (record and message) is left to run out.
    left_to_expire: bool = False


async def _execute(runner: JobRunner[Any, Any], request: Any, context: JobContext) -> Any:
    try:
        return await run_on_execute(runner, request, context)
    except (SystemExit, KeyboardInterrupt) as exc:  # job code never ends its worker
        raise RuntimeError(f"the job raised {exc!r}") from exc


async def run_attempt(
    pipeline: Pipeline,
    job: QueuedJob,
    definition: JobDefinition,
    runner: JobRunner[Any, Any],
    request: Any,
    *,
    renew_message: Callable[[], Awaitable[None]] | None,
    halt: asyncio.Event | None,
    beside: Callable[[], Awaitable[None]] | None = None,
) -> AttemptOutcomeInfo:
    """Run the claimed ``job``'s code to its end; ``beside`` is renewed with the job's
    lease (the lease of its type, its places in its limits' gates)."""
    settings = pipeline.settings
    running = pipeline.running(job)
    stopping = asyncio.Event()
    context = JobContext(
        job,
        progress=running.report_progress,
        cancelled=running.cancelled,
        stopping=stopping,
        loop=asyncio.get_running_loop(),
        output=running.report_output,
    )
    limit = job.max_run_time or definition.max_run_time
    threaded = runs_in_thread(runner)
    stop: StopReason | None = None
    ended = True
    try:
        with LeaseKeeper(running, settings.heartbeat_interval, renew_message, beside=beside):
            # The claim's hooks run under the lease, each bounded: however long they take,
            # the lease (record and message) is renewed meanwhile.
            await pipeline.notify(job)
            await call_hook(runner.before, context, seconds=settings.hook_seconds)
            work = asyncio.create_task(_execute(runner, request, context), name=f"job {job.id}")
            attempt = _Attempt(
                work, running, halt, definition.stop_time(settings.stop_timeout).total_seconds()
            )
            stop = await attempt.until_stopped(limit)
            if stop is not None:
                context.stop_reason = stop
                stopping.set()
                stop, ended = await attempt.stop(stop, threaded=threaded)
    finally:
        await running.stop()
    if not ended:
        why = stop.value if stop else ""
        detach(work, job, why, _after_detaching(stop, limit), threaded=threaded)
    return _outcome(work, running, context, stop, ended, limit)


class _Attempt:
    """The waits on one attempt's code, each bounded by a stop signal or a timeout."""

    def __init__(
        self,
        work: asyncio.Task[Any],
        running: RunningJob,
        halt: asyncio.Event | None,
        stop_timeout: float,
    ) -> None:
        self._work = work
        self._running = running
        self._halt = halt
        self._stop_timeout = stop_timeout

    async def until_stopped(
        self, limit: timedelta | None, *, told: bool = False
    ) -> StopReason | None:
        """Wait for the code to end (``None``) or for a reason to stop it; once ``told`` to
        stop, only a halt or the loss of the lease are new reasons."""
        running = self._running
        watched = running.lost_lease if told else running.cancelled
        signals = [asyncio.create_task(watched.wait())]
        if self._halt is not None:
            signals.append(asyncio.create_task(self._halt.wait()))
        try:
            await asyncio.wait(
                {self._work, *signals},
                timeout=None if limit is None else limit.total_seconds(),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for signal in signals:
                signal.cancel()
        if self._work.done():
            return None
        if running.lost:
            return StopReason.LOST
        if self._halt is not None and self._halt.is_set():
            return StopReason.HALTED
        if running.cancelled.is_set():
            return StopReason.CANCELLED
        return StopReason.TIMED_OUT

    async def stop(self, stop: StopReason, *, threaded: bool) -> tuple[StopReason, bool]:
        """Cancel the code and wait (bounded) for it to end: why it was stopped in the end,
        and whether it ended."""
        self._work.cancel()
        if await self._ended():
            return stop, True
        job = self._running.job
        if threaded and stop in (StopReason.TIMED_OUT, StopReason.CANCELLED):
            log.warning(
                "job %s: told to stop (%s), its code still runs in its thread after %ss; "
                "Python cannot stop a thread, so the job keeps its lease until the thread "
                "ends (no other run of it can start meanwhile). Check "
                "context.cancellation_requested in long loops",
                job.id,
                stop.value,
                self._stop_timeout,
            )
            later = await self.until_stopped(None, told=True)
            if later is None:
                return stop, True
            return later, await self._ended()
        return stop, False

    async def _ended(self) -> bool:
        await asyncio.wait({self._work}, timeout=self._stop_timeout)
        return self._work.done()


def _after_detaching(stop: StopReason | None, limit: timedelta | None) -> str:
    if stop is StopReason.TIMED_OUT:
        return (
            f"the attempt is recorded timed out (max run time {limit}) and gives up its "
            "lease, so a retry may run beside it"
        )
    if stop is StopReason.CANCELLED:
        return "the job is recorded cancelled"
    if stop is StopReason.HALTED:
        return (
            "the job is not handed back: its lease is left to run out (this process exits "
            "first), then another worker takes it over"
        )
    return "another worker has the job"


def _own_error(work: asyncio.Task[Any]) -> BaseException | None:
    if work.cancelled():
        return None
    return work.exception()


def _outcome(
    work: asyncio.Task[Any],
    running: RunningJob,
    context: JobContext,
    stop: StopReason | None,
    ended: bool,
    limit: timedelta | None,
) -> AttemptOutcomeInfo:
    def ended_as(outcome: AttemptOutcome, **kw: Any) -> AttemptOutcomeInfo:
        return AttemptOutcomeInfo(running, context, outcome, **kw)

    own = _own_error(work) if ended else None  # what the code said of how it stopped
    if stop is StopReason.TIMED_OUT:
        if isinstance(own, JobTimedOut):
            return ended_as(AttemptOutcome.TIMED_OUT, error=own)
        overrun = JobTimedOut(f"job ran longer than its max run time of {limit}")
        return ended_as(AttemptOutcome.TIMED_OUT, error=overrun)
    if stop is StopReason.HALTED:
        if ended:
            return ended_as(AttemptOutcome.RELEASED)
        return ended_as(AttemptOutcome.ABANDONED, left_to_expire=True)
    if stop is not None or work.cancelled():  # cancelled, or lost (the pipeline sees it)
        return ended_as(
            AttemptOutcome.CANCELLED, error=own if isinstance(own, JobCancelled) else None
        )
    error = work.exception()
    if error is None:
        return ended_as(AttemptOutcome.SUCCEEDED, result=work.result())
    if isinstance(error, JobCancelled):
        return ended_as(AttemptOutcome.CANCELLED, error=error)
    if isinstance(error, JobTimedOut):
        return ended_as(AttemptOutcome.TIMED_OUT, error=error)
    return ended_as(AttemptOutcome.FAILED, error=error)
