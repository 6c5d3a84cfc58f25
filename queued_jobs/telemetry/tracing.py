"""The spans of a job: ``send <queue>`` as it is queued, ``process <queue>`` per attempt.

The span that queues a job (a producer span, child of whatever span is current: the web
request's, say) is written into the job's record as W3C trace context
(:class:`~queued_jobs.models.TraceContext`), and so into its queue message's snapshot.
Each attempt's span (a consumer span) is that span's child, whichever process or host
claims it: one trace holds the request, the enqueue, every attempt with its error, and
what the job's code itself traces (its spans are the attempt's children). The wait in the
queue is the gap between the two, and the attempt's ``queued_jobs.job.queue_wait_ms``.

Nothing is recorded unless the application configures an OpenTelemetry SDK: with the API
alone every span is a no-op, and a job still carries its caller's trace context, if the
caller had one, so that its log lines name the trace.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Final

from opentelemetry import trace
from opentelemetry.context import Context, attach, detach
from opentelemetry.metrics import MeterProvider, get_meter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TracerProvider,
    TraceState,
)

from ..models import JobError, JobStatus, QueuedJob, TraceContext
from ..models.trace import TRACESTATE_LIMIT
from . import names
from .logs import job_fields
from .metrics import JobMetrics

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["AttemptSpan", "Telemetry", "context_of", "continuing", "trace_context_of"]

_NO_TRACE: Final = trace.INVALID_SPAN_CONTEXT
_PLACEHOLDERS: Final = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
_RETRIED: Final = (JobStatus.QUEUED, JobStatus.SCHEDULED)
_STATUS_TEXT: Final = 500


def trace_context_of(span: Span) -> TraceContext | None:
    """``span``'s context as W3C trace context; for a span that records nothing (no SDK),
    the current span's (a caller's, propagated); ``None`` if neither is valid."""
    found = span.get_span_context()
    if not found.is_valid:
        found = trace.get_current_span().get_span_context()
        if not found.is_valid:
            return None
    state = found.trace_state.to_header() if found.trace_state else None
    if state is not None and len(state) > TRACESTATE_LIMIT:  # a caller's: kept to the W3C's
        state = None
    return TraceContext(
        traceparent=f"00-{found.trace_id:032x}-{found.span_id:016x}-{found.trace_flags:02x}",
        tracestate=state or None,
    )


def context_of(job: QueuedJob) -> Context | None:
    """The OpenTelemetry context ``job`` was queued in (its spans' parent), if any."""
    return _context(job.trace_context)


@contextmanager
def continuing(carried: TraceContext | None) -> Iterator[None]:
    """Within the block, what is traced is in the trace of ``carried``, as a child of the
    span it names (a webhook's delivery of a job's change, in the job's trace)."""
    found = _context(carried)
    if found is None:
        yield
        return
    token = attach(found)
    try:
        yield
    finally:
        detach(token)


def _context(carried: TraceContext | None) -> Context | None:
    """The context whose current span is the remote one ``carried`` names (read from its
    already checked form, without parsing it again)."""
    if carried is None:
        return None
    parent, state = carried.traceparent, carried.tracestate
    remote = SpanContext(
        int(parent[3:35], 16),
        int(parent[36:52], 16),
        is_remote=True,
        trace_flags=TraceFlags(int(parent[53:55], 16)),
        trace_state=TraceState.from_header([state]) if state else None,
    )
    if not remote.is_valid:  # an all-zero id: the W3C says to ignore the header
        return None
    return trace.set_span_in_context(NonRecordingSpan(remote))


class Telemetry:
    """The library's tracer and instruments, on the global providers by default (the ones
    an application configures, through ``configure_azure_monitor()``, say), or on those
    given (a test's, with in-memory exporters). Give it to the app with
    ``ExecutionSettings(telemetry=...)``."""

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        from .. import __version__

        self._tracer_provider = tracer_provider
        self.tracer = trace.get_tracer(
            names.INSTRUMENTATION, __version__, tracer_provider=tracer_provider
        )
        self.metrics = JobMetrics(
            get_meter(names.INSTRUMENTATION, __version__, meter_provider=meter_provider)
        )

    def _traced(self) -> bool:
        """Whether spans go anywhere: a provider was given, or the application set one up
        (until it does, the global one is a placeholder and every span a no-op)."""
        provider = self._tracer_provider or trace.get_tracer_provider()
        return not isinstance(provider, _PLACEHOLDERS)

    @contextmanager
    def sending(self, queue: str | None, count: int = 1) -> Iterator[Sending]:
        """The span of queueing ``count`` jobs to ``queue`` (``None``: to several):
        current within the block, its trace context what the jobs carry. An error leaving
        the block is recorded on it."""
        attributes: dict[str, str | int] = {
            names.SYSTEM: names.SYSTEM_NAME,
            names.OPERATION_TYPE: "send",
            names.OPERATION_NAME: "send",
        }
        if queue is not None:
            attributes[names.DESTINATION] = queue
        if count != 1:
            attributes[names.MESSAGE_COUNT] = count
        if not self._traced():  # no span: the jobs carry the caller's context, if any
            yield Sending(self, trace.INVALID_SPAN)
            return
        name = "send" if queue is None else f"send {queue}"
        with self.tracer.start_as_current_span(
            name, kind=SpanKind.PRODUCER, attributes=attributes
        ) as span:
            yield Sending(self, span)

    def retrying_by_hand(self, job: QueuedJob) -> AbstractContextManager[Sending]:
        """The span of queueing ``job`` again by hand: in the caller's trace, linked to
        the job's own (its record keeps that one)."""
        carried = context_of(job)
        link = trace.get_current_span(carried).get_span_context() if carried else _NO_TRACE
        return self._linked(job.queue, link)

    @contextmanager
    def _linked(self, queue: str, link: trace.SpanContext) -> Iterator[Sending]:
        with self.tracer.start_as_current_span(
            f"send {queue}",
            kind=SpanKind.PRODUCER,
            attributes={
                names.SYSTEM: names.SYSTEM_NAME,
                names.OPERATION_TYPE: "send",
                names.OPERATION_NAME: "retry",
                names.DESTINATION: queue,
            },
            links=[Link(link)] if link.is_valid else None,
        ) as span:
            yield Sending(self, span)

    @contextmanager
    def attempt(self, job: QueuedJob, began: int) -> Iterator[AttemptSpan]:
        """The span of the attempt at the claimed ``job`` that began (before its claim)
        at ``began`` (``time.time_ns()``): current within the block, as the job's fields
        are for log records. Its queue wait is recorded now."""
        queue, carried = job.queue, job.trace_context
        waited = _waited(job)
        span = (
            self.tracer.start_span(
                f"process {queue}",
                context=_context(carried),
                kind=SpanKind.CONSUMER,
                start_time=began,
            )
            if self._traced()
            else trace.INVALID_SPAN
        )
        recording = span.is_recording()
        if recording:  # no attributes are made for a span nobody keeps
            span.set_attributes(_attempt_attributes(job, waited))
        metrics = self.metrics
        metrics.count(names.METRIC_STARTED, job.job_type, queue)
        kind = {names.JOB_TYPE: job.job_type, names.DESTINATION: queue}
        metrics.queue_wait.record(waited, kind)
        scope = AttemptSpan(span)
        trace_id = None if carried is None else carried.trace_id
        try:
            with job_fields(job.id, job.job_type, job.attempts, trace_id):
                if recording:
                    with trace.use_span(
                        span, record_exception=False, set_status_on_exception=False
                    ):
                        yield scope
                else:
                    yield scope
        except BaseException as exc:
            if recording:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            span.end()
            metrics.duration.record((time.time_ns() - began) / 1e9, kind)
            scope.count(metrics, job)


def _attempt_attributes(job: QueuedJob, waited: float) -> dict[str, str | int | float]:
    attributes: dict[str, str | int | float] = {
        names.SYSTEM: names.SYSTEM_NAME,
        names.OPERATION_TYPE: "process",
        names.DESTINATION: job.queue,
        names.JOB_ID: job.id,
        names.JOB_TYPE: job.job_type,
        names.ATTEMPT: job.attempts,
        names.QUEUE_WAIT_MS: round(waited * 1000, 3),
    }
    if job.correlation_id is not None:
        attributes[names.CORRELATION_ID] = job.correlation_id
    return attributes


def _waited(job: QueuedJob) -> float:
    """Seconds from when the claimed ``job`` was due (queued, or its run-at time) to its
    claim (never less than 0: clocks of hosts differ)."""
    claimed = job.attempt_started_at or job.updated_at
    due: datetime = job.created_at if job.run_at is None else max(job.run_at, job.created_at)
    return max((claimed - due).total_seconds(), 0.0)


class Sending:
    """The span of a send, and the trace context the jobs it sends carry."""

    def __init__(self, telemetry: Telemetry, span: Span) -> None:
        self._metrics = telemetry.metrics
        self.span = span
        self.trace_context = trace_context_of(span)

    def sent(self, jobs: Sequence[QueuedJob]) -> None:
        """``jobs`` were stored (and sent, unless scheduled): counted as queued."""
        for job in jobs:
            self._metrics.count(names.METRIC_QUEUED, job.job_type, job.queue)
        if len(jobs) == 1 and self.span.is_recording():
            job = jobs[0]
            self.span.set_attributes(
                {names.JOB_ID: job.id, names.JOB_TYPE: job.job_type, names.DESTINATION: job.queue}
            )


class AttemptSpan:
    """What an attempt's span learns as it ends: how, and with what error."""

    def __init__(self, span: Span) -> None:
        self.span = span
        self._ended: QueuedJob | None = None
        self._failed = False

    def ended(self, stored: QueuedJob, error: JobError | None, *, failed: bool) -> None:
        """The attempt ended leaving its job ``stored`` (``failed``: its code failed, or it
        timed out; ``error``: why)."""
        self._ended, self._failed = stored, failed
        span = self.span
        span.set_attribute(names.OUTCOME, stored.status.value)
        if error is None or not (failed or stored.status is JobStatus.FAILED):
            return
        span.set_attribute(names.ERROR_TYPE, error.type)
        span.add_event(
            "exception",
            {
                "exception.type": error.type,
                "exception.message": error.message,
                "exception.stacktrace": error.traceback or "",
            },
        )
        span.set_status(Status(StatusCode.ERROR, f"{error.type}: {error.message}"[:_STATUS_TEXT]))
        if stored.status in _RETRIED and stored.run_at is not None:
            span.set_attribute(names.RETRY_AT, stored.run_at.isoformat())

    def count(self, metrics: JobMetrics, job: QueuedJob) -> None:
        stored = self._ended
        if stored is None:
            return
        if stored.is_terminal:
            metrics.ended(stored)
        elif self._failed and stored.status in _RETRIED:
            metrics.count(names.METRIC_RETRIED, job.job_type, job.queue)
