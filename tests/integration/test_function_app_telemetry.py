"""The sample Function App sends traces, metrics and logs to Application Insights.

The app runs in a process of its own (``function_app_telemetry_run.py``) with a connection
string whose ingestion endpoint is a server of this test: it queues a job, runs it through
the queue trigger and flushes. The server answers as Application Insights' ``/v2.1/track``
does and keeps the envelopes, which are what Application Insights would store as rows of
``requests``, ``dependencies``, ``traces`` and ``customMetrics``.

The assertions marked ``TELEMETRY PACKAGE`` need the spans, metrics and log attributes of
``queued_jobs.telemetry``: their tests are expected to fail while that package does not
exist, and must pass once it does."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.support.azurite import Azurite
from tests.support.http_stub import serving

pytestmark = pytest.mark.azurite

ROOT = Path(__file__).resolve().parents[2]
RUN = Path(__file__).with_name("function_app_telemetry_run.py")
INSTRUMENTATION_KEY = "00000000-0000-0000-0000-000000000000"
#: Seconds the app's process may take, start to exit (it takes about 3).
RUN_TIMEOUT = 60
#: Settings of the sample's distro that the test turns off: Microsoft's own usage reports
#: (statsbeat) and remote configuration (OneSettings) would call endpoints on the internet.
#: The tests of what ``queued_jobs.telemetry`` emits (spans, counters, log attributes), in
#: the package the app's process imports (this checkout's).
needs_telemetry_package = pytest.mark.xfail(
    not any((ROOT / "queued_jobs" / name).exists() for name in ("telemetry", "telemetry.py")),
    reason="queued_jobs.telemetry is not there yet",
    strict=True,
)
QUIET = {
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
    # Every trace kept: the distro's default keeps at most 5 a second, which a test of two
    # spans does not reach, but a sampled-out span would make this test flaky.
    "OTEL_TRACES_SAMPLER": "always_on",
    "OTEL_SERVICE_NAME": "queued-jobs-sample",
}


def envelopes_in(body: bytes) -> list[dict[str, Any]]:
    """The exporter's body: a JSON array (or newline-delimited JSON), maybe gzip-compressed."""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    text = body.decode()
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return parsed if isinstance(parsed, list) else [parsed]


class Ingestion:
    """Application Insights' ingestion endpoint: accepts every envelope and keeps it."""

    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []
        self.paths: set[str] = set()

    async def track(self, request: web.Request) -> web.Response:
        self.paths.add(request.path)
        received = envelopes_in(await request.read())
        self.envelopes.extend(received)
        count = len(received)
        return web.json_response({"itemsReceived": count, "itemsAccepted": count, "errors": []})

    def of_type(self, base_type: str) -> list[dict[str, Any]]:
        return [e for e in self.envelopes if e["data"]["baseType"] == base_type]


async def run_sample_app(
    azurite: Azurite, ingestion_url: str, tmp_path: Path
) -> tuple[dict[str, str], str]:
    """The app's process, to its exit: its JSON line and its stderr."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("APPLICATIONINSIGHTS_", "PYTHON_APPLICATIONINSIGHTS_", "OTEL_"))
    }
    environ |= QUIET | {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": (
            f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint={ingestion_url}/"
        ),
        "AzureWebJobsStorage": azurite.connection_string,
        "QUEUED_JOBS_QUEUE": f"tel{uuid.uuid4().hex[:10]}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        # The exporter keeps what it could not send under the temporary folder, and sends it
        # with the next batch: this test's own folder, so no earlier run's items come along.
        "TMPDIR": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(RUN),
        env=environ,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    stderr = err.decode(errors="replace")
    assert process.returncode == 0, stderr
    return json.loads(out.decode().splitlines()[-1]), stderr


@pytest.fixture(scope="module")
def telemetry(
    azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, str], Ingestion]:
    """One job run by the sample app, and what Application Insights received of it: the
    app's process has flushed and ended, so every envelope is in."""
    ingestion = Ingestion()

    async def run() -> dict[str, str]:
        # Every path: the exporter joins the endpoint's trailing slash and `/v2.1/track`.
        async with serving(("/{path:.*}", ingestion.track)) as url:
            job, _stderr = await run_sample_app(azurite, url, tmp_path_factory.mktemp("app"))
        return job

    job = asyncio.run(run())
    assert job["status"] == "succeeded"
    return job, ingestion


def test_every_envelope_goes_to_the_connection_strings_resource(
    telemetry: tuple[dict[str, str], Ingestion],
) -> None:
    _job, ingestion = telemetry

    assert ingestion.envelopes
    assert {path.lstrip("/") for path in ingestion.paths} == {"v2.1/track"}
    assert {e["iKey"] for e in ingestion.envelopes} == {INSTRUMENTATION_KEY}
    roles = {e["tags"].get("ai.cloud.role") for e in ingestion.envelopes}
    assert roles == {QUIET["OTEL_SERVICE_NAME"]}  # cloud_RoleName in every table


def test_the_queued_jobs_log_line_of_the_attempt_becomes_a_trace_row(
    telemetry: tuple[dict[str, str], Ingestion],
) -> None:
    job, ingestion = telemetry

    lines = [
        e["data"]["baseData"]
        for e in ingestion.of_type("MessageData")
        if e["data"]["baseData"]["properties"].get("logger_name", "").startswith("queued_jobs")
    ]
    [attempt] = [line for line in lines if job["job_id"] in line["message"]]
    assert "succeeded" in attempt["message"]
    assert attempt["severityLevel"] == 1  # Information: traces.severityLevel


@needs_telemetry_package
def test_the_process_span_is_a_request_in_the_trace_of_its_send_span(
    telemetry: tuple[dict[str, str], Ingestion],
) -> None:
    job, ingestion = telemetry
    # TELEMETRY PACKAGE: the `send <queue>` and `process <queue>` spans.
    [send] = [
        e
        for e in ingestion.of_type("RemoteDependencyData")
        if e["data"]["baseData"]["name"] == f"send {job['queue']}"
    ]
    [process] = [
        e
        for e in ingestion.of_type("RequestData")
        if e["data"]["baseData"]["name"] == f"process {job['queue']}"
    ]

    assert process["tags"]["ai.operation.id"] == send["tags"]["ai.operation.id"]
    request = process["data"]["baseData"]
    assert request["success"] is True
    dimensions = request["properties"]  # customDimensions
    assert dimensions["queued_jobs.job.id"] == job["job_id"]
    assert dimensions["queued_jobs.job.type"] == "samples.greet"
    assert dimensions["queued_jobs.job.attempt"] == "1"
    assert float(dimensions["queued_jobs.job.queue_wait_ms"]) >= 0
    # The attempt's log line is in the same operation, a child of the process span.
    [attempt] = [
        e
        for e in ingestion.of_type("MessageData")
        if job["job_id"] in e["data"]["baseData"]["message"]
        and e["data"]["baseData"]["properties"].get("logger_name", "").startswith("queued_jobs")
    ]
    assert attempt["tags"]["ai.operation.id"] == process["tags"]["ai.operation.id"]
    assert attempt["data"]["baseData"]["properties"]["job_id"] == job["job_id"]


@needs_telemetry_package
def test_the_job_counters_are_custom_metrics_by_job_type_and_queue(
    telemetry: tuple[dict[str, str], Ingestion],
) -> None:
    job, ingestion = telemetry
    points: dict[tuple[str, str | None, str | None], float] = {}
    for envelope in ingestion.of_type("MetricData"):
        dimensions = envelope["data"]["baseData"]["properties"]  # customDimensions
        for metric in envelope["data"]["baseData"]["metrics"]:
            key = (
                metric["name"],
                dimensions.get("queued_jobs.job.type"),
                dimensions.get("messaging.destination.name"),
            )
            points[key] = points.get(key, 0) + metric["value"]

    # TELEMETRY PACKAGE: the meter `queued_jobs` and its counters.
    for counter in ("queued", "started", "succeeded"):
        assert points[(f"queued_jobs.jobs.{counter}", "samples.greet", job["queue"])] == 1
    assert not [key for key in points if key[0] == "queued_jobs.jobs.failed"]
