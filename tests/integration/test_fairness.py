"""Fairness between owners across worker processes, on SQLite and on Azurite: while one
owner's backlog drains, another owner's job starts within a bound, not behind the
backlog; and every job of both ends."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from queued_jobs.client import JobClient, JobSpec
from queued_jobs.models import JobStatus
from tests.integration.conftest import Backend, Spawn, spawning
from tests.integration.fair_jobs import SHARE, build_fair_app
from tests.integration.limited_jobs import stamps
from tests.integration.test_already_running import terminal, until
from tests.integration.test_execution import ClientOf

pytestmark = pytest.mark.asyncio

APP = "tests.integration.fair_jobs:app"
LEASE = 2.0
SECOND = 1_000_000_000
BACKLOG = 400
#: Each job's run: with 8 slots the backlog takes 5 s at the very least.
RUN = 0.1


@pytest.fixture
def workers(backend: Backend) -> Iterator[Spawn]:
    with spawning(backend, app=APP, lease=LEASE) as spawn:
        yield spawn


async def test_a_small_owners_job_starts_while_a_large_owners_backlog_drains(
    backend: Backend, client_of: ClientOf, workers: Spawn
) -> None:
    client: JobClient = await client_of(build_fair_app(backend.storage, lease=LEASE))
    specs = [JobSpec("tests.fair.timed", {"seconds": RUN}, owner="big") for _ in range(BACKLOG)]
    big = [
        job
        for at in range(0, BACKLOG, 100)
        for job in await client.queue_jobs(specs[at : at + 100])
    ]
    assert [job.queue for job in big].count(client.queues.base) == SHARE  # the rest: overflow
    workers(2, concurrency=4)

    async def draining() -> bool:
        return sum(1 for event, *_ in stamps(backend.events) if event == "begin") >= 16

    await until(draining, "the backlog draining", backend)
    queued_at = time.time_ns()
    small = await client.queue_job("tests.fair.timed", {"seconds": RUN}, owner="small")
    await until(terminal(client, small), "the small owner's job ending", backend)

    events = stamps(backend.events)
    [small_began] = [
        at for event, job_id, _, at in events if (event, job_id) == ("begin", small.id)
    ]
    big_ids = {job.id for job in big}
    began_before = {j for event, j, _, at in events if event == "begin" and at < small_began}
    not_begun = len(big_ids - began_before)
    waited = (small_began - queued_at) / SECOND
    # Behind the backlog it would start after all of it; with the share it comes within
    # a poll or two of the ready queue, whatever the machine's speed.
    assert not_begun >= BACKLOG // 2, f"{not_begun} of the backlog left when it began"
    assert waited < 30, f"it waited {waited:.1f}s"

    await until(terminal(client, *big), "the backlog ending", backend)
    statuses = {(await client.get_job(job.id)).status for job in [*big, small]}
    assert statuses == {JobStatus.SUCCEEDED}
    gate = await client.repository.limits.load_gate("owner-share", "big")
    assert gate is not None
    assert gate.live_holders(client.clock.now()) == {}  # every place given back
