"""A worker whose Azure Storage cannot be reached says so while it waits, and still stops
within its grace on SIGTERM (the storage client retries a receive for about 86 s)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT

GRACE = 2.0
#: Beyond the grace: a second to give up on the hand-back, interpreter start and exit, and
#: a loaded machine. Without the fix the worker took minutes.
MARGIN = 8.0
_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def closed_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def dead_account() -> str:
    endpoint = f"http://127.0.0.1:{closed_port()}/devstoreaccount1"
    return (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={_KEY};"
        f"BlobEndpoint={endpoint};QueueEndpoint={endpoint};TableEndpoint={endpoint};"
    )


def logged(log: Path, text: str, worker: subprocess.Popen[bytes], limit: float) -> bool:
    """Whether the worker logs ``text`` within ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text():
            return True
        if worker.poll() is not None:
            pytest.fail(f"worker exited early: {log.read_text()[-3000:]}")
        time.sleep(0.1)
    return False


def test_a_worker_says_it_is_retrying_and_stops_within_its_grace_while_storage_is_down(
    tmp_path: Path,
) -> None:
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "QJ_TEST_EVENTS": str(tmp_path / "events.log"),
        "QJ_TEST_AZURE": dead_account(),
        "QJ_TEST_TABLE": "jobsoutage",
        "QJ_TEST_CONTAINER": "payloadsoutage",
        "QJ_TEST_QUEUE": "jobsoutage",
    }
    with log.open("ab") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "queued_jobs", "worker", "tests.integration.jobs:app",
             "--grace", str(GRACE)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
        )  # fmt: skip
    try:
        said_so = logged(log, "has been retrying for", worker, limit=30)
        signalled = time.monotonic()
        worker.terminate()
        try:
            code = worker.wait(timeout=GRACE + MARGIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker did not exit within {GRACE + MARGIN}s of SIGTERM")
        took = time.monotonic() - signalled
        print(f"worker exited {took:.2f}s after SIGTERM (grace {GRACE}s)")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert said_so, text[-3000:]
    assert "(storage unreachable?)" in text
    assert "stopped waiting for a receive from jobsoutage" in text  # what it gave up on
    assert re.search(r"worker \S+: stopped$", text, re.MULTILINE)
