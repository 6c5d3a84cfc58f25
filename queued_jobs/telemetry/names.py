"""The names queued-jobs' spans, attributes and metrics are published under (documented in
``docs/observability.md``). Attributes follow OpenTelemetry's messaging semantic
conventions where one applies; the rest are under ``queued_jobs.``."""

from __future__ import annotations

from typing import Final

__all__ = [
    "ATTEMPT",
    "CORRELATION_ID",
    "DESTINATION",
    "ERROR_TYPE",
    "INSTRUMENTATION",
    "JOB_ID",
    "JOB_TYPE",
    "MESSAGE_COUNT",
    "METRIC_CANCELLED",
    "METRIC_DEAD_LETTERED",
    "METRIC_DURATION",
    "METRIC_FAILED",
    "METRIC_QUEUED",
    "METRIC_QUEUE_DEPTH",
    "METRIC_QUEUE_WAIT",
    "METRIC_RETRIED",
    "METRIC_STARTED",
    "METRIC_SUCCEEDED",
    "METRIC_TAKEN_OVER",
    "OPERATION_NAME",
    "OPERATION_TYPE",
    "OUTCOME",
    "QUEUE_WAIT_MS",
    "RETRY_AT",
    "SYSTEM",
    "SYSTEM_NAME",
]

#: The instrumentation scope of every tracer and meter of the library.
INSTRUMENTATION: Final = "queued_jobs"

# Messaging semantic conventions.
SYSTEM: Final = "messaging.system"
#: ``messaging.system`` of every span: the messages and their meaning are queued-jobs'
#: (whatever queue carries them: Azure Storage, SQLite, memory).
SYSTEM_NAME: Final = "queued_jobs"
OPERATION_TYPE: Final = "messaging.operation.type"
OPERATION_NAME: Final = "messaging.operation.name"
DESTINATION: Final = "messaging.destination.name"
MESSAGE_COUNT: Final = "messaging.batch.message_count"
ERROR_TYPE: Final = "error.type"

# queued-jobs' own.
JOB_ID: Final = "queued_jobs.job.id"
JOB_TYPE: Final = "queued_jobs.job.type"
ATTEMPT: Final = "queued_jobs.job.attempt"
CORRELATION_ID: Final = "queued_jobs.job.correlation_id"
#: How the attempt ended: the job's status after it (``succeeded``, ``failed``,
#: ``queued`` for a retry, ...) or what became of the message (``not claimed``).
OUTCOME: Final = "queued_jobs.job.outcome"
#: From when the job was due (queued, or its run-at time) to its claim, in milliseconds.
QUEUE_WAIT_MS: Final = "queued_jobs.job.queue_wait_ms"
#: When a failed attempt's retry is due (ISO 8601).
RETRY_AT: Final = "queued_jobs.job.retry_at"

METRIC_QUEUED: Final = "queued_jobs.jobs.queued"
METRIC_STARTED: Final = "queued_jobs.jobs.started"
METRIC_SUCCEEDED: Final = "queued_jobs.jobs.succeeded"
METRIC_FAILED: Final = "queued_jobs.jobs.failed"
METRIC_RETRIED: Final = "queued_jobs.jobs.retried"
METRIC_CANCELLED: Final = "queued_jobs.jobs.cancelled"
METRIC_TAKEN_OVER: Final = "queued_jobs.jobs.taken_over"
METRIC_DEAD_LETTERED: Final = "queued_jobs.messages.dead_lettered"
METRIC_DURATION: Final = "queued_jobs.job.duration"
METRIC_QUEUE_WAIT: Final = "queued_jobs.job.queue_wait"
METRIC_QUEUE_DEPTH: Final = "queued_jobs.queue.depth"
