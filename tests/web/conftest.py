"""The web API served in a process of its own on each backend (SQLite, Azurite), with a
worker process beside it when a test needs jobs to run."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from queued_jobs.client import JobClient
from tests.integration.conftest import Backend, backend  # noqa: F401 (the fixture)
from tests.support.processes import stop_all
from tests.support.web import ApiServer, start_api_server

APP = "tests.integration.jobs:app"


@pytest.fixture
async def api_client(backend: Backend) -> AsyncIterator[JobClient]:  # noqa: F811
    """A client of the backend in this process (its storage created)."""
    client = backend.app().client()
    await client.create_storage()
    yield client
    await client.close()


@pytest.fixture
def api(api_client: JobClient, backend: Backend, tmp_path: Path) -> Iterator[ApiServer]:  # noqa: F811
    """``queued-jobs serve`` on the backend, with API keys for alice, bob, a reader and an
    operator."""
    server = start_api_server(APP, backend.env, tmp_path / "api.log")
    yield server
    server.stop()


@pytest.fixture
def worker(backend: Backend) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:  # noqa: F811
    """``start()`` a worker process on the backend; stopped after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = backend.spawn_worker()
        started.append(process)
        return process

    yield start
    stop_all(started)
