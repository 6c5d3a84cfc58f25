"""``status`` and ``list`` show a job whose worker died as waiting to be taken over."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from queued_jobs.models import JobStatus
from tests import cli_app
from tests.support.cli import Invoke
from tests.unit.test_cli import enqueued_id


def left_by_a_dead_worker(job_id: str) -> None:
    async def claim() -> None:
        async with cli_app.app.client() as client:
            job = await client.get_job(job_id)
            now = client.clock.now()
            running = job.transition(
                JobStatus.RUNNING,
                now=now - timedelta(seconds=30),
                attempts=1,
                attempt_started_at=now - timedelta(seconds=30),
                lease_owner="gone:1",
                lease_expires_at=now - timedelta(seconds=12),
            )
            await client.repository.update(running)

    asyncio.run(claim())


def test_status_and_list_show_an_expired_lease_as_waiting_to_be_taken_over(
    invoke: Invoke,
) -> None:
    job_id = enqueued_id(invoke("enqueue", "greet", '{"name": "Ada"}', "--owner", "ada"))
    left_by_a_dead_worker(job_id)

    status = invoke("status", job_id)
    listing = invoke("list")

    for result in (status, listing):
        assert result.exit_code == 0, result.output
        assert "waiting to be taken over" in result.stdout
        assert "lease expired 12" in result.stdout
    assert "gone:1 until" in status.stdout
