"""A job that kills its worker process, among innocent jobs, under a supervisor that keeps
restarting the worker: the innocent jobs survive, the crashing one is found and fails."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from typing import Any

import pytest

from queued_jobs.client import JobClient
from queued_jobs.models import AttemptOutcome, JobStatus
from tests.integration.conftest import Backend
from tests.integration.jobs import events

pytestmark = pytest.mark.asyncio

INNOCENT = 7
LEASE = 2.0


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_job_that_kills_its_worker_is_found_alone_and_its_neighbours_survive(
    backend: Backend, client_of: Any
) -> None:
    app = backend.app(lease=LEASE)
    client: JobClient = await client_of(app)
    crasher = await client.queue_job("tests.crash", {"after": 0.5}, owner="mallory")
    innocent = [
        await client.queue_job("tests.work", {"sleeps": [1.5]}, owner=f"user{n}")
        for n in range(INNOCENT)
    ]
    ids = [crasher.id, *(job.id for job in innocent)]

    async def all_finished() -> bool:
        jobs = [await client.get_job(i) for i in ids]
        return all(job.is_terminal for job in jobs)

    restarts = 0
    worker: subprocess.Popen[bytes] | None = None
    try:
        async with asyncio.timeout(180):  # a supervisor: restart the worker whenever it dies
            while not await all_finished():
                if worker is None or worker.poll() is not None:
                    assert restarts < 12, backend.worker_log.read_text()[-3000:]
                    worker = backend.spawn_worker(lease=LEASE, concurrency=INNOCENT + 1)
                    restarts += 1
                await asyncio.sleep(0.1)
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)

    for job in innocent:
        done = await client.get_job(job.id)
        history = await client.repository.list_attempts(job.id)
        assert done.status is JobStatus.SUCCEEDED, (job.id, history)
        assert history[-1].outcome is AttemptOutcome.SUCCEEDED
        assert all(a.outcome is AttemptOutcome.ABANDONED and not a.alone for a in history[:-1])
        assert len(events(backend.events, "start", job.id)) == len(history)
    failed = await client.get_job(crasher.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.type == "queued_jobs.LeaseExpired"
    history = await client.repository.list_attempts(crasher.id)
    assert {a.outcome for a in history} == {AttemptOutcome.ABANDONED}
    assert sum(a.alone for a in history) == failed.max_attempts  # proven guilty, each time alone
    # every crash is in the history, each attempt with its own start
    assert len(events(backend.events, "start", crasher.id)) == len(history)
    assert [a.number for a in history] == list(range(1, len(history) + 1))
    assert all(a.ended_at is not None and a.started_at < a.ended_at for a in history)
