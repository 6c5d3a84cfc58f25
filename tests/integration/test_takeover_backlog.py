"""A job whose worker died while a backlog waits: shown as waiting to be taken over, and
taken over by a live worker ahead of the backlog, not after it."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from typing import Any

import pytest
from rich.console import Console

from queued_jobs._cli_views import job_table, job_view
from queued_jobs.client import JobClient, JobSpec
from queued_jobs.clock import utcnow
from queued_jobs.models import AttemptOutcome, JobStatus
from queued_jobs.worker import WorkerSettings
from tests.integration.conftest import BACKENDS, Backend
from tests.integration.jobs import events

pytestmark = pytest.mark.asyncio

BACKLOG = 40


def shown(renderable: Any) -> str:
    out = io.StringIO()
    Console(file=out, width=200).print(renderable)
    return out.getvalue()


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_a_dead_workers_job_is_taken_over_ahead_of_the_backlog_and_shown_meanwhile(
    backend: Backend, client_of: Any
) -> None:
    app = backend.app(lease=2.0)
    client: JobClient = await client_of(app)
    backlog = await client.queue_jobs(
        [JobSpec("tests.work", {"sleeps": [0.25]}, owner=f"u{n % 8}") for n in range(BACKLOG)]
    )
    job = await client.queue_job("tests.work", {}, owner="alice")  # its message comes last
    now = utcnow()
    claimed = job.transition(
        JobStatus.RUNNING,
        now=now,
        attempts=1,
        started_at=now - timedelta(seconds=5),
        attempt_started_at=now - timedelta(seconds=5),
        lease_owner="dead-host:1",
        lease_expires_at=now - timedelta(seconds=1),
    )
    await client.repository.update(claimed)  # its worker died; the lease ran out

    stale = await client.get_job(job.id)
    assert stale.waiting_for_takeover
    for text in (shown(job_view(stale)), shown(job_table([stale]))):
        assert "waiting to be taken over" in text

    settings = WorkerSettings(
        concurrency=2,
        poll_max=timedelta(milliseconds=100),
        sweep_interval=None,
        takeover_interval=timedelta(milliseconds=500),
    )
    worker = app.worker(settings)
    running = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(60):
            while not (await client.get_job(job.id)).is_terminal:
                assert not running.done()
                await asyncio.sleep(0.05)
            drained = sum(len(events(backend.events, "done", b.id)) for b in backlog)
            # the message that comes back behind the backlog is a harmless duplicate
            while await client.broker.queue(job.queue).depth() > 0:
                assert not running.done()
                await asyncio.sleep(0.1)
    finally:
        worker.stop()
        await running
        await worker.close()

    assert drained < BACKLOG // 2, f"taken over only after {drained} of {BACKLOG} backlog jobs"
    done = await client.get_job(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert not done.waiting_for_takeover
    history = await client.repository.list_attempts(job.id)
    assert [(a.outcome, a.alone) for a in history] == [
        (AttemptOutcome.ABANDONED, False),
        (AttemptOutcome.SUCCEEDED, True),
    ]
    assert history[0].started_at == now - timedelta(seconds=5)
    assert events(backend.events, "start", job.id) == [2]
