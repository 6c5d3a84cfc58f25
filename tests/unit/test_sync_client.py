"""The sync twin of the job client, used from plain sync code, and the loop under it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from queued_jobs import SyncJobClient
from queued_jobs._sync import BackgroundLoop
from queued_jobs.client import JobClient, JobSpec
from queued_jobs.errors import JobNotFound, PermanentError
from queued_jobs.models import JobStatus
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.queues.sqlite import SqliteQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.repositories.sqlite import SqliteJobRepository
from queued_jobs.runner import JobRegistry

Factory = Callable[..., SyncJobClient]


def make_registry(reentrant: list[SyncJobClient]) -> JobRegistry:
    registry = JobRegistry()

    @registry.job(name="tests.double")
    def double(n: int) -> int:
        return n * 2

    @registry.job(name="tests.refuse", max_attempts=1)
    def refuse(reason: str) -> None:
        raise PermanentError(reason)

    @registry.job(name="tests.reenter", max_attempts=1)
    async def reenter(job_id: str) -> None:
        # Runs inline, on the sync client's own loop: calling the sync client here would
        # wait for that loop forever.
        reentrant[0].get_job(job_id)

    return registry


@pytest.fixture(params=["memory", "sqlite"])
def clients(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Opens sync clients on this test's storage; closes them all at the end."""
    opened: list[SyncJobClient] = []
    reentrant: list[SyncJobClient] = []
    registry = make_registry(reentrant)

    def build(inline: bool) -> JobClient:
        if request.param == "memory":
            return JobClient(MemoryJobRepository(), MemoryQueueBroker(), registry, inline=inline)
        path = tmp_path / "jobs.db"
        return JobClient(
            SqliteJobRepository(path), SqliteQueueBroker(path), registry, inline=inline
        )

    def open_client(*, inline: bool = False) -> SyncJobClient:
        client = SyncJobClient(lambda: build(inline))
        opened.append(client)
        reentrant[:] = [client]
        client.create_storage()
        return client

    yield open_client
    for client in opened:
        client.close()


def test_a_job_queued_from_sync_code_runs_inline_and_reads_back(clients: Factory) -> None:
    client = clients(inline=True)

    job = client.queue_job("tests.double", 21, owner="alice")

    assert (job.status, job.result) == (JobStatus.SUCCEEDED, 42)
    assert client.get_job(job.id) == job
    assert client.wait(job.id, timeout=timedelta(seconds=1)) == job


def test_queue_jobs_retry_and_errors_come_through(clients: Factory) -> None:
    client = clients(inline=True)

    doubled, refused = client.queue_jobs(
        [JobSpec("tests.double", 2, owner="alice"), JobSpec("tests.refuse", "no", owner="bob")]
    )

    assert doubled.result == 4
    assert refused.status is JobStatus.FAILED
    assert client.retry(refused.id).status is JobStatus.QUEUED
    with pytest.raises(JobNotFound):
        client.get_job("0" * 29)


def test_a_waiting_job_can_be_cancelled_and_wait_times_out(clients: Factory) -> None:
    client = clients()
    job = client.queue_job("tests.double", 1, owner="alice")
    assert job.status is JobStatus.QUEUED

    with pytest.raises(TimeoutError):
        client.wait(job.id, timeout=timedelta(milliseconds=50), poll=timedelta(milliseconds=10))
    cancelled = client.cancel(job.id)

    assert cancelled.status is JobStatus.CANCELLED
    assert client.wait(job.id).status is JobStatus.CANCELLED


def test_calling_the_sync_client_from_its_own_loop_fails_clearly(clients: Factory) -> None:
    client = clients(inline=True)

    job = client.queue_job("tests.reenter", "x", owner="alice")

    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.type == "builtins.RuntimeError"
    assert "would wait forever for itself" in job.error.message


def test_a_closed_client_refuses_calls(clients: Factory) -> None:
    client = clients()
    client.close()
    client.close()  # idempotent

    with pytest.raises(RuntimeError, match="closed"):
        client.get_job("0" * 29)


# --- the loop under it -----------------------------------------------------------------


def test_the_background_loop_runs_coroutines_on_its_own_thread() -> None:
    async def where() -> str:
        await asyncio.sleep(0)
        return threading.current_thread().name

    with BackgroundLoop(name="test-loop") as loop:
        assert loop.run(where()) == "test-loop"
        with pytest.raises(ZeroDivisionError):
            loop.run(_divide(1, 0))

    assert loop.closed
    assert not any(t.name == "test-loop" for t in threading.enumerate())


async def _divide(a: int, b: int) -> float:
    return a / b


def test_run_from_the_loops_own_thread_is_refused_not_deadlocked() -> None:
    with BackgroundLoop() as loop:

        async def reenter() -> None:
            loop.run(asyncio.sleep(0))

        with pytest.raises(RuntimeError, match="from inside its own event loop"):
            loop.run(reenter())


def test_closing_the_loop_cancels_what_still_runs_there() -> None:
    loop = BackgroundLoop()
    started = threading.Event()
    cancelled = threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    waiter = threading.Thread(target=lambda: _swallow(loop, forever()))
    waiter.start()
    assert started.wait(timeout=5)
    loop.close()
    waiter.join(timeout=5)

    assert cancelled.is_set()
    assert not waiter.is_alive()


def _swallow(loop: BackgroundLoop, coro: Coroutine[Any, Any, None]) -> None:
    with contextlib.suppress(concurrent.futures.CancelledError):
        loop.run(coro)
