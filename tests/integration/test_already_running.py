"""Job types that do not run two jobs at once, with two worker processes racing for them on
SQLite and on Azurite: which job runs is up to the race, what becomes of each is not.

Each worker runs one job at a time, so the two jobs queued together go one to each
process. Jobs hold until the test releases them (a file), and record their starts and
ends, so the assertions are on outcomes and on whether two ever ran at once."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from queued_jobs.client import JobClient
from queued_jobs.execution.already_running import type_lease_name
from queued_jobs.models import AttemptOutcome, JobStatus, QueuedJob
from queued_jobs.runner import AlreadyRunning
from tests.integration.conftest import Backend, Spawn, spawning
from tests.integration.running_jobs import TYPES, build_running_app
from tests.integration.test_execution import ClientOf, outcomes

pytestmark = pytest.mark.asyncio

APP = "tests.integration.running_jobs:app"
LEASE = 2.0
HEARTBEAT = timedelta(seconds=LEASE / 4)  # build_app's
#: How long a test waits for what takes a few seconds on a quiet machine.
PATIENCE = 90.0


@pytest.fixture
def workers(backend: Backend) -> Iterator[Spawn]:
    """``workers(n)``: ``n`` worker processes on the backend, one job at a time each (or
    ``concurrency``); all stopped (SIGTERM, then SIGKILL) at the end."""
    with spawning(backend, app=APP, lease=LEASE) as spawn:
        yield spawn


async def queued(client: JobClient, policy: AlreadyRunning, release: Path) -> list[QueuedJob]:
    """Two jobs of ``policy``'s type, queued one right after the other."""
    request = {"release": str(release)}
    return [await client.queue_job(TYPES[policy], request, owner=o) for o in ("ada", "bob")]


async def until(check: Callable[[], Awaitable[bool]], what: str, backend: Backend) -> None:
    """Return once ``check()`` holds, failing with the workers' log after the patience."""
    try:
        async with asyncio.timeout(PATIENCE):
            while not await check():  # noqa: ASYNC110 - store reads: nothing signals them
                await asyncio.sleep(0.05)
    except TimeoutError:
        log = backend.worker_log.read_text()[-4000:] if backend.worker_log.exists() else ""
        pytest.fail(f"{what} did not happen within {PATIENCE}s; the workers said:\n{log}")


def terminal(client: JobClient, *jobs: QueuedJob) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return all([(await client.get_job(job.id)).is_terminal for job in jobs])

    return check


def lines(backend: Backend) -> list[tuple[str, str, int]]:
    """The events the jobs recorded, in order: ``(event, job id, attempt)``."""
    if not backend.events.exists():
        return []
    split = [line.split() for line in backend.events.read_text().splitlines()]
    return [(event, job_id, int(attempt)) for event, job_id, attempt in split]


def most_at_once(backend: Backend) -> int:
    running = most = 0
    for event, _, _ in lines(backend):
        running += 1 if event == "start" else -1
        most = max(most, running)
    return most


def starts(backend: Backend, job: QueuedJob) -> list[int]:
    return [
        attempt for event, job_id, attempt in lines(backend) if (event, job_id) == ("start", job.id)
    ]


async def one_ended_as(
    client: JobClient, jobs: list[QueuedJob], status: JobStatus, backend: Backend
) -> tuple[QueuedJob, QueuedJob]:
    """Wait for one of ``jobs`` to end in ``status`` while the other runs: ``(the one that
    ended, the one running)``."""

    async def decided() -> bool:
        return any([(await client.get_job(job.id)).status is status for job in jobs])

    await until(decided, f"a job ending {status.value}", backend)
    [loser] = [job for job in jobs if (await client.get_job(job.id)).status is status]
    [winner] = [job for job in jobs if job is not loser]
    return loser, winner


async def test_refuse_lets_one_of_two_jobs_run_and_fails_the_other(
    backend: Backend, client_of: ClientOf, workers: Spawn, tmp_path: Path
) -> None:
    client: JobClient = await client_of(build_running_app(backend.storage, lease=LEASE))
    release = tmp_path / "release"
    jobs = await queued(client, AlreadyRunning.REFUSE, release)
    workers(2)

    refused, winner = await one_ended_as(client, jobs, JobStatus.FAILED, backend)
    release.touch()
    await until(terminal(client, *jobs), "both jobs ending", backend)

    assert (await client.get_job(winner.id)).status is JobStatus.SUCCEEDED
    failed = await client.get_job(refused.id)
    assert failed.error is not None
    assert failed.error.type == "queued_jobs.errors.JobAlreadyRunning"
    assert f"job {winner.id}" in failed.error.message
    assert await outcomes(client, refused) == [AttemptOutcome.FAILED]
    assert starts(backend, refused) == []  # its code never ran
    assert starts(backend, winner) == [1]
    assert most_at_once(backend) == 1


async def test_skip_lets_one_of_two_jobs_run_and_cancels_the_other(
    backend: Backend, client_of: ClientOf, workers: Spawn, tmp_path: Path
) -> None:
    client: JobClient = await client_of(build_running_app(backend.storage, lease=LEASE))
    release = tmp_path / "release"
    jobs = await queued(client, AlreadyRunning.SKIP, release)
    workers(2)

    skipped, winner = await one_ended_as(client, jobs, JobStatus.CANCELLED, backend)
    release.touch()
    await until(terminal(client, *jobs), "both jobs ending", backend)

    assert (await client.get_job(winner.id)).status is JobStatus.SUCCEEDED
    cancelled = await client.get_job(skipped.id)
    assert cancelled.error is not None
    assert cancelled.error.type == "queued_jobs.Skipped"
    assert f"job {winner.id}" in cancelled.error.message
    assert await outcomes(client, skipped) == [AttemptOutcome.CANCELLED]
    assert starts(backend, skipped) == []
    assert most_at_once(backend) == 1


async def test_replace_cancels_the_first_job_and_runs_the_second_to_success(
    backend: Backend, client_of: ClientOf, workers: Spawn, tmp_path: Path
) -> None:
    client: JobClient = await client_of(build_running_app(backend.storage, lease=LEASE))
    release = tmp_path / "release"
    first, second = await queued(client, AlreadyRunning.REPLACE, release)
    workers(2)

    await until(terminal(client, first), "the first job ending", backend)
    release.touch()
    await until(terminal(client, second), "the second job ending", backend)

    assert (await client.get_job(first.id)).status is JobStatus.CANCELLED
    assert (await outcomes(client, first))[-1] is AttemptOutcome.CANCELLED
    assert (await client.get_job(second.id)).status is JobStatus.SUCCEEDED
    *waits, last = await outcomes(client, second)
    assert last is AttemptOutcome.SUCCEEDED
    assert set(waits) <= {AttemptOutcome.RELEASED}  # handed back while the first stopped
    assert len(starts(backend, second)) == 1
    assert most_at_once(backend) == 1  # the first stopped before the second started


@pytest.mark.parametrize("after_its_lease", [False, True])
async def test_a_killed_holder_leaves_its_lease_to_run_out_then_the_replacing_job_runs(
    backend: Backend,
    client_of: ClientOf,
    workers: Spawn,
    tmp_path: Path,
    after_its_lease: bool,
) -> None:
    """``after_its_lease``: the replacing job comes once the holder's lease has run out
    (its worker dead, the holder still ``running``): the worker that takes the holder
    over must cancel it, not run it again beside (or, alone, instead of) its replacement."""
    client: JobClient = await client_of(build_running_app(backend.storage, lease=LEASE))
    release = tmp_path / "release"
    request = {"release": str(release)}
    holder = await client.queue_job(TYPES[AlreadyRunning.REPLACE], request, owner="ada")
    [doomed] = workers(1)

    async def holding() -> bool:
        return bool(starts(backend, holder))

    await until(holding, "the holder starting", backend)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    held = await client.get_job(holder.id)  # as its worker last renewed it
    if after_its_lease:
        # the holder's record lease runs out while the lease of its type still holds (it is
        # renewed just after the record's: a busy machine widens the gap)
        assert held.lease_expires_at is not None
        lapsed = held.lease_expires_at + timedelta(milliseconds=100)
        name = type_lease_name(holder.job_type)
        kept = lapsed + timedelta(seconds=LEASE)
        assert await client.repository.take_lease(
            name, holder.id, now=client.clock.now(), until=kept
        )

        async def run_out() -> bool:
            return client.clock.now() > lapsed

        await until(run_out, "the holder's lease running out", backend)
    later = await client.queue_job(TYPES[AlreadyRunning.REPLACE], request, owner="bob")
    workers(1, concurrency=2)  # a slot for the replacing job, one to take the holder over

    # the holder is asked to stop (whether the new worker took it over meanwhile or not)
    await until(terminal(client, holder), "the holder ending", backend)
    release.touch()
    await until(terminal(client, later), "the replacing job ending", backend)

    assert (await client.get_job(holder.id)).status is JobStatus.CANCELLED
    assert (await client.get_job(later.id)).status is JobStatus.SUCCEEDED
    *waits, ran = await client.repository.list_attempts(later.id)
    assert ran.outcome is AttemptOutcome.SUCCEEDED
    assert {attempt.outcome for attempt in waits} <= {AttemptOutcome.RELEASED}
    assert held.lease_expires_at is not None
    # not before the dead holder's lease ran out (its type's is renewed right after the
    # record's: at worst the kill fell between the two)
    assert ran.started_at >= held.lease_expires_at - HEARTBEAT
    events = lines(backend)
    assert events[0] == ("start", holder.id, 1)
    assert ("end", holder.id, 1) not in events  # killed with its worker
    assert events[-2:] == [("start", later.id, ran.number), ("end", later.id, ran.number)]
    assert starts(backend, later) == [ran.number]
