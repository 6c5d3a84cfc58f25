"""Counts and timings of jobs, through the OpenTelemetry metrics API.

The counts (queued, started, succeeded, failed, retried, cancelled, taken over, dead
letters) are kept in this process as plain integers and reported by asynchronous
(observable) counters when a reader collects: a count costs an addition on the job's path,
not an SDK call. The two timings (run duration, queue wait) are histograms, recorded as
they happen. The queue depth is a gauge read from the queues only when a reader collects
(:meth:`JobMetrics.watch_depth`): it costs no storage request unless metrics are exported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Final

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from ..models import JobStatus, QueuedJob
from . import names
from .logs import library_logger

__all__ = ["JobMetrics"]

log = library_logger("queued_jobs.telemetry")

_COUNTS: Final = {
    names.METRIC_QUEUED: "Jobs queued (stored and sent)",
    names.METRIC_STARTED: "Attempts started (jobs claimed to run)",
    names.METRIC_SUCCEEDED: "Jobs that succeeded",
    names.METRIC_FAILED: "Jobs that failed for good",
    names.METRIC_RETRIED: "Failed attempts whose job was queued to try again",
    names.METRIC_CANCELLED: "Jobs cancelled",
    names.METRIC_TAKEN_OVER: "Jobs taken over from a worker whose lease ran out",
    names.METRIC_DEAD_LETTERED: "Queue messages moved to a dead-letter queue",
}
_TERMINAL: Final = {
    JobStatus.SUCCEEDED: names.METRIC_SUCCEEDED,
    JobStatus.FAILED: names.METRIC_FAILED,
    JobStatus.CANCELLED: names.METRIC_CANCELLED,
}
#: Bucket bounds (seconds) of both timings: from a millisecond to a day.
_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0,
)  # fmt: skip
#: How long a collection waits for the queues' depths before reporting the last ones read.
_DEPTH_WAIT: Final = 5.0

Attributes = tuple[tuple[str, str], ...]
DepthReader = Callable[[], Awaitable[Mapping[str, int]]]


class JobMetrics:
    """The library's instruments on one meter."""

    def __init__(self, meter: Meter) -> None:
        #: Each count by its name, then by its attributes.
        self._counts: dict[str, dict[Attributes, int]] = {name: {} for name in _COUNTS}
        for name, description in _COUNTS.items():
            meter.create_observable_counter(
                name, callbacks=[self._observer(name)], unit="{job}", description=description
            )
        self.duration = meter.create_histogram(
            names.METRIC_DURATION,
            unit="s",
            description="How long attempts took, from their claim to their end",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        self.queue_wait = meter.create_histogram(
            names.METRIC_QUEUE_WAIT,
            unit="s",
            description="How long jobs waited in their queue, from due to claimed",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        self._depth_readers: list[tuple[DepthReader, asyncio.AbstractEventLoop]] = []
        self._depths: dict[str, int] = {}
        meter.create_observable_gauge(
            names.METRIC_QUEUE_DEPTH,
            callbacks=[self._observe_depth],
            unit="{message}",
            description="Messages in each queue (approximate on Azure Storage)",
        )

    def count(self, name: str, job_type: str | None, queue: str, amount: int = 1) -> None:
        """Add ``amount`` to the count ``name`` of jobs of ``job_type`` (``None``: not
        known, a message that names none) in ``queue``."""
        key: Attributes = ((names.DESTINATION, queue),)
        if job_type is not None:
            key = ((names.JOB_TYPE, job_type), *key)
        counts = self._counts[name]
        counts[key] = counts.get(key, 0) + amount

    def ended(self, job: QueuedJob) -> None:
        """Count ``job``, just stored in the status it ends in (succeeded, failed or
        cancelled; any other is not an end, and is not counted)."""
        name = _TERMINAL.get(job.status)
        if name is not None:
            self.count(name, job.job_type, job.queue)

    def counted(self, name: str) -> int:
        """The count ``name`` so far, over every job type and queue."""
        return sum(self._counts[name].values())

    def _observer(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        counts = self._counts[name]

        def observe(_: CallbackOptions) -> Iterable[Observation]:
            return [Observation(total, dict(key)) for key, total in list(counts.items())]

        return observe

    def watch_depth(self, read: DepthReader) -> Callable[[], None]:
        """Report the depths ``read`` returns (by queue name) as the queue depth gauge,
        read on this event loop whenever a reader collects; returns the function that
        stops it (a host closing). Outside an event loop, nothing is watched."""
        try:
            entry = (read, asyncio.get_running_loop())
        except RuntimeError:
            return _nothing
        self._depth_readers.append(entry)

        def stop() -> None:
            if entry in self._depth_readers:
                self._depth_readers.remove(entry)

        return stop

    def _observe_depth(self, _: CallbackOptions) -> Iterable[Observation]:
        for read, loop in list(self._depth_readers):
            self._depths.update(_read_depths(read, loop))
        return [Observation(depth, {names.DESTINATION: q}) for q, depth in self._depths.items()]


def _nothing() -> None:
    return None


def _read_depths(read: DepthReader, loop: asyncio.AbstractEventLoop) -> Mapping[str, int]:
    """The depths, read on ``loop`` within a bound; none (the last ones stand) when the
    loop is this thread's (it cannot wait on itself), closed, or too slow."""
    if loop.is_closed() or _on_loop(loop):
        return {}
    try:
        return asyncio.run_coroutine_threadsafe(_bounded(read), loop).result(_DEPTH_WAIT + 1)
    except Exception as exc:  # a metric never breaks a collection
        log.warning("queue depths not read for the metrics (%s: %s)", type(exc).__name__, exc)
        return {}


async def _bounded(read: DepthReader) -> Mapping[str, int]:
    return await asyncio.wait_for(read(), _DEPTH_WAIT)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:  # no loop runs in this thread (a reader's own)
        return False
