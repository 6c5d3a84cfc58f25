"""The app of the cross-process trace test, loaded by ``queued-jobs serve`` and ``worker``.

When ``QJ_TRACE_DUMP`` names a directory, importing it sets the OpenTelemetry SDK up as an
application would (global providers; the FastAPI instrumentation for the server's request
spans) with in-memory exporters, and at exit writes what they kept to
``<dir>/<pid>.json``: the spans (ids, parents, names, kinds, attributes, status, events)
and the metric points.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from queued_jobs import ExecutionSettings, JobApp, SqliteStorage
from queued_jobs.context import JobContext
from queued_jobs.retry import RetryPolicy

log = logging.getLogger("tests.traced")
log.setLevel(logging.INFO)  # the app's own lines, beside the library's


def _set_up_sdk(directory: Path) -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(tracer_provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    FastAPIInstrumentor().instrument(tracer_provider=tracer_provider)

    def dump() -> None:
        kept = [_span(span) for span in spans.get_finished_spans()]
        points = []
        data = reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        count = getattr(point, "count", None)
                        attributes = dict(point.attributes or {})
                        points.append([metric.name, attributes, value, count])
        text = json.dumps({"spans": kept, "metrics": points})
        (directory / f"{os.getpid()}.json").write_text(text)

    atexit.register(dump)
    # uvicorn raises the signal it stopped for again once it has shut down: this handler
    # (restored by then) makes that a normal exit, which runs ``dump``.
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))


def _span(span: Any) -> dict[str, Any]:
    parent = span.parent
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": f"{span.context.trace_id:032x}",
        "span_id": f"{span.context.span_id:016x}",
        "parent_id": None if parent is None else f"{parent.span_id:016x}",
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code.name,
        "events": [{"name": e.name, **dict(e.attributes or {})} for e in span.events],
    }


if os.environ.get("QJ_TRACE_DUMP"):
    _set_up_sdk(Path(os.environ["QJ_TRACE_DUMP"]))

app = JobApp(
    SqliteStorage(os.environ.get("QJ_TRACE_DB", ":memory:")),
    settings=ExecutionSettings(retry=RetryPolicy(first=timedelta(milliseconds=200), jitter=0)),
)


@app.job(name="traced.flaky", max_attempts=3)
async def flaky(request: dict[str, int], context: JobContext) -> int:
    """Fails its first attempt; then traces a span of its own and succeeds."""
    from opentelemetry import trace

    log.info("traced.flaky: attempt %s begins", context.attempt)
    if context.attempt == 1:
        raise RuntimeError("the first attempt fails")
    with trace.get_tracer("tests.traced").start_as_current_span("the job's own work"):
        context.logger.info("the job's own work is done")
    return request["n"] * 2
