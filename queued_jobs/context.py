"""What a running job gets besides its request: its record, progress, cancellation, a logger."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from enum import Enum

from .errors import JobCancelled
from .models import Progress, QueuedJob, clean_output
from .telemetry.logs import library_logger

__all__ = ["JobContext", "StopReason"]

ProgressSink = Callable[[Progress], Awaitable[None]]
OutputSink = Callable[[str], Awaitable[None]]


class StopReason(Enum):
    """Why an attempt was told to stop (:attr:`JobContext.stop_reason`)."""

    TIMED_OUT = "it passed its max run time"
    CANCELLED = "its cancellation was requested"
    HALTED = "its worker is shutting down"
    LOST = "another worker took it over"


async def _no_output(_: str) -> None:
    return None


class JobContext:
    """Handed to ``on_execute`` (and to function jobs that ask for it)."""

    def __init__(
        self,
        job: QueuedJob,
        *,
        progress: ProgressSink,
        cancelled: asyncio.Event,
        loop: asyncio.AbstractEventLoop,
        stopping: asyncio.Event | None = None,
        output: OutputSink = _no_output,
    ) -> None:
        """``cancelled``: set once someone asked to cancel the job; ``stopping``: set once
        the attempt must stop for another reason (its max run time passed, its worker is
        shutting down)."""
        self._job = job
        self._progress = progress
        self._cancelled = cancelled
        self._stopping = stopping
        self._loop = loop
        self._output = output
        #: Why the attempt was told to stop (``None`` until it is): set before its code is
        #: cancelled, so that code cleaning up (a program it stops) can say what happened.
        self.stop_reason: StopReason | None = None
        self.logger = logging.LoggerAdapter(
            library_logger("queued_jobs.job"),
            {"job_id": job.id, "job_type": job.job_type, "job_attempt": job.attempts},
        )

    @property
    def job(self) -> QueuedJob:
        """The job's record as this attempt claimed it."""
        return self._job

    @property
    def attempt(self) -> int:
        """This attempt's number, from 1."""
        return self._job.attempts

    async def report_progress(self, percent: float, message: str | None = None) -> None:
        """Record how far the job is (0-100). Frequent calls are throttled: the latest value
        is always kept, and written at most about once a second."""
        await self._progress(Progress(percent=percent, message=message))

    def report_progress_sync(self, percent: float, message: str | None = None) -> None:
        """:meth:`report_progress` for synchronous jobs (they run in a worker thread)."""
        future = asyncio.run_coroutine_threadsafe(
            self.report_progress(percent, message), self._loop
        )
        future.result()

    async def append_output(self, text: str) -> None:
        """Add ``text`` to the job's output, which its record keeps (the end of it) and
        readers see while it runs; written with progress, at most about once a second.
        Kept as clean text: see :func:`~queued_jobs.models.clean_output`."""
        await self._output(clean_output(text))

    def append_output_sync(self, text: str) -> None:
        """:meth:`append_output` for synchronous jobs (they run in a worker thread)."""
        asyncio.run_coroutine_threadsafe(self.append_output(text), self._loop).result()

    @property
    def cancellation_requested(self) -> bool:
        """Whether this attempt should stop: someone asked to cancel the job, it passed its
        max run time, or its worker is shutting down. A long job should check it and stop
        (for a synchronous job, running in a thread, it is the only way to be stopped).
        How the attempt is recorded depends on why it was stopped, not on how it ends."""
        return self._cancelled.is_set() or (self._stopping is not None and self._stopping.is_set())

    def raise_if_cancelled(self) -> None:
        """Raise :class:`JobCancelled` if the attempt should stop (see
        :attr:`cancellation_requested`)."""
        if self.cancellation_requested:
            raise JobCancelled(f"job {self._job.id}: this attempt was asked to stop")
