"""Traces, metrics and logs of jobs, through OpenTelemetry (``docs/observability.md``).

The library uses the OpenTelemetry API alone: nothing is recorded or exported until the
application configures an SDK (``configure_azure_monitor()``, ``opentelemetry-instrument``,
or its own providers). Then a job's trace runs from the request that queued it through
every attempt; its counts and timings are metrics; and every log line about it names it
and its trace.
"""

from __future__ import annotations

from . import names
from .logs import (
    JOB_FIELDS,
    JobLogFilter,
    JsonLogFormatter,
    LogFormat,
    configure_logging,
    job_fields,
)
from .metrics import JobMetrics
from .tracing import AttemptSpan, Sending, Telemetry, context_of, continuing, trace_context_of

__all__ = [
    "JOB_FIELDS",
    "AttemptSpan",
    "JobLogFilter",
    "JobMetrics",
    "JsonLogFormatter",
    "LogFormat",
    "Sending",
    "Telemetry",
    "configure_logging",
    "context_of",
    "continuing",
    "default_telemetry",
    "job_fields",
    "names",
    "trace_context_of",
]

_default: Telemetry | None = None


def default_telemetry() -> Telemetry:
    """The library's telemetry on the global providers (made once per process: its
    counts are the process's)."""
    global _default
    if _default is None:
        _default = Telemetry()
    return _default
