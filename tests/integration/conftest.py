"""A backend per test: SQLite (a file of its own) or Azure (Azurite, tables and queues of its
own), for in-process apps and for worker processes the test starts and kills."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import pytest

from queued_jobs.app import AzureStorage, JobApp, SqliteStorage, Storage
from queued_jobs.clock import SYSTEM_CLOCK, Clock
from queued_jobs.worker import WorkerSettings
from tests.integration.jobs import build_app
from tests.support.processes import stop_all

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ["sqlite", pytest.param("azure", marks=pytest.mark.azurite)]


@dataclass
class Backend:
    kind: str
    storage: Storage
    env: dict[str, str]
    events: Path
    worker_log: Path

    def app(self, *, clock: Clock = SYSTEM_CLOCK, lease: float = 2.0) -> JobApp:
        return build_app(self.storage, clock=clock, lease=lease)

    def spawn_worker(
        self,
        *,
        lease: float = 2.0,
        grace: float = 5.0,
        concurrency: int = 2,
        app: str = "tests.integration.jobs:app",
    ) -> subprocess.Popen[bytes]:
        """``python -m queued_jobs worker`` on this backend, in a process of its own."""
        env = {**os.environ, **self.env, "QJ_TEST_LEASE": str(lease), "PYTHONPATH": str(ROOT)}
        with self.worker_log.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "queued_jobs", "worker", app,
                 "--grace", str(grace), "--concurrency", str(concurrency)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
            )  # fmt: skip


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    suffix = uuid.uuid4().hex[:10]
    env = {"QJ_TEST_EVENTS": str(tmp_path / "events.log"), "QJ_TEST_QUEUE": f"jobs{suffix}"}
    storage: Storage
    if request.param == "sqlite":
        env["QJ_TEST_SQLITE"] = str(tmp_path / "jobs.db")
        storage = SqliteStorage(env["QJ_TEST_SQLITE"])
    else:
        connection = request.getfixturevalue("azurite").connection_string
        env |= {
            "QJ_TEST_AZURE": connection,
            "QJ_TEST_TABLE": f"jobs{suffix}",
            "QJ_TEST_CONTAINER": f"payloads{suffix}",
        }
        storage = AzureStorage(
            connection, table=env["QJ_TEST_TABLE"], container=env["QJ_TEST_CONTAINER"]
        )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Backend(request.param, storage, env, tmp_path / "events.log", tmp_path / "worker.log")


FAST = WorkerSettings(
    concurrency=4,
    poll_max=timedelta(milliseconds=100),
    shutdown_grace=timedelta(seconds=5),
    sweep_interval=None,
)


@pytest.fixture
def run_worker() -> Callable[..., Awaitable[None]]:
    """``await run_worker(app, until)``: a worker runs in this process until ``until()`` is
    true (checked every 50 ms; 30 s at most), then stops gracefully."""

    async def run(
        app: JobApp,
        until: Callable[[], Awaitable[bool]],
        *,
        settings: WorkerSettings = FAST,
        limit: float = 30.0,
    ) -> None:
        worker = app.worker(settings)
        running = asyncio.create_task(worker.run())
        try:
            async with asyncio.timeout(limit):
                while not await until():
                    if running.done():
                        running.result()
                    await asyncio.sleep(0.05)
        finally:
            worker.stop()
            await running
            await worker.close()

    return run


@pytest.fixture
async def client_of() -> AsyncIterator[Callable[[JobApp], Awaitable[object]]]:
    clients = []

    async def open_client(app: JobApp) -> object:
        client = app.client()
        await client.create_storage()
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.close()


class Spawn(Protocol):
    """``spawn(n)``: ``n`` worker processes on the backend, each running ``concurrency``
    jobs at once."""

    def __call__(self, count: int, concurrency: int = 1) -> list[subprocess.Popen[bytes]]: ...


@contextmanager
def spawning(backend: Backend, *, app: str, lease: float) -> Iterator[Spawn]:
    """Worker processes of ``app`` on ``backend``, all stopped (SIGTERM, then SIGKILL) at
    the end."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(count: int, concurrency: int = 1) -> list[subprocess.Popen[bytes]]:
        made = [
            backend.spawn_worker(lease=lease, concurrency=concurrency, app=app)
            for _ in range(count)
        ]
        started.extend(made)
        return made

    try:
        yield spawn
    finally:
        stop_all(started)
