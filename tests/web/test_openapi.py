"""The OpenAPI document validates, and schemathesis, generating requests from it against
the live server, finds no server error and no response off its schema: 10 examples an
operation and phase here, as many as ``QJ_FUZZ_EXAMPLES`` says for a longer hunt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.web import ApiServer

#: What every response must hold (schemathesis' checks of the same names).
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def test_the_openapi_document_names_every_route(api: ApiServer) -> None:
    with api.client(None) as http:
        document = http.get("/openapi.json").json()
    paths = set(document["paths"])
    assert {
        "/jobs",
        "/jobs/{job_id}",
        "/jobs/{job_id}/attempts",
        "/jobs/{job_id}/cancel",
        "/jobs/{job_id}/retry",
        "/jobs:retry",
        "/jobs:cancel",
        "/jobs:delete",
        "/jobs:purge",
        "/jobs/{job_id}/history",
        "/jobs/{job_id}/output",
        "/events",
        "/health",
        "/me",
        "/stats",
        "/stats/timeline",
        "/files/{container}/{name}",
        "/dead-letters",
        "/dead-letters/{band}/{side}/{message_id}:requeue",
        "/dead-letters/{band}/{side}/{message_id}",
        "/schedules",
        "/schedules:preview",
        "/schedules/{schedule_id}",
        "/schedules/{schedule_id}:pause",
        "/schedules/{schedule_id}:resume",
        "/schedules/{schedule_id}:trigger",
        "/schedules/{schedule_id}/preview",
        "/schedules/{schedule_id}/slots",
        "/sequences",
        "/sequences/{sequence_id}",
        "/sequences/{sequence_id}/cancel",
        "/sequences:purge",
    } <= paths
    assert set(document["paths"]["/schedules/{schedule_id}"]) == {"get", "patch", "delete"}
    download = document["paths"]["/files/{container}/{name}"]["get"]
    assert "401" not in download["responses"]  # the link is the credential
    assert {"403", "404"} <= set(download["responses"])
    output = document["paths"]["/jobs/{job_id}/output"]["get"]
    [after] = [p for p in output["parameters"] if p["name"] == "after"]
    assert (after["schema"]["minimum"], after["schema"]["maximum"]) == (0, 2**53 - 1)
    assert {"404", "422"} <= set(output["responses"])
    with api.client(None) as http:
        assert http.get("/docs").status_code == 404  # no pages that load a CDN's scripts


@pytest.mark.parametrize("caller", ["alice", "operator"])
def test_generated_requests_get_no_server_error_and_answers_on_schema(
    api: ApiServer, caller: str, tmp_path: Path
) -> None:
    report = tmp_path / "schemathesis.txt"
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{api.base_url}/openapi.json",
        "--checks", CHECKS,
        "--header", f"X-API-Key: {api.keys[caller]}",
        "--exclude-path", "/events",  # a stream never ends: its own tests cover it
        "--max-examples", os.environ.get("QJ_FUZZ_EXAMPLES", "10"),
        "--seed", "15",
        "--workers", "1",
        "--request-timeout", "30",
        "--phases", "examples,coverage,fuzzing,stateful",
    ]  # fmt: skip
    # In the test's own folder: schemathesis keeps a cache where it runs.
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    report.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    assert "passed" in done.stdout.lower(), done.stdout[-2000:]
