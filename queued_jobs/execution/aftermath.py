"""The hooks that hear how an attempt ended, called once its end is stored (and its retry
message sent): they can change nothing of it. Each is bounded by
``ExecutionSettings.hook_timeout``; while they run, the job's queue message is still renewed
(the record's lease was given up with the attempt's last write), so that slow hooks do not
let it come back to another worker before it is deleted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import QueuedJobsError
from ..models import AttemptOutcome, JobStatus, QueuedJob
from ..runner import JobRunner
from ..telemetry.logs import library_logger
from .hooks import call_hook, is_noop

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .run import AttemptOutcomeInfo

__all__ = ["after_attempt", "log_attempt", "log_unrunnable"]

log = library_logger("queued_jobs.execution")
#: The most characters of an error's message an attempt's log line repeats.
_LOGGED_MESSAGE = 500
_Call = tuple[Callable[..., Awaitable[None]], tuple[Any, ...]]


def _calls(
    pipeline: Pipeline, stored: QueuedJob, runner: JobRunner[Any, Any], info: AttemptOutcomeInfo
) -> list[_Call]:
    calls: list[_Call] = [(hook, (stored,)) for hook in pipeline.status_hooks(stored)]
    context = info.context
    if info.outcome is AttemptOutcome.SUCCEEDED:
        calls.append((runner.on_success, (context, info.result)))
    elif info.outcome is AttemptOutcome.RELEASED:
        calls.append((runner.on_halt, (context,)))
    elif info.error is not None and info.outcome is not AttemptOutcome.CANCELLED:
        calls.append((runner.on_error, (context, info.error)))
        if stored.status is JobStatus.FAILED:
            calls.append((runner.on_failure, (context, info.error)))
    calls.append((runner.after, (context,)))
    return [(hook, args) for hook, args in calls if not is_noop(hook)]


async def after_attempt(
    pipeline: Pipeline,
    stored: QueuedJob,
    runner: JobRunner[Any, Any],
    info: AttemptOutcomeInfo,
    renew_message: Callable[[], Awaitable[None]] | None,
) -> None:
    """Log the attempt's end, then call the listeners, ``on_status_updated``, then
    ``on_success``, ``on_halt`` or ``on_error`` (and ``on_failure``), then ``after``: those
    the runner has of its own."""
    log_attempt(stored, info, pipeline.clock.now())
    calls = _calls(pipeline, stored, runner, info)
    if not calls:
        return
    seconds = pipeline.settings.hook_seconds
    keeper: asyncio.Task[None] | None = None
    starting: asyncio.TimerHandle | None = None
    if renew_message is not None:  # only hooks slower than a heartbeat need it: start then
        interval = pipeline.settings.heartbeat_interval

        def keep() -> None:
            nonlocal keeper
            keeper = asyncio.create_task(_keep_message(stored.id, renew_message, interval))

        starting = asyncio.get_running_loop().call_later(interval.total_seconds(), keep)
    try:
        for hook, args in calls:
            await call_hook(hook, *args, seconds=seconds)
    finally:
        if starting is not None:
            starting.cancel()
        if keeper is not None:
            keeper.cancel()


async def _keep_message(
    job_id: str, renew: Callable[[], Awaitable[None]], interval: timedelta
) -> None:
    """Renew the message now (a heartbeat has passed since the hooks began), then every
    heartbeat; a renewal that fails ends it (the message comes back after its lease)."""
    while True:
        try:
            await renew()
        except QueuedJobsError as exc:
            log.warning("job %s: could not renew its message while its hooks ran: %s", job_id, exc)
            return
        except Exception:
            log.exception("job %s: could not renew its message while its hooks ran", job_id)
            return
        await asyncio.sleep(interval.total_seconds())


def log_attempt(stored: QueuedJob, info: AttemptOutcomeInfo, now: datetime) -> None:
    """One INFO line per attempt: its job's type and id, its number, how long it ran, how it
    ended and what comes next; for an error, its type and message (quoted with escapes,
    so that a message cannot forge log lines or drive a terminal)."""
    seconds = max((now - info.running.started_at).total_seconds(), 0.0)
    line = (
        f"job {stored.id} ({stored.job_type}) attempt {stored.attempts} "
        f"{info.outcome.value} in {seconds:.3f}s"
    )
    if info.error is not None and info.outcome is not AttemptOutcome.SUCCEEDED:
        line += f": {_error_type(info.error)}: {_cut(str(info.error))!r}"
    log.info("%s; %s", line, _next(stored, info.outcome))


def log_unrunnable(stored: QueuedJob, error: Exception, seconds: float) -> None:
    """The line of :func:`log_attempt` for an attempt that could not start the job's code
    (its job type is not registered here, or its stored request no longer validates)."""
    log.info(
        "job %s (%s) attempt %d failed in %.3fs: cannot run: %s: %r; %s",
        stored.id,
        stored.job_type,
        stored.attempts,
        seconds,
        _error_type(error),
        _cut(str(error)),
        _next(stored, AttemptOutcome.FAILED),
    )


def _cut(message: str) -> str:
    if len(message) > _LOGGED_MESSAGE:
        return message[: _LOGGED_MESSAGE - 1] + "…"
    return message


def _error_type(error: BaseException) -> str:
    kind = type(error)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _next(stored: QueuedJob, outcome: AttemptOutcome) -> str:
    """What becomes of the job after the attempt."""
    if outcome is AttemptOutcome.RELEASED:
        return "handed back"
    if stored.status in (JobStatus.QUEUED, JobStatus.SCHEDULED) and stored.run_at is not None:
        return f"retry at {stored.run_at:%Y-%m-%d %H:%M:%S} UTC"
    if stored.status is JobStatus.QUEUED:
        return "queued again"
    return f"job {stored.status.value}"
