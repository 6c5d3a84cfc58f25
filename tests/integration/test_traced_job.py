"""One trace from the web request that queues a job, in the API server's process, to each
attempt, in a worker's process: the SDK's in-memory exporters of both processes read back
(``tests/integration/traced_app.py``), and the worker's JSON log lines."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.processes import stop_all
from tests.support.web import ROOT, start_api_server

APP = "tests.integration.traced_app:app"


def _wait_for_status(server: Any, job_id: str, status: str, limit: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    with server.client("alice") as http:
        while True:
            job: dict[str, Any] = http.get(f"/jobs/{job_id}").json()
            if job.get("status") == status:
                return job
            assert time.monotonic() < deadline, f"job still {job.get('status')}: {job}"
            time.sleep(0.05)


def _dumps(directory: Path, pid: int, limit: float = 30.0) -> dict[str, Any]:
    path = directory / f"{pid}.json"
    deadline = time.monotonic() + limit
    while not path.exists():
        assert time.monotonic() < deadline, f"process {pid} wrote no telemetry"
        time.sleep(0.05)
    found: dict[str, Any] = json.loads(path.read_text())
    return found


def _ancestors(spans: list[dict[str, Any]], span: dict[str, Any]) -> list[str]:
    """The ids of ``span``'s parent, its parent's parent, ... among ``spans``."""
    by_id = {s["span_id"]: s for s in spans}
    found, parent = [], span["parent_id"]
    while parent is not None and parent not in found:
        found.append(parent)
        parent = by_id[parent]["parent_id"] if parent in by_id else None
    return found


def test_a_job_queued_by_a_request_and_run_by_a_worker_is_one_trace(tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    env = {"QJ_TRACE_DB": str(tmp_path / "jobs.db"), "QJ_TRACE_DUMP": str(dumps)}
    server = start_api_server(APP, env, tmp_path / "server.log")
    worker_log = tmp_path / "worker.log"
    worker = None
    try:
        trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
        with server.client("alice") as http:
            created = http.post(
                "/jobs",
                json={"type": "traced.flaky", "request": {"n": 21}},
                headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
            )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        with worker_log.open("ab") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "queued_jobs", "worker", APP, "--log-format", "json"],
                cwd=ROOT,
                env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                stdout=out,
                stderr=out,
            )
        done = _wait_for_status(server, job_id, "succeeded")
        assert done["result"] == 42
    finally:
        stop_all([p for p in (worker,) if p is not None])
        server.stop()
    assert worker is not None
    served, worked = _dumps(dumps, server.process.pid), _dumps(dumps, worker.pid)

    # The server: the request's span continues the caller's trace; the send is its child.
    spans = served["spans"]
    (request,) = [s for s in spans if s["kind"] == "SERVER" and s["trace_id"] == trace_id]
    assert request["name"] == "POST /jobs"
    assert request["trace_id"] == trace_id
    assert request["parent_id"] == caller_span
    (send,) = [s for s in spans if s["name"].startswith("send ")]
    assert send["kind"] == "PRODUCER"
    assert send["trace_id"] == trace_id
    assert request["span_id"] in _ancestors(spans, send)  # under the endpoint's span
    assert send["attributes"]["queued_jobs.job.id"] == job_id

    # The worker: an attempt span per attempt, each the send's child, in the same trace.
    attempts = sorted(
        (s for s in worked["spans"] if s["name"].startswith("process ")),
        key=lambda s: s["attributes"]["queued_jobs.job.attempt"],
    )
    assert [a["attributes"]["queued_jobs.job.attempt"] for a in attempts] == [1, 2]
    for attempt in attempts:
        assert attempt["kind"] == "CONSUMER"
        assert attempt["trace_id"] == trace_id
        assert attempt["parent_id"] == send["span_id"]
        assert attempt["attributes"]["queued_jobs.job.id"] == job_id
    failed, succeeded = attempts
    assert failed["status"] == "ERROR"
    assert failed["attributes"]["queued_jobs.job.outcome"] == "queued"
    assert "queued_jobs.job.retry_at" in failed["attributes"]
    (exception,) = [e for e in failed["events"] if e["name"] == "exception"]
    assert exception["exception.type"] == "builtins.RuntimeError"
    assert exception["exception.message"] == "the first attempt fails"
    assert succeeded["status"] != "ERROR"
    assert succeeded["attributes"]["queued_jobs.job.outcome"] == "succeeded"
    (own,) = [s for s in worked["spans"] if s["name"] == "the job's own work"]
    assert own["trace_id"] == trace_id
    assert own["parent_id"] == succeeded["span_id"]

    # The counts: one job queued by the server; two starts, a retry, a success in the worker.
    def total(dump: dict[str, Any], name: str) -> float:
        return sum(
            value
            for metric, attributes, value, _ in dump["metrics"]
            if metric == name and attributes.get("queued_jobs.job.type") == "traced.flaky"
        )

    assert total(served, "queued_jobs.jobs.queued") == 1
    assert total(worked, "queued_jobs.jobs.started") == 2
    assert total(worked, "queued_jobs.jobs.retried") == 1
    assert total(worked, "queued_jobs.jobs.succeeded") == 1
    assert total(worked, "queued_jobs.jobs.failed") == 0
    durations = [c for m, a, _, c in worked["metrics"] if m == "queued_jobs.job.duration"]
    assert sum(durations) == 2

    # The worker's log lines are JSON, and those about the job name it and its trace.
    lines = [json.loads(line) for line in worker_log.read_text().splitlines() if line]
    about = [line for line in lines if line.get("job_id") == job_id]
    assert {line["job_attempt"] for line in about} == {1, 2}
    assert all(line["trace_id"] == trace_id for line in about)
    assert all(line["job_type"] == "traced.flaky" for line in about)
    loggers = {line["logger"] for line in about}
    assert "tests.traced" in loggers
    assert "queued_jobs.job" in loggers
    assert any(name.startswith("queued_jobs.execution") for name in loggers), loggers


def test_serve_writes_json_lines_its_own_and_uvicorns(tmp_path: Path) -> None:
    env = {"QJ_TRACE_DB": str(tmp_path / "jobs.db")}
    log = tmp_path / "server.log"
    server = start_api_server(APP, env, log, options=("--log-format", "json"))
    try:
        with server.client("alice") as http:
            assert http.get("/jobs", params={"limit": 1}).status_code == 200
    finally:
        server.stop()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    loggers = {line["logger"] for line in lines}
    assert {"uvicorn.error", "uvicorn.access"} <= loggers, loggers
    (access,) = [x for x in lines if x["logger"] == "uvicorn.access" and "/jobs" in x["message"]]
    assert "GET /jobs" in access["message"]
    assert access["level"] == "INFO"
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
