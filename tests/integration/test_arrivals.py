"""Idle workers wake on new messages instead of waiting for their next poll.

SQLite rings a doorbell (Unix datagram sockets next to the file) that reaches other
processes; the memory broker rings inside its process; Azure gives no hints.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from queued_jobs import JobApp, JobStatus, MemoryStorage, QueuedJob, SqliteStorage, WorkerSettings
from queued_jobs._sqlite.doorbell import Doorbell
from queued_jobs.queues.sqlite import SqliteQueueBroker
from tests.support.waiting import PATIENCE, until

# Longer than any test waits: a job that starts in time was woken, not polled.
SLOW_POLL = WorkerSettings(
    poll_min=timedelta(seconds=120), poll_max=timedelta(seconds=120), sweep_interval=None
)
#: Far below the slow poll, far above a wake-up on a loaded machine.
WOKEN_WITHIN = 30.0
RING = """
import sys
from pathlib import Path
from queued_jobs._sqlite.doorbell import Doorbell
Doorbell(Path(sys.argv[1])).ring()
"""


async def test_a_ring_from_another_process_wakes_a_listener(tmp_path: Path) -> None:
    doorbell = Doorbell(tmp_path / "jobs.db")
    listener = doorbell.listen()
    assert listener is not None

    ring = [sys.executable, "-c", RING, str(tmp_path / "jobs.db")]
    await asyncio.to_thread(subprocess.run, ring, check=True)

    async with asyncio.timeout(PATIENCE):
        await listener.wait()
    listener.close()
    assert list(doorbell.folder.iterdir()) == []


async def test_a_listener_waits_until_rung_and_a_ring_before_waiting_is_kept(
    tmp_path: Path,
) -> None:
    doorbell = Doorbell(tmp_path / "jobs.db")
    listener = doorbell.listen()
    assert listener is not None

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await listener.wait()
    doorbell.ring()
    await asyncio.sleep(0.05)
    async with asyncio.timeout(PATIENCE):
        await listener.wait()
    listener.close()
    doorbell.close()


def test_the_socket_of_a_process_that_died_is_removed_by_the_next_ring(tmp_path: Path) -> None:
    doorbell = Doorbell(tmp_path / "jobs.db")
    doorbell.folder.mkdir(mode=0o700)
    dead = doorbell.folder / "999999-deadbeef"
    orphan = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    orphan.bind(str(dead))
    orphan.close()  # its file stays, as after a crash

    doorbell.ring()

    assert not dead.exists()
    doorbell.close()


def test_no_doorbell_where_the_socket_path_would_be_too_long(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)

    assert Doorbell(deep / "jobs.db").listen() is None
    Doorbell(deep / "jobs.db").ring()  # nobody listens: nothing happens


async def wait_for_start(app: JobApp, *, send_from_another_process: bool = False) -> float:
    """Seconds from queueing a job to its start (from its record), with an idle,
    slow-polling worker."""
    started: asyncio.Future[QueuedJob] = asyncio.get_running_loop().create_future()

    async def note(job: QueuedJob) -> None:
        if job.status is JobStatus.RUNNING and not started.done():
            started.set_result(job)

    app.listeners.append(note)
    async with app.client() as client:
        await client.create_storage()
        worker = app.worker(SLOW_POLL, identity="idle")
        running = asyncio.create_task(worker.run())
        loop = asyncio.get_running_loop()
        await until(  # it found nothing and rests for the slow poll
            lambda: all(band.due > loop.time() for band in worker._bands),
            "every band answering empty once",
        )
        if send_from_another_process:
            await asyncio.to_thread(queue_from_another_process, app)
        else:
            await client.queue_job("nap", 1, owner="a")
        async with asyncio.timeout(WOKEN_WITHIN * 2):
            job = await started
        worker.stop()
        await running
        await worker.close()
    assert job.started_at is not None
    return (job.started_at - job.created_at).total_seconds()


QUEUE_ONE = """
import asyncio, sys
from queued_jobs import JobApp, SqliteStorage

async def main() -> None:
    app = JobApp(SqliteStorage(sys.argv[1]))
    app.job(name="nap")(lambda request: None)
    async with app.client() as client:
        await client.queue_job("nap", 1, owner="a")

asyncio.run(main())
"""


def queue_from_another_process(app: JobApp) -> None:
    assert isinstance(app.storage, SqliteStorage)
    subprocess.run([sys.executable, "-c", QUEUE_ONE, str(app.storage.path)], check=True)


def nap_app(storage: SqliteStorage | MemoryStorage) -> JobApp:
    app = JobApp(storage)
    app.job(name="nap")(lambda request: None)
    return app


async def test_an_idle_sqlite_worker_starts_a_job_queued_by_another_process_at_once(
    tmp_path: Path,
) -> None:
    took = await wait_for_start(
        nap_app(SqliteStorage(tmp_path / "jobs.db")), send_from_another_process=True
    )

    assert took < WOKEN_WITHIN  # woken by the other process's ring, not by the slow poll


async def test_an_idle_sqlite_worker_starts_a_job_without_waiting_for_its_poll(
    tmp_path: Path,
) -> None:
    took = await wait_for_start(nap_app(SqliteStorage(tmp_path / "jobs.db")))

    assert took < WOKEN_WITHIN


async def test_an_idle_memory_worker_starts_a_job_without_waiting_for_its_poll() -> None:
    took = await wait_for_start(nap_app(MemoryStorage()))

    assert took < WOKEN_WITHIN


async def test_a_message_handed_back_rings_too(tmp_path: Path) -> None:
    broker = SqliteQueueBroker(tmp_path / "jobs.db")
    queue = broker.queue("jobs")
    await queue.create()
    await queue.send("body")
    [message] = await queue.receive(visibility_timeout=timedelta(minutes=1))
    listener = broker.arrivals()
    assert listener is not None

    await queue.renew(message, visibility_timeout=timedelta(0))

    async with asyncio.timeout(PATIENCE):
        await listener.wait()
    listener.close()
    await broker.close()
