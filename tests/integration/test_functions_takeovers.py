"""Under Azure Functions, on Azurite: a job whose instance died is sent ahead of the backlog by
the timer, and a job taken over is spread (queued again after a random delay), since the
host may run anything beside it in one instance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from azure.functions.timer import TimerRequest

from queued_jobs.client import JobClient, JobSpec
from queued_jobs.models import AttemptOutcome, JobStatus, Priority
from tests.integration.test_functions import deployed, host_message

pytestmark = pytest.mark.azurite
__all__ = ["deployed"]  # the fixture, shared with the blueprint's other tests


async def test_the_timer_sends_a_dead_instances_job_ahead_of_the_backlog_and_it_is_spread(
    deployed: Any,
) -> None:
    app, client, functions = deployed
    assert isinstance(client, JobClient)
    await client.queue_jobs([JobSpec("tests.work", {}, owner=f"u{n}") for n in range(10)])
    job = await client.queue_job("tests.work", {}, owner="alice")  # its message comes last
    now = app.clock.now() - timedelta(seconds=3)  # its last heartbeat
    claimed = job.transition(
        JobStatus.RUNNING,
        now=now,
        attempts=1,
        started_at=now,
        attempt_started_at=now,
        lease_owner="dead-instance:1",
        lease_expires_at=now + timedelta(seconds=2),
    )
    await client.repository.update(claimed)
    urgent = client.broker.queue(app.queues.for_priority(Priority.HIGH))

    await functions["queued_jobs_sweep"](TimerRequest(past_due=False))
    await functions["queued_jobs_sweep"](TimerRequest(past_due=False))  # once is enough

    [message] = await urgent.receive()
    assert job.id in message.body
    await urgent.ack(message)  # the host deletes the trigger message when the function returns
    await functions["queued_jobs_high"](host_message(message.body))

    spread = await client.get_job(job.id)
    assert spread.status is JobStatus.QUEUED
    assert spread.run_at is not None
    assert spread.run_at - app.clock.now() <= app.settings.spread_suspects
    [lost] = await client.repository.list_attempts(job.id)
    assert (lost.outcome, lost.alone, lost.host) == (
        AttemptOutcome.ABANDONED,
        False,
        "dead-instance:1",
    )
    assert await urgent.depth() == 1  # its message again, invisible for the random delay
