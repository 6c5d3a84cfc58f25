"""Job code that does not stop when told to: time limits and shutdown still hold, no second
run starts beside one we could not stop, and a worker process exits within its grace."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest

from queued_jobs.client import JobClient
from queued_jobs.models import AttemptOutcome, JobStatus, QueuedJob
from tests.integration.conftest import ROOT, Backend
from tests.integration.jobs import events
from tests.integration.stopping_jobs import STOP_TIMEOUT, build_stopping_app
from tests.integration.test_execution import ClientOf, RunWorker, finished, outcomes

pytestmark = pytest.mark.asyncio

GRACE = 0.5
#: What a worker may take beyond ``GRACE + STOP_TIMEOUT`` to exit: a second to hand back,
#: interpreter start and exit, and a loaded machine.
MARGIN = 8.0


def spawn(backend: Backend, *, grace: float = GRACE) -> subprocess.Popen[bytes]:
    """``queued-jobs worker`` on the stopping jobs' app, in a process of its own."""
    env = {**os.environ, **backend.env, "QJ_TEST_LEASE": "2", "PYTHONPATH": str(ROOT)}
    with backend.worker_log.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "queued_jobs", "worker",
             "tests.integration.stopping_jobs:app", "--grace", str(grace)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )  # fmt: skip


async def started(backend: Backend, job: QueuedJob, worker: subprocess.Popen[bytes]) -> None:
    async with asyncio.timeout(30):
        while not events(backend.events, "start", job.id):
            if worker.poll() is not None:
                pytest.fail(f"worker exited early: {backend.worker_log.read_text()[-2000:]}")
            await asyncio.sleep(0.05)


async def terminated_once_started(backend: Backend, job: QueuedJob) -> None:
    """Start a worker, SIGTERM it once ``job`` started (bounded: see :func:`terminated`),
    and never leave its process behind."""
    worker = spawn(backend)
    try:
        await started(backend, job, worker)
        terminated(worker, backend)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def terminated(worker: subprocess.Popen[bytes], backend: Backend) -> float:
    """SIGTERM ``worker``; how long it took to exit (fails the test past the bound)."""
    bound = GRACE + STOP_TIMEOUT + MARGIN
    signalled = time.monotonic()
    worker.terminate()
    try:
        code = worker.wait(timeout=bound)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        pytest.fail(f"the worker did not exit within {bound}s of SIGTERM")
    took = time.monotonic() - signalled
    print(f"worker exited {took:.2f}s after SIGTERM (grace {GRACE}s)")
    assert code == 0, backend.worker_log.read_text()[-3000:]
    return took


async def test_a_stopped_worker_leaves_a_running_sync_job_to_its_lease_and_exits_in_time(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = build_stopping_app(backend.storage)
    client: JobClient = await client_of(app)
    job = await client.queue_job("tests.blocking", {"seconds": [30, 0.1]}, owner="alice")
    await terminated_once_started(backend, job)
    left = await client.get_job(job.id)
    assert left.status is JobStatus.RUNNING  # not handed back: its thread was still running
    assert "left to its lease" in backend.worker_log.read_text()

    await run_worker(app, finished(client, job.id))

    assert (await client.get_job(job.id)).status is JobStatus.SUCCEEDED
    assert events(backend.events, "start", job.id) == [1, 2]
    assert events(backend.events, "done", job.id) == [2]  # the first run died with its process
    assert await outcomes(client, job) == [AttemptOutcome.ABANDONED, AttemptOutcome.SUCCEEDED]


async def test_a_stopped_worker_hands_back_a_sync_job_that_stops_when_told(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = build_stopping_app(backend.storage)
    client: JobClient = await client_of(app)
    job = await client.queue_job("tests.cooperative", {"seconds": [30, 0.1]}, owner="alice")
    await terminated_once_started(backend, job)
    assert events(backend.events, "stopped", job.id) == [1]
    handed_back = await client.get_job(job.id)
    assert (handed_back.status, handed_back.lease_owner) == (JobStatus.QUEUED, None)

    await run_worker(app, finished(client, job.id))

    assert events(backend.events, "done", job.id) == [2]
    assert await outcomes(client, job) == [AttemptOutcome.RELEASED, AttemptOutcome.SUCCEEDED]


async def test_a_job_that_swallows_cancellation_does_not_keep_its_worker_from_exiting(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = build_stopping_app(backend.storage)
    client: JobClient = await client_of(app)
    job = await client.queue_job("tests.stubborn", {"seconds": [600, 0.1]}, owner="alice")
    await terminated_once_started(backend, job)
    log = backend.worker_log.read_text()
    assert "did not stop when told to" in log
    assert events(backend.events, "ignored-cancel", job.id)

    await run_worker(app, finished(client, job.id))

    assert events(backend.events, "done", job.id) == [2]
    assert await outcomes(client, job) == [AttemptOutcome.ABANDONED, AttemptOutcome.SUCCEEDED]


async def test_max_run_time_holds_against_a_job_that_swallows_cancellation(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = build_stopping_app(backend.storage)
    client: JobClient = await client_of(app)
    job = await client.queue_job(
        "tests.stubborn",
        {"seconds": [4]},
        owner="alice",
        max_run_time=timedelta(milliseconds=300),
        max_attempts=1,
    )

    await run_worker(app, finished(client, job.id))

    timed_out = await client.get_job(job.id)
    assert timed_out.status is JobStatus.FAILED
    assert timed_out.error is not None
    assert timed_out.error.type == "queued_jobs.errors.JobTimedOut"
    assert (timed_out.lease_owner, timed_out.lease_expires_at) == (None, None)
    assert await outcomes(client, job) == [AttemptOutcome.TIMED_OUT]
    assert timed_out.duration is not None
    assert timed_out.duration < timedelta(seconds=STOP_TIMEOUT + 3)
    await _until(lambda: bool(events(backend.events, "done", job.id)))
    assert (await client.get_job(job.id)).version == timed_out.version  # nothing renewed it


async def test_a_sync_job_past_its_max_run_time_keeps_its_lease_until_its_thread_ends(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = build_stopping_app(backend.storage)
    client: JobClient = await client_of(app)
    job = await client.queue_job(
        "tests.blocking",
        {"seconds": [3, 0.1]},
        owner="alice",
        max_run_time=timedelta(milliseconds=500),
        max_attempts=2,
    )

    await run_worker(app, finished(client, job.id))

    done = await client.get_job(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert await outcomes(client, job) == [AttemptOutcome.TIMED_OUT, AttemptOutcome.SUCCEEDED]
    lines = [line.split()[:3] for line in backend.events.read_text().splitlines()]
    ours = [(event, int(attempt)) for event, job_id, attempt in lines if job_id == job.id]
    assert ours == [("start", 1), ("done", 1), ("start", 2), ("done", 2)]  # never overlapping


async def _until(condition: Any) -> None:
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110 - a file another task appends to
            await asyncio.sleep(0.05)


async def test_a_worker_outlives_hooks_that_raise_system_exit_and_keyboard_interrupt(
    backend: Backend, client_of: ClientOf
) -> None:
    app = build_stopping_app(backend.storage)
    client: JobClient = await client_of(app)
    hostile = [await client.queue_job("tests.hostile_hooks", {}, owner="alice") for _ in range(2)]
    normal = [await client.queue_job("tests.work", {}, owner="bob") for _ in range(3)]
    worker = spawn(backend)
    try:
        async with asyncio.timeout(60):
            check = finished(client, *(job.id for job in [*hostile, *normal]))
            while not await check():
                if worker.poll() is not None:
                    pytest.fail(f"the worker exited: {backend.worker_log.read_text()[-3000:]}")
                await asyncio.sleep(0.05)
        assert worker.poll() is None
        terminated(worker, backend)  # and it still stops cleanly, exit code 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    for job in [*hostile, *normal]:
        done = await client.get_job(job.id)
        assert (done.status, done.attempts, done.lease_owner) == (JobStatus.SUCCEEDED, 1, None)
    for job in hostile:
        assert events(backend.events, "after", job.id) == [1]
    log = backend.worker_log.read_text()
    assert "Task exception was never retrieved" not in log
    assert "SystemExit: 7" in log  # logged as a hook failure
