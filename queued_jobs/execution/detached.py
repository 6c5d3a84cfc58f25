"""Job code (an attempt's code, or a hook) that did not stop when told to, left running on
its own.

Such a task is kept here (so that it is not garbage-collected while it runs), logged loudly
when it is left and again if it ever ends. A process that exits does not wait for it: see
:func:`queued_jobs._eventloop.run_bounded`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..models import QueuedJob
from ..telemetry.logs import library_logger

__all__ = ["detach", "detach_hook", "detached_count", "is_detached"]

log = library_logger("queued_jobs.execution")
_DETACHED: set[asyncio.Task[Any]] = set()


def detach(work: asyncio.Task[Any], job: QueuedJob, why: str, then: str, *, threaded: bool) -> None:
    """Leave ``work`` (the code of ``job``'s attempt, told to stop because ``why``) running;
    ``then`` says what becomes of the job."""
    left = time.monotonic()
    log.error(
        "job %s attempt %d: its code did not stop when told to (%s%s); it is left running, "
        "detached, in this process: %s",
        job.id,
        job.attempts,
        why,
        "; a plain def runs in a thread, which Python cannot stop" if threaded else "",
        then,
    )
    _DETACHED.add(work)

    def ended(task: asyncio.Task[Any]) -> None:
        _DETACHED.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: its outcome was settled when it was left
        log.warning(
            "job %s attempt %d: its detached code ended %.1fs after it was left; what it "
            "returned is dropped",
            job.id,
            job.attempts,
            time.monotonic() - left,
        )

    work.add_done_callback(ended)


def detach_hook(work: asyncio.Task[Any], hook: str, job_id: str | None, why: str) -> None:
    """Leave ``work`` (a call of ``hook``, about job ``job_id``, cancelled because ``why``)
    running: the pipeline has gone on without it."""
    left = time.monotonic()
    if why:
        log.error(
            "hook %s (job %s) did not stop when cancelled (%s); it is left running, detached, "
            "in this process: the job goes on without it",
            hook,
            job_id,
            why,
        )
    _DETACHED.add(work)

    def ended(task: asyncio.Task[Any]) -> None:
        _DETACHED.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a hook's errors are logged where it runs
        if why:
            log.warning(
                "hook %s (job %s): its detached call ended %.1fs after it was left",
                hook,
                job_id,
                time.monotonic() - left,
            )

    work.add_done_callback(ended)


def is_detached(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` is job code left running (cancelling it again changes nothing)."""
    return task in _DETACHED


def detached_count() -> int:
    """How many detached job tasks are still running in this process."""
    return len(_DETACHED)
