"""Limits across several worker processes, on SQLite and on Azurite: a concurrency limit
is never passed (the jobs record their overlap inside their places) and its places are
kept busy; a place whose holder was killed comes back once its lease runs out; a rate
holds over several windows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from queued_jobs.client import JobClient
from queued_jobs.models import JobStatus, QueuedJob
from tests.integration.conftest import Backend, Spawn, spawning
from tests.integration.limited_jobs import build_limited_app, most_at_once, stamps
from tests.integration.test_already_running import terminal, until
from tests.integration.test_execution import ClientOf

pytestmark = pytest.mark.asyncio

APP = "tests.integration.limited_jobs:app"
LEASE = 2.0
SECOND = 1_000_000_000


@pytest.fixture
def workers(backend: Backend) -> Iterator[Spawn]:
    with spawning(backend, app=APP, lease=LEASE) as spawn:
        yield spawn


async def queue(client: JobClient, job_type: str, count: int, **request: object) -> list[QueuedJob]:
    return [await client.queue_job(job_type, dict(request), owner="ada") for _ in range(count)]


async def test_a_limit_of_three_is_never_passed_and_its_places_are_kept_busy(
    backend: Backend, client_of: ClientOf, workers: Spawn
) -> None:
    client: JobClient = await client_of(build_limited_app(backend.storage, lease=LEASE))
    jobs = await queue(client, "tests.limited.three", 18, seconds=0.6)
    workers(3, concurrency=3)  # nine slots for three places

    await until(terminal(client, *jobs), "every job ending", backend)

    assert {(await client.get_job(job.id)).status for job in jobs} == {JobStatus.SUCCEEDED}
    events = stamps(backend.events)
    assert most_at_once(events) == 3
    busy = sum(
        end - begin
        for (e1, j1, a1, begin) in events
        for (e2, j2, a2, end) in events
        if e1 == "begin" and e2 == "finish" and (j1, a1) == (j2, a2)
    )
    span = events[-1][3] - events[0][3]
    # 18 jobs of 0.6 s in 3 places take 3.6 s at best; how close the run came to it
    assert busy / span > 1.5, f"{busy / span:.2f} places busy on average over {span / SECOND:.1f}s"


async def test_a_place_whose_holder_was_killed_comes_back_after_its_lease(
    backend: Backend, client_of: ClientOf, workers: Spawn
) -> None:
    client: JobClient = await client_of(build_limited_app(backend.storage, lease=LEASE))
    [holder] = await queue(
        client, "tests.limited.per-key", 1, seconds=0.3, kill_first=True, key="k"
    )
    spawned = workers(1, concurrency=1)
    await until(lambda: _began(backend, holder), "the holder starting", backend)
    [waiter] = await queue(client, "tests.limited.per-key", 1, seconds=0.3, key="k")
    workers(1, concurrency=1)

    async def dead() -> bool:
        return spawned[0].poll() is not None

    await until(dead, "the holder's worker dying", backend)
    await client.cancel(holder.id)  # it will not take its place again: only its lease frees it
    await until(terminal(client, holder, waiter), "both jobs ending", backend)

    assert (await client.get_job(waiter.id)).status is JobStatus.SUCCEEDED
    assert (await client.get_job(holder.id)).status is JobStatus.CANCELLED
    began = {job_id: at for event, job_id, _, at in stamps(backend.events) if event == "begin"}
    # the holder took its place for a lease (2 s) just before it began, and was killed
    # 0.3 s later, before any renewal: the waiter began once that lease had run out
    assert began[waiter.id] - began[holder.id] > 1.5 * SECOND


async def _began(backend: Backend, job: QueuedJob) -> bool:
    return any(
        event == "begin" and job_id == job.id for event, job_id, *_ in stamps(backend.events)
    )


async def test_a_rate_holds_over_several_windows(
    backend: Backend, client_of: ClientOf, workers: Spawn
) -> None:
    client: JobClient = await client_of(build_limited_app(backend.storage, lease=LEASE))
    jobs = await queue(client, "tests.limited.rate", 16)
    workers(2, concurrency=4)

    await until(terminal(client, *jobs), "every job ending", backend)

    started = sorted(
        [(await client.get_job(job.id)).attempt_started_at for job in jobs],  # type: ignore[type-var]
    )
    assert None not in started
    window = timedelta(seconds=2)
    # A start is taken at the gate; the record says when the claim was written after it,
    # up to a second later on a busy machine: a window measured on records is checked
    # short by that much (16 starts without the limit come within a fraction of it).
    slack = timedelta(seconds=1)
    for i, moment in enumerate(started):
        within = [s for s in started[i:] if s < moment + window - slack]
        assert len(within) <= 4, (moment, within)
    # 16 starts at 4 per 2 s need three windows after the first: at least 6 s
    assert started[-1] - started[0] >= timedelta(seconds=6) - slack
