"""Log records that say which job they are about: :class:`JobLogFilter`, and the JSON
log format of the worker and ``serve`` (:class:`JsonLogFormatter`).

While an attempt runs (and while a host settles a message of a job), the job is the
*current job* of its task: every record the filter sees then gets ``job_id``,
``job_type``, ``job_attempt``, ``trace_id`` and ``span_id`` attributes (``None`` when
there is no job, or no trace). The library's own loggers (``queued_jobs.*``) carry the
filter, so their lines have the fields wherever they are sent (a handler of the app's,
Application Insights' ``customDimensions``); add :class:`JobLogFilter` to a handler to give
every line it writes the fields, the app's own job code's included.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from opentelemetry import trace

__all__ = [
    "JOB_FIELDS",
    "JobLogFilter",
    "JsonLogFormatter",
    "LogFormat",
    "configure_logging",
    "job_fields",
    "library_logger",
]

#: The attributes :class:`JobLogFilter` gives a record.
JOB_FIELDS: Final = ("job_id", "job_type", "job_attempt", "trace_id", "span_id")
LogFormat = Literal["text", "json"]


@dataclass(frozen=True, slots=True)
class _CurrentJob:
    job_id: str
    job_type: str | None
    attempt: int | None
    #: The trace id the job was queued in (a job's lines say it even when nothing in this
    #: process traces).
    trace_id: str | None


_current: ContextVar[_CurrentJob | None] = ContextVar("queued_jobs_current_job", default=None)


@contextmanager
def job_fields(
    job_id: str,
    job_type: str | None = None,
    attempt: int | None = None,
    trace_id: str | None = None,
) -> Iterator[None]:
    """Within the block, log records of this task (and of tasks it starts) are about the
    job ``job_id`` (of ``job_type``, in ``attempt``, traced in ``trace_id``: each
    ``None`` while not known)."""
    token = _current.set(_CurrentJob(job_id, job_type, attempt, trace_id))
    try:
        yield
    finally:
        _current.reset(token)


class JobLogFilter(logging.Filter):
    """Gives each record the current job's ``job_id``, ``job_type``, ``job_attempt`` and
    the current span's ``trace_id`` and ``span_id`` (32 and 16 hex digits), each ``None``
    when there is none. A record that already has a field (``extra={"job_id": ...}``)
    keeps it. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        if "job_id" in fields and "trace_id" in fields:
            return True
        job = _current.get()
        span = trace.get_current_span().get_span_context()
        trace_id = span_id = None
        if span.is_valid:
            trace_id, span_id = format(span.trace_id, "032x"), format(span.span_id, "016x")
        elif job is not None:
            trace_id = job.trace_id
        fields.setdefault("job_id", None if job is None else job.job_id)
        fields.setdefault("job_type", None if job is None else job.job_type)
        fields.setdefault("job_attempt", None if job is None else job.attempt)
        fields.setdefault("trace_id", trace_id)
        fields.setdefault("span_id", span_id)
        return True


_FILTER: Final = JobLogFilter()


def library_logger(name: str) -> logging.Logger:
    """The library's logger ``name``, its records given the current job's fields."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


#: Attributes every record has: not repeated among a JSON line's extra fields.
_STANDARD: Final = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


#: Characters that end a line for some readers (Python's ``splitlines``, JavaScript) and
#: that JSON leaves unescaped outside ASCII.
_LINE_BREAKS: Final = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, the job's fields (:data:`JOB_FIELDS`, when set), ``exception`` (its
    traceback) and any ``extra`` fields of the record that JSON can hold (others as their
    ``repr``). Line breaks in a message stay inside its string, escaped: one record, one
    line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and value is not None and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        text = json.dumps(line, default=repr, ensure_ascii=False)
        return text.translate(_LINE_BREAKS)  # only inside strings: escaped, still JSON


def configure_logging(
    level: int = logging.WARNING,
    *,
    format: LogFormat = "text",
    text: logging.Formatter | None = None,
) -> logging.Handler:
    """Log to standard error at ``level``, as text (``text``, or a plain default) or as
    JSON lines (``format="json"``), each line with the current job's fields; returns the
    handler (on the root logger, replacing what :func:`logging.basicConfig` would)."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonLogFormatter() if format == "json" else text
    handler.setFormatter(
        formatter or logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(_FILTER)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    return handler
