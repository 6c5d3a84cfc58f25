"""The log filter that names a record's job and trace, and the JSON log format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from queued_jobs.telemetry import JobLogFilter, JsonLogFormatter, configure_logging, job_fields
from queued_jobs.telemetry.logs import library_logger
from tests.support.telemetry import Recorded


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own writing JSON lines, through the filter, to a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(JobLogFilter())
    logger = logging.getLogger("tests.telemetry.lines")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)


def _read(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_outside_a_job_the_fields_are_there_and_empty(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines
    logger.info("nothing about a job")
    (line,) = _read(buffer)
    assert line["message"] == "nothing about a job"
    assert line["level"] == "INFO"
    assert line["logger"] == "tests.telemetry.lines"
    assert not {"job_id", "job_type", "job_attempt", "trace_id", "span_id"} & set(line)


def test_within_a_job_a_line_names_it_and_the_trace_it_was_queued_in(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines
    with job_fields("0" * 29, "reports.build", 2, "ab" * 16):
        logger.warning("about the job")
    logger.info("after it")
    about, after = _read(buffer)
    assert about["job_id"] == "0" * 29
    assert about["job_type"] == "reports.build"
    assert about["job_attempt"] == 2
    assert about["trace_id"] == "ab" * 16
    assert "job_id" not in after


def test_the_current_span_names_the_trace_and_a_given_field_is_kept(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines
    tracer = Recorded().tracer_provider.get_tracer("tests")
    with tracer.start_as_current_span("work") as span, job_fields("1" * 29, "t", 1, "cd" * 16):
        logger.info("in a span", extra={"job_id": "given"})
    (line,) = _read(buffer)
    context = span.get_span_context()
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"
    assert line["job_id"] == "given"
    assert line["job_type"] == "t"


def test_a_json_line_holds_any_message_and_extra_on_one_line(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logger.exception("two\nlines \x00 and \u2028", extra={"thing": object(), "n": 3})
    (line,) = _read(buffer)  # one record, one line, whatever it holds
    assert line["message"] == "two\nlines \x00 and \u2028"
    assert line["n"] == 3
    assert str(line["thing"]).startswith("<object object")
    assert "ValueError: bad\nvalue" in str(line["exception"])


def test_the_librarys_loggers_name_the_job_whatever_handler_writes_them() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = library_logger("queued_jobs.tests.telemetry")
    keep = Keep()
    logger.addHandler(keep)
    try:
        with job_fields("2" * 29, "t", 3):
            logger.warning("from the library")
    finally:
        logger.removeHandler(keep)
    (record,) = records
    assert (record.job_id, record.job_type, record.job_attempt) == ("2" * 29, "t", 3)  # type: ignore[attr-defined]


def test_configure_logging_writes_json_with_the_fields(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(logging.INFO, format="json")
        with job_fields("3" * 29, "t", 1):
            logging.getLogger("tests.telemetry.configured").info("configured")
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines() if "configured" in x]
    assert line["job_id"] == "3" * 29
    assert line["message"] == "configured"
