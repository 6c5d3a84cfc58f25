"""End to end through the worker on SQLite and on Azurite: what happens to jobs when
messages repeat, workers die, jobs fail, time passes and users change their minds."""

from __future__ import annotations

import asyncio
import itertools
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock, utcnow
from queued_jobs.errors import DuplicateJob
from queued_jobs.execution.messages import encode_message
from queued_jobs.execution.sweep import Sweeper
from queued_jobs.models import AttemptOutcome, JobStatus, QueuedJob
from queued_jobs.worker import WorkerSettings
from tests.integration.conftest import FAST, Backend
from tests.integration.jobs import events

pytestmark = pytest.mark.asyncio

RunWorker = Callable[..., Awaitable[None]]
ClientOf = Callable[[Any], Awaitable[Any]]


def finished(client: JobClient, *job_ids: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        jobs = [await client.get_job(i) for i in job_ids]
        return all(j.is_terminal for j in jobs)

    return check


async def outcomes(client: JobClient, job: QueuedJob) -> list[AttemptOutcome]:
    return [a.outcome for a in await client.repository.list_attempts(job.id)]


async def test_a_redelivered_message_of_a_finished_job_does_not_run_it_again(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = backend.app()
    client: JobClient = await client_of(app)
    job = await client.queue_job("tests.work", {}, owner="alice")
    await run_worker(app, finished(client, job.id))

    await client.broker.queue(job.queue).send(
        encode_message(job, await client.repository.message_key())
    )  # the same message again
    await run_worker(app, lambda: _queue_empty(client, job.queue))

    assert events(backend.events, "done", job.id) == [1]
    done = await client.get_job(job.id)
    assert (done.status, done.attempts, done.result) == (JobStatus.SUCCEEDED, 1, {"attempt": 1})


async def _queue_empty(client: JobClient, name: str) -> bool:
    return await client.broker.queue(name).depth() == 0


async def test_a_worker_killed_mid_job_leaves_it_to_another_worker_after_the_lease(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = backend.app(lease=2.0)
    client: JobClient = await client_of(app)
    job = await client.queue_job("tests.work", {"sleeps": [60, 0.1]}, owner="alice")
    doomed = backend.spawn_worker(lease=2.0)
    try:
        await _wait_for_start(backend, job, doomed)
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()

    await run_worker(app, finished(client, job.id))

    done = await client.get_job(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert events(backend.events, "start", job.id) == [1, 2]
    assert await outcomes(client, job) == [AttemptOutcome.ABANDONED, AttemptOutcome.SUCCEEDED]


async def test_retries_back_off_stop_at_max_attempts_and_keep_every_attempt(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = backend.app()
    client: JobClient = await client_of(app)
    recovers = await client.queue_job("tests.work", {"failures": 2}, owner="alice")
    gives_up = await client.queue_job("tests.work", {"failures": 9}, owner="bob", max_attempts=2)
    permanent = await client.queue_job("tests.work", {"permanent": True}, owner="carol")

    await run_worker(app, finished(client, recovers.id, gives_up.id, permanent.id))

    done = await client.get_job(recovers.id)
    assert done.status is JobStatus.SUCCEEDED
    history = await client.repository.list_attempts(recovers.id)
    assert [a.outcome for a in history] == ["failed", "failed", "succeeded"]
    waits = [
        (later.started_at - earlier.ended_at).total_seconds()
        for earlier, later in itertools.pairwise(history)
        if earlier.ended_at is not None
    ]
    assert waits[0] >= 0.9  # FAST_RETRY: 1 s after the first failure,
    assert waits[1] >= 1.9  # then 2 s (no jitter)
    failed = await client.get_job(gives_up.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert "attempt 2 failed on purpose" in failed.error.message
    assert await outcomes(client, gives_up) == ["failed", "failed"]
    refused = await client.get_job(permanent.id)
    assert (refused.status, refused.attempts) == (JobStatus.FAILED, 1)
    assert refused.error is not None
    assert refused.error.type == "queued_jobs.errors.PermanentError"


async def test_poison_and_unreadable_messages_end_visible_not_lost(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = backend.app()
    client: JobClient = await client_of(app)
    queue = client.broker.queue(client.queues.base)
    await queue.send("this is not a job message")
    job = await client.queue_job("tests.work", {}, owner="alice")
    delivered = await queue.receive()
    assert len(delivered) == 2
    for message in delivered:  # delivered once, not finished: visible again
        await queue.renew(message, visibility_timeout=timedelta(0))

    strict = WorkerSettings(
        max_deliveries=1, poll_max=timedelta(milliseconds=100), sweep_interval=None
    )
    await run_worker(app, finished(client, job.id), settings=strict)
    await run_worker(app, lambda: _queue_empty(client, queue.name), settings=strict)

    poisoned = await client.get_job(job.id)
    assert poisoned.status is JobStatus.FAILED
    assert poisoned.error is not None
    assert "delivered 2 times" in poisoned.error.message
    assert events(backend.events, "start", job.id) == []
    dead = await queue.dead_letter_queue().receive()
    assert [m.body for m in dead] == ["this is not a job message"]
    assert await queue.poison_queue().depth() == 0  # the Functions host's, not the worker's


async def test_cancel_stops_a_job_before_and_during_its_run(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = backend.app(lease=2.0)
    client: JobClient = await client_of(app)
    waiting = await client.queue_job("tests.work", {}, owner="alice", delay=timedelta(seconds=1))
    running = await client.queue_job("tests.work", {"sleeps": [30]}, owner="bob")
    assert (await client.cancel(waiting.id)).status is JobStatus.CANCELLED

    async def cancel_once_started() -> bool:
        if events(backend.events, "start", running.id):
            await client.cancel(running.id)
        return await finished(client, running.id)() and await _queue_empty(client, running.queue)

    await run_worker(app, cancel_once_started)

    assert events(backend.events, "start", waiting.id) == []
    stopped = await client.get_job(running.id)
    assert stopped.status is JobStatus.CANCELLED
    assert stopped.cancel_requested
    assert await outcomes(client, stopped) == [AttemptOutcome.CANCELLED]
    assert events(backend.events, "done", running.id) == []


async def test_max_run_time_is_enforced(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = backend.app()
    client: JobClient = await client_of(app)
    job = await client.queue_job(
        "tests.work",
        {"sleeps": [30]},
        owner="alice",
        max_run_time=timedelta(milliseconds=300),
        max_attempts=1,
    )

    await run_worker(app, finished(client, job.id))

    timed_out = await client.get_job(job.id)
    assert timed_out.status is JobStatus.FAILED
    assert timed_out.error is not None
    assert timed_out.error.type == "queued_jobs.errors.JobTimedOut"
    assert await outcomes(client, job) == [AttemptOutcome.TIMED_OUT]
    assert timed_out.duration is not None
    assert timed_out.duration < timedelta(seconds=5)


async def test_unique_jobs_of_one_owner_refuse_duplicates_under_concurrent_enqueue(
    backend: Backend, client_of: ClientOf
) -> None:
    app = backend.app()
    clients: list[JobClient] = [await client_of(app) for _ in range(3)]

    outcomes_ = await asyncio.gather(
        *(
            clients[i % 3].queue_job("tests.work", {}, owner="ada", unique_key="nightly-report")
            for i in range(10)
        ),
        return_exceptions=True,
    )

    stored = [o for o in outcomes_ if isinstance(o, QueuedJob)]
    refused = [o for o in outcomes_ if isinstance(o, DuplicateJob)]
    assert (len(stored), len(refused)) == (1, 9), outcomes_
    assert {r.existing_job_id for r in refused} == {stored[0].id}
    assert all(r.existing_job is None or r.existing_job.id == stored[0].id for r in refused)


async def test_a_global_unique_key_refuses_other_owners_under_concurrent_enqueue_blind(
    backend: Backend, client_of: ClientOf
) -> None:
    app = backend.app()
    clients: list[JobClient] = [await client_of(app) for _ in range(3)]

    outcomes_ = await asyncio.gather(
        *(
            clients[i % 3].queue_job(
                "tests.work", {}, owner=f"u{i}", unique_key="nightly", unique_scope="global"
            )
            for i in range(10)
        ),
        return_exceptions=True,
    )

    stored = [o for o in outcomes_ if isinstance(o, QueuedJob)]
    refused = [o for o in outcomes_ if isinstance(o, DuplicateJob)]
    assert (len(stored), len(refused)) == (1, 9), outcomes_
    assert all((r.existing_job_id, r.existing_job) == (None, None) for r in refused)
    assert all(stored[0].id not in str(r) for r in refused)


async def test_a_job_delayed_past_seven_days_is_released_by_the_sweep_and_runs_on_time(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    clock = ManualClock(utcnow())
    app = backend.app(clock=clock)
    client: JobClient = await client_of(app)
    job = await client.queue_job("tests.work", {}, owner="alice", delay=timedelta(days=10))
    assert job.status is JobStatus.SCHEDULED
    assert await client.broker.queue(job.queue).depth() == 0
    sweeper = Sweeper(client.repository, client.broker, clock=clock, settings=app.settings)

    clock.advance(timedelta(days=2))
    assert (await sweeper.sweep()).released == 0  # 8 days to go: still beyond a queue delay
    assert job.run_at is not None
    clock.advance(job.run_at - clock.now())
    assert (await sweeper.sweep()).released == 1
    await run_worker(app, finished(client, job.id))

    done = await client.get_job(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.started_at is not None
    assert done.started_at >= job.run_at


async def test_a_job_stored_but_never_sent_is_recovered_by_the_sweep(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    clock = ManualClock(utcnow())
    app = backend.app(clock=clock)
    client: JobClient = await client_of(app)
    # What queue_job stores before it sends; the process "dies" before sending.
    orphan = QueuedJob.new(
        owner="alice", job_type="tests.work", request={}, now=clock.now(), queue=client.queues.base
    )
    await client.repository.insert(orphan)
    sweeper = Sweeper(client.repository, client.broker, clock=clock, settings=app.settings)
    assert (await sweeper.sweep()).resent == 0  # too early to tell from a slow sender

    clock.advance(app.settings.resend_after + timedelta(seconds=1))
    assert (await sweeper.sweep()).resent == 1
    assert (await sweeper.sweep()).resent == 0  # once per window, not once per sweep
    await run_worker(app, finished(client, orphan.id))

    assert (await client.get_job(orphan.id)).status is JobStatus.SUCCEEDED


async def test_sigterm_lets_a_short_job_finish(backend: Backend, client_of: ClientOf) -> None:
    app = backend.app()
    client: JobClient = await client_of(app)
    job = await client.queue_job("tests.work", {"sleeps": [1.0]}, owner="alice")
    worker = backend.spawn_worker(grace=10)
    await _wait_for_start(backend, job, worker)

    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=20) == 0
    done = await client.get_job(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert await outcomes(client, job) == [AttemptOutcome.SUCCEEDED]


async def test_sigterm_hands_a_long_job_back_for_another_worker(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    app = backend.app()
    client: JobClient = await client_of(app)
    job = await client.queue_job("tests.work", {"sleeps": [60, 0.1]}, owner="alice")
    worker = backend.spawn_worker(grace=0.5)
    await _wait_for_start(backend, job, worker)

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0
    handed_back = await client.get_job(job.id)
    assert handed_back.status is JobStatus.QUEUED
    assert handed_back.lease_owner is None
    await run_worker(app, finished(client, job.id))

    assert (await client.get_job(job.id)).status is JobStatus.SUCCEEDED
    assert await outcomes(client, job) == [AttemptOutcome.RELEASED, AttemptOutcome.SUCCEEDED]
    assert events(backend.events, "done", job.id) == [2]


async def _wait_for_start(backend: Backend, job: QueuedJob, worker: Any) -> None:
    async with asyncio.timeout(20):
        while not events(backend.events, "start", job.id):
            if worker.poll() is not None:
                pytest.fail(f"worker exited early: {backend.worker_log.read_text()[-2000:]}")
            await asyncio.sleep(0.05)


async def test_a_job_longer_than_its_lease_keeps_it_while_other_workers_poll(
    backend: Backend, run_worker: RunWorker, client_of: ClientOf
) -> None:
    # Three lease periods: the heartbeat (a quarter of the lease) renews it a dozen times.
    app = backend.app(lease=2.0)
    client: JobClient = await client_of(app)
    job = await client.queue_job("tests.work", {"sleeps": [6.0]}, owner="alice")
    rival = app.worker(FAST)
    rival_running = asyncio.create_task(rival.run())
    try:
        await run_worker(app, finished(client, job.id))
    finally:
        rival.stop()
        await rival_running
        await rival.close()

    done = await client.get_job(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert events(backend.events, "start", job.id) == [1]
    assert await outcomes(client, job) == [AttemptOutcome.SUCCEEDED]
    assert done.progress is not None
    assert done.progress.percent > 90
