"""A job's trace and its log lines, read back from in-memory exporters.

A web request (here a span of our own) queues a job that fails its first attempt; the
job runs inline. The trace shows the send, both attempts and the job's own span; the
log line of the failed attempt names the job and the trace.
"""

import asyncio
import io
import logging

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from queued_jobs import ExecutionSettings, JobApp, JobContext, MemoryStorage, RetryPolicy
from queued_jobs.telemetry import JsonLogFormatter, Telemetry

spans = InMemorySpanExporter()
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
tracer = tracer_provider.get_tracer("example")

app = JobApp(
    MemoryStorage(),
    settings=ExecutionSettings(
        telemetry=Telemetry(tracer_provider=tracer_provider),
        retry=RetryPolicy(jitter=0),
    ),
)


@app.job(name="reports.build")
async def build(request: dict[str, int], context: JobContext) -> int:
    if context.attempt == 1:
        raise RuntimeError("the database was busy")
    with tracer.start_as_current_span("render the report"):
        return request["pages"]


async def main() -> None:
    async with app.client(inline=True) as client:
        with tracer.start_as_current_span("POST /reports"):
            job = await client.queue_job("reports.build", {"pages": 3}, owner="ada")
    assert job.trace_context is not None
    print(f"job {job.status.value}, trace {job.trace_context.trace_id == trace_id()}")
    names = {span.context.span_id: span.name for span in spans.get_finished_spans()}
    for span in sorted(spans.get_finished_spans(), key=lambda span: span.start_time or 0):
        parent = names.get(span.parent.span_id, "") if span.parent else ""
        status = span.status.status_code.name
        print(f"{span.name:<20} {span.kind.name:<9} {status:<6} parent: {parent or '-'}")


def trace_id() -> str:
    (request,) = [s for s in spans.get_finished_spans() if s.name == "POST /reports"]
    return f"{request.context.trace_id:032x}"


lines = io.StringIO()
handler = logging.StreamHandler(lines)
handler.setFormatter(JsonLogFormatter())
logging.getLogger("queued_jobs.execution").addHandler(handler)
logging.getLogger("queued_jobs.execution").setLevel(logging.INFO)
asyncio.run(main())
(failed,) = [line for line in lines.getvalue().splitlines() if "attempt 1 failed" in line]
named = trace_id() in failed and '"job_attempt": 1' in failed
print("the log line names its job and trace:", named)
